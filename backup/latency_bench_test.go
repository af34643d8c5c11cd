package backup_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/backup"
	"github.com/scyllaops/scyllaops/internal/testenv"
	"github.com/scyllaops/scyllaops/scyllatest"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/cqlstore"
	"github.com/scyllaops/scyllaops/store/memstore"
)

// benchStore is what the benchmark needs of a store: the service's Store
// and the records a run needs.
type benchStore interface {
	backup.Store
	CreateCluster(ctx context.Context, c *store.Cluster) error
	CreateTask(ctx context.Context, t *store.Task) error
	CreateRun(ctx context.Context, r *store.Run) error
}

// stageStore wraps a store (memstore or cqlstore), records when the run
// row changes stage and counts the store calls of a run. delay, when set,
// is added to every call the backup service makes, a stand-in for
// cqlstore's LWT round trips (Cassandra 2.1 here: a few ms each).
type stageStore struct {
	benchStore
	delay time.Duration

	mu     sync.Mutex
	marks  []stageMark
	writes int
	reads  int
	// stageWrites counts the writes by the stage the run row was in,
	// stageWriteTime sums their durations (writes of different hosts
	// overlap, so the sum can exceed the stage's wall time).
	stageWrites    map[string]int
	stageWriteTime map[string]time.Duration
}

type stageMark struct {
	stage string
	at    time.Time
}

// sleep counts a call and adds the delay; a write returns the stage it
// is counted in, for timeWrite.
func (s *stageStore) sleep(write bool) string {
	s.mu.Lock()
	stage := ""
	if write {
		s.writes++
		stage = s.stage()
		if s.stageWrites == nil {
			s.stageWrites = map[string]int{}
		}
		s.stageWrites[stage]++
	} else {
		s.reads++
	}
	s.mu.Unlock()
	if s.delay > 0 {
		time.Sleep(s.delay)
	}
	return stage
}

// stage is the stage the run row is in ("plan" before the first row);
// s.mu held.
func (s *stageStore) stage() string {
	if n := len(s.marks); n > 0 {
		return s.marks[n-1].stage
	}
	return "plan"
}

// timeWrite adds the time since begin to the write time of stage.
func (s *stageStore) timeWrite(stage string, begin time.Time) {
	d := time.Since(begin)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stageWriteTime == nil {
		s.stageWriteTime = map[string]time.Duration{}
	}
	s.stageWriteTime[stage] += d
}

func (s *stageStore) PutProgress(ctx context.Context, p *store.Progress) error {
	return s.putProgress(ctx, []*store.Progress{p}, func() error { return s.benchStore.PutProgress(ctx, p) })
}

// PutProgressBatch counts one write per call: one transaction on
// cqlstore.
func (s *stageStore) PutProgressBatch(ctx context.Context, ps []*store.Progress) error {
	return s.putProgress(ctx, ps, func() error { return store.PutProgressBatch(ctx, s.benchStore, ps) })
}

// putProgress counts and times one write of ps and marks the run row's
// stage if ps holds it.
func (s *stageStore) putProgress(_ context.Context, ps []*store.Progress, put func() error) error {
	begin := time.Now()
	stage := s.sleep(true)
	err := put()
	s.timeWrite(stage, begin)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if p.Key != "run" {
			continue
		}
		var rr struct {
			Stage string `json:"stage"`
		}
		if json.Unmarshal(p.Data, &rr) == nil {
			s.mu.Lock()
			if n := len(s.marks); n == 0 || s.marks[n-1].stage != rr.Stage {
				s.marks = append(s.marks, stageMark{rr.Stage, time.Now()})
			}
			s.mu.Unlock()
		}
	}
	return nil
}

func (s *stageStore) ListProgress(ctx context.Context, runID uuid.UUID) ([]*store.Progress, error) {
	s.sleep(false)
	return s.benchStore.ListProgress(ctx, runID)
}

func (s *stageStore) ListRuns(ctx context.Context, taskID uuid.UUID, limit int) ([]*store.Run, error) {
	s.sleep(false)
	return s.benchStore.ListRuns(ctx, taskID, limit)
}

func (s *stageStore) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (store.Lease, error) {
	defer s.timeWrite(s.sleep(true), time.Now())
	return s.benchStore.AcquireLease(ctx, name, owner, ttl)
}

func (s *stageStore) RenewLease(ctx context.Context, l store.Lease, ttl time.Duration) (store.Lease, error) {
	defer s.timeWrite(s.sleep(true), time.Now())
	return s.benchStore.RenewLease(ctx, l, ttl)
}

func (s *stageStore) ReleaseLease(ctx context.Context, l store.Lease) error {
	defer s.timeWrite(s.sleep(true), time.Now())
	return s.benchStore.ReleaseLease(ctx, l)
}

// fixedSchema is a SchemaDumper answering at once, so the SCHEMA stage
// measures the upload of the schema file, not a CQL round trip.
type fixedSchema struct{}

func (fixedSchema) DescribeSchema(context.Context, uuid.UUID) ([]backup.SchemaRow, error) {
	return []backup.SchemaRow{{Keyspace: "ks", Type: "keyspace", Name: "ks", CQLStmt: "CREATE KEYSPACE ks"}}, nil
}

// smallBackupCluster is the shape the lead measured: 2 nodes with 3–4 MiB
// of user data each, plus the system tables. "even" spreads it over 3
// tables (4 sstables × 256 KiB Data.db each); "skewed" puts 4 MiB in one
// table (4 × 1 MiB) next to two tiny ones, as a typical small cluster.
func smallBackupCluster(shape string) scyllatest.Options {
	var tables []scyllatest.Table
	switch shape {
	case "even":
		for _, n := range []string{"t1", "t2", "t3"} {
			tables = append(tables, scyllatest.Table{Name: n, SSTables: 4, DataSize: 256 << 10})
		}
	case "skewed":
		tables = []scyllatest.Table{{Name: "big", SSTables: 4, DataSize: 1 << 20},
			{Name: "tiny1", SSTables: 1}, {Name: "tiny2", SSTables: 1}}
	default:
		panic("unknown shape " + shape)
	}
	return scyllatest.Options{
		Topology:  scyllatest.Topology3(2),
		Keyspaces: []scyllatest.Keyspace{{Name: "ks", Replication: scyllatest.Simple(2), Tables: tables}},
	}
}

// smallRun is what runSmallBackup measured.
type smallRun struct {
	// stages maps a stage name to its wall time; "total" is the whole
	// Run, "plan" the time before the first progress row.
	stages         map[string]time.Duration
	writes, reads  int
	stageWrites    map[string]int
	stageWriteTime map[string]time.Duration
}

// runSmallBackup runs one backup of a fresh cluster and returns the wall
// time of every stage and the store calls it made.
func runSmallBackup(b *testing.B, shape string, listen bool, props string, base benchStore, delay time.Duration) smallRun {
	b.Helper()
	co := smallBackupCluster(shape)
	co.Listen = listen
	return runBackup(b, co, props, base, delay)
}

// runBackup runs one backup of a fresh cluster of shape co and returns
// the wall time of every stage and the store calls it made.
func runBackup(b *testing.B, co scyllatest.Options, props string, base benchStore, delay time.Duration) smallRun {
	b.Helper()
	root := b.TempDir()
	if err := os.Mkdir(filepath.Join(root, "bucket"), 0o755); err != nil {
		b.Fatal(err)
	}
	co.OpenBucket = localBuckets(root)
	co.DataDir = filepath.Join(root, "data")
	co.Logger = slog.New(slog.DiscardHandler)
	c, err := scyllatest.Start(co)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = c.Close() }()

	st := &stageStore{benchStore: base}
	// The service's defaults (long poll 10s, lease wait 1s) on purpose:
	// fixed waits are what this benchmark looks for.
	svc, err := backup.New(st, resolver{c}, backup.Options{Schema: fixedSchema{}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	clusterID, taskID := uuid.New(), uuid.New()
	if err := st.CreateCluster(ctx, &store.Cluster{ID: clusterID, Name: "c-" + clusterID.String(), Host: c.ContactHost()}); err != nil {
		b.Fatal(err)
	}
	if err := st.CreateTask(ctx, &store.Task{ClusterID: clusterID, ID: taskID, Type: "backup", Enabled: true}); err != nil {
		b.Fatal(err)
	}
	runID, _ := uuid.NewUUID()
	if err := st.CreateRun(ctx, &store.Run{ClusterID: clusterID, TaskID: taskID, ID: runID, Type: "backup", Status: store.StatusRunning, StartTime: time.Now()}); err != nil {
		b.Fatal(err)
	}
	st.delay = delay

	b.StartTimer()
	begin := time.Now()
	err = svc.Run(ctx, clusterID, taskID, runID, json.RawMessage(props))
	end := time.Now()
	b.StopTimer()
	if err != nil {
		b.Fatalf("backup: %v", err)
	}
	p, err := svc.RunProgress(ctx, clusterID, taskID, runID)
	if err != nil {
		b.Fatal(err)
	}
	if p.Stage != string(backup.StageDone) || p.Size == 0 || p.Uploaded != p.Size {
		b.Fatalf("run ended at stage %s, uploaded %d of %d bytes", p.Stage, p.Uploaded, p.Size)
	}

	st.mu.Lock()
	defer st.mu.Unlock()
	out := map[string]time.Duration{"total": end.Sub(begin)}
	// A stage lasts from its mark to the next one; "plan" is the time
	// before the first mark (resume check, plan, location check).
	if len(st.marks) > 0 {
		out["plan"] = st.marks[0].at.Sub(begin)
	}
	for i, m := range st.marks {
		next := end
		if i+1 < len(st.marks) {
			next = st.marks[i+1].at
		}
		out[m.stage] += next.Sub(m.at)
	}
	return smallRun{stages: out, writes: st.writes, reads: st.reads, stageWrites: st.stageWrites, stageWriteTime: st.stageWriteTime}
}

// BenchmarkSmallBackup runs one backup of a 2-node cluster with ~3–4 MiB
// per node (two data shapes) and reports every stage's wall time (ms/op
// per stage), with and without rate_limit 1 MiB/s, over the in-process
// agent transport and over TCP+TLS (Listen), on memstore, on memstore with
// 3ms per store call, and on cqlstore (the Cassandra of
// scripts/services.sh; skipped unless SCYLLAOPS_CQL_HOSTS is set). With -v
// it logs each run's breakdown and store writes by stage. The service
// runs with its defaults (10s long poll, 1s lease wait): a fixed wait
// would show here. For example:
//
//	source ~/.cache/scyllaops-ci/env.sh
//	go test -run '^$' -bench 'SmallBackup/skewed/tcp/rate=1' -benchtime 3x -v ./backup/
func BenchmarkSmallBackup(b *testing.B) {
	type variant struct {
		name   string
		shape  string
		listen bool
		props  string
		store  string // "mem", "mem+3ms" or "cql"
	}
	var vs []variant
	for _, shape := range []string{"even", "skewed"} {
		for _, listen := range []bool{false, true} {
			for _, rate := range []string{"0", "1"} {
				for _, st := range []string{"mem", "mem+3ms", "cql"} {
					tr := "inproc"
					if listen {
						tr = "tcp"
					}
					vs = append(vs, variant{
						name:   fmt.Sprintf("%s/%s/rate=%s/store=%s", shape, tr, rate, st),
						shape:  shape,
						listen: listen,
						props:  `{"location":["localstorage:bucket"],"rate_limit":["` + rate + `"]}`,
						store:  st,
					})
				}
			}
		}
	}
	for _, v := range vs {
		b.Run(v.name, func(b *testing.B) {
			sum := map[string]time.Duration{}
			writes, reads := 0, 0
			b.StopTimer()
			var (
				base  benchStore
				delay time.Duration
			)
			switch v.store {
			case "cql":
				base = openBenchCQL(b)
			case "mem+3ms":
				delay = 3 * time.Millisecond
				fallthrough
			default:
				ms := memstore.New()
				b.Cleanup(func() { _ = ms.Close() })
				base = ms
			}
			for range b.N {
				res := runSmallBackup(b, v.shape, v.listen, v.props, base, delay)
				for k, x := range res.stages {
					sum[k] += x
				}
				writes += res.writes
				reads += res.reads
				b.Logf("%s", formatStages(res.stages))
				b.Logf("store writes by stage: %v", res.stageWrites)
			}
			for k, x := range sum {
				b.ReportMetric(float64(x.Milliseconds())/float64(b.N), k+"-ms/op")
			}
			b.ReportMetric(float64(writes)/float64(b.N), "store-writes/op")
			b.ReportMetric(float64(reads)/float64(b.N), "store-reads/op")
		})
	}
}

func formatStages(d map[string]time.Duration) string {
	var sb strings.Builder
	for _, k := range slices.Sorted(maps.Keys(d)) {
		fmt.Fprintf(&sb, "%s=%s ", k, d[k].Round(time.Millisecond))
	}
	return strings.TrimSpace(sb.String())
}

// openBenchCQL opens a cqlstore on a keyspace of its own, dropped when
// the benchmark ends; it skips without SCYLLAOPS_CQL_HOSTS.
func openBenchCQL(b *testing.B) benchStore {
	b.Helper()
	hosts, user, password := testenv.CQL(b)
	o := cqlstore.Options{Hosts: hosts, Username: user, Password: password,
		Keyspace: fmt.Sprintf("bench_backup_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9),
		// Cassandra 2.1: protocol v3 at most, no host discovery.
		ProtoVersion: 3, DisableInitialHostLookup: true,
		Timeout: 20 * time.Second, ConnectTimeout: 15 * time.Second, Logger: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithTimeout(b.Context(), 3*time.Minute)
	defer cancel()
	st, err := cqlstore.Open(ctx, o)
	if err != nil {
		b.Fatalf("cqlstore: %v", err)
	}
	b.Cleanup(func() {
		_ = st.Close()
		c := gocql.NewCluster(o.Hosts...)
		c.ProtoVersion, c.DisableInitialHostLookup, c.Timeout = 3, true, 30*time.Second
		if user != "" {
			c.Authenticator = gocql.PasswordAuthenticator{Username: user, Password: password}
		}
		s, err := c.CreateSession()
		if err != nil {
			b.Logf("drop keyspace %s: %v", o.Keyspace, err)
			return
		}
		defer s.Close()
		if err := s.Query(fmt.Sprintf("DROP KEYSPACE IF EXISTS %q", o.Keyspace)).Exec(); err != nil {
			b.Logf("drop keyspace %s: %v", o.Keyspace, err)
		}
	})
	return st
}

// BenchmarkWideBackup backs up 200 small tables on 3 nodes (RF 3, no
// rate limit, in-process transport) on memstore and on cqlstore (skipped
// without SCYLLAOPS_CQL_HOSTS), with the progress writer (writer=on) and
// with every row written at once (writer=off): 600 table rows, the shape
// where per-table progress writes, not data, decide the run time on a
// CQL store. It
// reports the medians over b.N runs of the stage wall times, of the
// store writes per stage and of their summed time (writes of different
// hosts overlap, so that sum can exceed the wall time). For example:
//
//	source ~/.cache/scyllaops-ci/env.sh
//	go test -run '^$' -bench 'WideBackup' -benchtime 3x -v ./backup/
func BenchmarkWideBackup(b *testing.B) {
	const nTables, nNodes = 200, 3
	tables := make([]scyllatest.Table, nTables)
	for i := range tables {
		tables[i] = scyllatest.Table{Name: fmt.Sprintf("t%03d", i), SSTables: 1, DataSize: 1 << 10, IndexSize: 64}
	}
	props := `{"location":["localstorage:bucket"],"rate_limit":["0"],"keyspace":["ks"]}`
	for _, v := range []struct{ store, writer string }{{"mem", "off"}, {"mem", "on"}, {"cql", "off"}, {"cql", "on"}} {
		stName := v.store
		b.Run("store="+v.store+"/writer="+v.writer, func(b *testing.B) {
			b.StopTimer()
			prev := backup.SetProgressWriter(v.writer == "on")
			defer backup.SetProgressWriter(prev)
			var base benchStore
			if stName == "cql" {
				base = openBenchCQL(b)
			} else {
				ms := memstore.New()
				b.Cleanup(func() { _ = ms.Close() })
				base = ms
			}
			var runs []smallRun
			for range b.N {
				co := scyllatest.Options{
					Topology:  scyllatest.Topology3(nNodes),
					Keyspaces: []scyllatest.Keyspace{{Name: "ks", Replication: scyllatest.Simple(nNodes), Tables: tables}},
				}
				res := runBackup(b, co, props, base, 0)
				runs = append(runs, res)
				b.Logf("%s", formatStages(res.stages))
				b.Logf("store writes by stage: %v; their summed time: %s", res.stageWrites, formatStages(res.stageWriteTime))
			}
			med := medianRun(runs)
			b.Logf("median: %s", formatStages(med.stages))
			b.Logf("median store writes by stage: %v (total %d); summed write time: %s",
				med.stageWrites, med.writes, formatStages(med.stageWriteTime))
			for k, x := range med.stages {
				b.ReportMetric(float64(x.Milliseconds()), k+"-ms/op")
			}
			b.ReportMetric(float64(med.writes), "store-writes/op")
		})
	}
}

// medianRun is the per-key median of runs (the upper median for an even
// count).
func medianRun(runs []smallRun) smallRun {
	med := func(xs []int64) int64 {
		sort.Slice(xs, func(i, j int) bool { return xs[i] < xs[j] })
		return xs[len(xs)/2]
	}
	durs := func(get func(smallRun) map[string]time.Duration) map[string]time.Duration {
		keys := map[string]bool{}
		for _, r := range runs {
			for k := range get(r) {
				keys[k] = true
			}
		}
		out := map[string]time.Duration{}
		for k := range keys {
			var xs []int64
			for _, r := range runs {
				xs = append(xs, int64(get(r)[k]))
			}
			out[k] = time.Duration(med(xs))
		}
		return out
	}
	out := smallRun{
		stages:         durs(func(r smallRun) map[string]time.Duration { return r.stages }),
		stageWriteTime: durs(func(r smallRun) map[string]time.Duration { return r.stageWriteTime }),
		stageWrites:    map[string]int{},
	}
	counts := durs(func(r smallRun) map[string]time.Duration {
		m := map[string]time.Duration{}
		for k, n := range r.stageWrites {
			m[k] = time.Duration(n)
		}
		return m
	})
	for k, n := range counts {
		out.stageWrites[k] = int(n)
	}
	var ws []int64
	for _, r := range runs {
		ws = append(ws, int64(r.writes))
	}
	out.writes = int(med(ws))
	return out
}

// BenchmarkCQLPutProgress writes 600 progress rows of one run on cqlstore
// with 1, 3 and 12 writers at once, one row per PutProgress (batch=1) or
// up to 32 rows per PutProgressBatch (batch=32): all rows of a run share
// a partition, so this shows whether concurrent lightweight transactions
// help there, and what a conditional batch costs against single rows.
// ms/write is per row.
func BenchmarkCQLPutProgress(b *testing.B) {
	for _, v := range []struct{ par, batch int }{{1, 1}, {3, 1}, {12, 1}, {1, 32}, {3, 32}, {8, 32}} {
		b.Run(fmt.Sprintf("writers=%d/batch=%d", v.par, v.batch), func(b *testing.B) {
			st := openBenchCQL(b)
			ctx := b.Context()
			clusterID, taskID := uuid.New(), uuid.New()
			if err := st.CreateCluster(ctx, &store.Cluster{ID: clusterID, Name: "c-" + clusterID.String(), Host: "127.0.0.1"}); err != nil {
				b.Fatal(err)
			}
			if err := st.CreateTask(ctx, &store.Task{ClusterID: clusterID, ID: taskID, Type: "backup", Enabled: true}); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				runID, _ := uuid.NewUUID()
				if err := st.CreateRun(ctx, &store.Run{ClusterID: clusterID, TaskID: taskID, ID: runID, Type: "backup", Status: store.StatusRunning, StartTime: time.Now()}); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				batches := make(chan []*store.Progress)
				var wg sync.WaitGroup
				for range v.par {
					wg.Go(func() {
						for ps := range batches {
							var err error
							if len(ps) == 1 {
								err = st.PutProgress(ctx, ps[0])
							} else {
								err = store.PutProgressBatch(ctx, st, ps)
							}
							if err != nil {
								b.Error(err)
							}
						}
					})
				}
				for i := 0; i < 600; i += v.batch {
					var ps []*store.Progress
					for j := i; j < min(i+v.batch, 600); j++ {
						ps = append(ps, &store.Progress{ClusterID: clusterID, TaskID: taskID, RunID: runID,
							Key: fmt.Sprintf("table/h/ks/t%03d", j), Data: []byte(`{}`), UpdatedAt: time.Now()})
					}
					batches <- ps
				}
				close(batches)
				wg.Wait()
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N)/600, "ms/write")
		})
	}
}
