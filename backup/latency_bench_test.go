package backup_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
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
	// stageWrites counts the writes by the stage the run row was in.
	stageWrites map[string]int
}

type stageMark struct {
	stage string
	at    time.Time
}

func (s *stageStore) sleep(write bool) {
	s.mu.Lock()
	if write {
		s.writes++
		stage := "plan"
		if n := len(s.marks); n > 0 {
			stage = s.marks[n-1].stage
		}
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
}

func (s *stageStore) PutProgress(ctx context.Context, p *store.Progress) error {
	s.sleep(true)
	if err := s.benchStore.PutProgress(ctx, p); err != nil {
		return err
	}
	if p.Key == "run" {
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
	s.sleep(true)
	return s.benchStore.AcquireLease(ctx, name, owner, ttl)
}

func (s *stageStore) RenewLease(ctx context.Context, l store.Lease, ttl time.Duration) (store.Lease, error) {
	s.sleep(true)
	return s.benchStore.RenewLease(ctx, l, ttl)
}

func (s *stageStore) ReleaseLease(ctx context.Context, l store.Lease) error {
	s.sleep(true)
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
	stages        map[string]time.Duration
	writes, reads int
	stageWrites   map[string]int
}

// runSmallBackup runs one backup of a fresh cluster and returns the wall
// time of every stage and the store calls it made.
func runSmallBackup(b *testing.B, shape string, listen bool, props string, base benchStore, delay time.Duration) smallRun {
	b.Helper()
	root := b.TempDir()
	if err := os.Mkdir(filepath.Join(root, "bucket"), 0o755); err != nil {
		b.Fatal(err)
	}
	co := smallBackupCluster(shape)
	co.Listen = listen
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
	return smallRun{stages: out, writes: st.writes, reads: st.reads, stageWrites: st.stageWrites}
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
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for _, k := range keys {
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
