//go:build outage

package main

// TestHAServers runs three server processes (this package's binary) on
// one cqlstore keyspace of the test Cassandra, with backup tasks of three
// simulated clusters every 15 seconds, and SIGKILLs the server that is in
// the middle of a backup. It takes a minute or two of real time, so it
// runs in the separate "outage" phase of scripts/test.sh, after the
// parallel tests.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/internal/testenv"
	"github.com/scyllaops/scyllaops/restapi"
	"github.com/scyllaops/scyllaops/scyllatest"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/cqlstore"
)

const (
	haServers  = 3
	haClusters = 3
	haLeaseTTL = 5 * time.Second
	haSync     = 2 * time.Second
	haCron     = "*/15 * * * * *"
	haLocation = "localstorage:b"
)

// haDB is the test Cassandra (scripts/services.sh starts it and exports
// SCYLLAOPS_CQL_HOSTS and its credentials).
type haDB struct {
	hosts          []string
	user, password string
	keyspace       string
}

func testDB(t *testing.T) haDB {
	t.Helper()
	hosts, user, password := testenv.CQL(t)
	db := haDB{hosts: hosts, user: user, password: password,
		keyspace: fmt.Sprintf("ha_servers_%d_%d", os.Getpid(), time.Now().Unix()%100000)}
	t.Cleanup(func() { dropTestKeyspace(t, db.hosts, db.user, db.password, db.keyspace) })
	return db
}

// config is a server config on db with owner id owner.
func (db haDB) config(owner string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "http: 127.0.0.1:0\nprometheus: '-'\nowner_id: %s\nlease_ttl: %s\nsync_interval: %s\nshutdown_timeout: 30s\n",
		owner, haLeaseTTL, haSync)
	fmt.Fprintf(&b, "logger:\n  level: info\n")
	// Stored upload progress at most 1s old: the test picks its victim
	// by it.
	fmt.Fprintf(&b, "backup:\n  long_polling_timeout_seconds: 1\n")
	fmt.Fprintf(&b, "database:\n  hosts: [%s]\n  user: %q\n  password: %q\n  keyspace: %s\n  replication_factor: 1\n",
		strings.Join(db.hosts, ", "), db.user, db.password, db.keyspace)
	fmt.Fprintf(&b, "  timeout: 20s\n  proto_version: 3\n  disable_initial_host_lookup: true\n")
	return b.String()
}

func (db haDB) open(t *testing.T) *cqlstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	s, err := cqlstore.Open(ctx, cqlstore.Options{Hosts: db.hosts, Username: db.user, Password: db.password, Keyspace: db.keyspace,
		ProtoVersion: 3, DisableInitialHostLookup: true, Timeout: 20 * time.Second, ConnectTimeout: 15 * time.Second})
	if err != nil {
		t.Fatalf("open the servers' store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

type haCluster struct {
	sim  *scyllatest.Cluster
	id   uuid.UUID
	task uuid.UUID
}

func TestHAServers(tt *testing.T) {
	// t repeats its failures after the servers' logs, so that the end of
	// the output (all a CI summary may keep) says what failed.
	t := &recordingT{T: tt}
	bin := buildServer(t.T)
	db := testDB(t.T)
	dir := t.TempDir()
	ctx := t.Context()
	var clusters []*haCluster

	// Start the servers at once, as an orchestrator would: they race to
	// create the keyspace and apply the schema.
	owners := make([]string, haServers)
	cfgs := make([]string, haServers)
	for i := range owners {
		owners[i] = fmt.Sprintf("srv%d", i)
		cfgs[i] = filepath.Join(dir, owners[i]+".yaml")
		if err := os.WriteFile(cfgs[i], []byte(db.config(owners[i])), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	procs := startProcs(t.T, bin, cfgs...)
	byOwner := map[string]*proc{}
	for i, p := range procs {
		byOwner[owners[i]] = p
	}
	defer func() {
		if t.Failed() {
			for _, o := range owners {
				t.Logf("last log lines of %s:\n%s", o, byOwner[o].tail(30))
			}
			t.Logf("failures, again:\n%s", t.failures())
		}
	}()
	st := db.open(t.T)
	defer func() { logRuns(t.T, st, clusters) }()
	api := func(owner string) *restapi.Client {
		c, err := restapi.NewClient("http://"+byOwner[owner].http, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	// Three simulated clusters whose backups upload into one directory
	// bucket at 1 MiB/s per node, with 2 MiB of new data flushed every 5s so each
	// backup has a few seconds of uploading to do.
	openBucket := dirBuckets(t.T, filepath.Join(dir, "buckets"))
	props := json.RawMessage(`{"location":["` + haLocation + `"],"rate_limit":["1"],"keyspace":["data"],"retention":1000}`)
	clusters = make([]*haCluster, haClusters)
	for i := range clusters {
		sim := scyllatest.New(t.T, scyllatest.Options{Listen: true, Topology: scyllatest.Topology3(2), OpenBucket: openBucket,
			Keyspaces: []scyllatest.Keyspace{{Name: "data", Replication: scyllatest.Simple(2),
				Tables: []scyllatest.Table{{Name: "t", SSTables: 2, DataSize: 1 << 20}}}}})
		c := api(owners[i%haServers])
		name := fmt.Sprintf("sim%d", i)
		cid, err := c.CreateCluster(ctx, restapi.Cluster{Name: name, Host: sim.ContactHost(), AuthToken: sim.AuthToken()})
		if err != nil {
			t.Fatal(err)
		}
		tid, err := c.CreateTask(ctx, name, restapi.TaskUpdate{Type: "backup", Name: "often", Enabled: true,
			Schedule: &restapi.Schedule{Cron: haCron}, Properties: props})
		if err != nil {
			t.Fatal(err)
		}
		clusters[i] = &haCluster{sim: sim, id: uuid.MustParse(cid), task: uuid.MustParse(tid)}
	}
	stopWriting := make(chan struct{})
	var writer sync.WaitGroup
	writer.Go(func() {
		for {
			select {
			case <-stopWriting:
				return
			case <-time.After(5 * time.Second):
			}
			for _, c := range clusters {
				for _, n := range c.sim.Nodes() {
					if _, err := c.sim.WriteData(n, "data", "t", 2); err != nil {
						t.Errorf("write data: %v", err)
						return
					}
				}
			}
		}
	})
	defer func() { close(stopWriting); writer.Wait() }()

	sleep := func(d time.Duration) {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
	runs := func(c *haCluster) []*store.Run {
		rs, err := st.ListRuns(ctx, c.task, 0)
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	progress := func(c *haCluster, owner string, run uuid.UUID) restapi.BackupProgress {
		pr, err := api(owner).RunProgress(ctx, fmt.Sprint("sim", clusterIndex(clusters, c)), "backup", c.task.String(), run.String())
		if err != nil {
			t.Fatal(err)
		}
		var bp restapi.BackupProgress
		if err := json.Unmarshal(pr.Progress, &bp); err != nil {
			t.Fatalf("progress of run %s: %v", run, err)
		}
		return bp
	}

	// Kill the owner of a backup that is uploading, well before its end.
	var victim string
	var victimRun uuid.UUID
	for deadline := time.Now().Add(90 * time.Second); victim == ""; sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no backup uploading within 90s")
		}
		for _, c := range clusters {
			rs := runs(c)
			if len(rs) == 0 || rs[0].Status != store.StatusRunning {
				continue
			}
			bp := progress(c, rs[0].Owner, rs[0].ID)
			// Two nodes at 1 MiB/s each, progress at most 1s old: 5 MiB
			// left is over 1.5s, time to
			// kill it mid-upload.
			if bp.Size > 0 && bp.Uploaded > 0 && bp.Size-bp.Uploaded >= 5<<20 {
				victim, victimRun = rs[0].Owner, rs[0].ID
				break
			}
		}
	}
	if err := byOwner[victim].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-byOwner[victim].done
	killed := time.Now()
	var survivors []string
	for _, o := range owners {
		if o != victim {
			survivors = append(survivors, o)
		}
	}

	// Every backup the victim had running, with its fence and snapshot.
	type victimState struct {
		c     *haCluster
		fence int64
		tag   string
	}
	victims := map[uuid.UUID]victimState{}
	for _, c := range clusters {
		for _, r := range runs(c) {
			if r.Status == store.StatusRunning && r.Owner == victim {
				victims[r.ID] = victimState{c: c, fence: r.Fence, tag: progress(c, survivors[0], r.ID).SnapshotTag}
			}
		}
	}
	if _, ok := victims[victimRun]; !ok {
		t.Fatalf("run %s of %s is not RUNNING after the kill", victimRun, victim)
	}
	t.Logf("SIGKILLed %s during backup run %s; it had %d backups running", victim, victimRun, len(victims))

	// The survivors take the victim's runs over and finish them, and keep
	// serving activations.
	var takenOver time.Time
	for deadline := time.Now().Add(2 * time.Minute); takenOver.IsZero(); sleep(500 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the killed server's backups were not finished within 2 minutes")
		}
		done := 0
		for id, v := range victims {
			for _, r := range runs(v.c) {
				// A taking-over server first records the run ABORTED
				// under the dead holder's name, then resumes it.
				if r.ID == id && r.Status.Final() && r.Owner != victim {
					done++
				}
			}
		}
		if done == len(victims) {
			takenOver = time.Now()
		}
	}
	t.Logf("the killed server's backups ended %s after the kill", takenOver.Sub(killed).Round(time.Second))
	for deadline := time.Now().Add(90 * time.Second); ; sleep(time.Second) {
		// Two activations after the takeover, done, for every task.
		late := 0
		for _, c := range clusters {
			n := 0
			for _, r := range runs(c) {
				if r.Activation.After(takenOver) && r.Status == store.StatusDone {
					n++
				}
			}
			if n >= 2 {
				late++
			}
		}
		if late == len(clusters) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d tasks ran two activations after the takeover within 90s", late, len(clusters))
		}
	}

	// Disable the tasks and let the last runs end, then stop the servers.
	for i, c := range clusters {
		name := fmt.Sprint("sim", i)
		cl := api(survivors[0])
		tk, err := cl.GetTask(ctx, name, "backup", c.task.String())
		if err != nil {
			t.Fatal(err)
		}
		upd := restapi.TaskUpdate{Type: "backup", Name: tk.Name, Enabled: false, Schedule: &tk.Schedule, Properties: tk.Properties}
		if _, err := cl.UpdateTask(ctx, name, "backup", c.task.String(), upd); err != nil {
			t.Fatal(err)
		}
	}
	sleep(2 * haSync)
	for deadline := time.Now().Add(time.Minute); ; sleep(500 * time.Millisecond) {
		running := 0
		for _, c := range clusters {
			for _, r := range runs(c) {
				if !r.Status.Final() {
					running++
				}
			}
		}
		if running == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d backups still running a minute after the tasks were disabled", running)
		}
	}
	// Each activation of each task has exactly one run, and every run is
	// DONE.
	total, byServer := 0, map[string]int{}
	for i, c := range clusters {
		rs := runs(c)
		acts := map[time.Time]int{}
		for _, r := range rs {
			acts[r.Activation]++
			byServer[r.Owner]++
			if r.Status != store.StatusDone {
				t.Errorf("sim%d: run %s (activation %s) ended %s: %s", i, r.ID, r.Activation.Format(time.TimeOnly), r.Status, r.Cause)
			}
		}
		for a, n := range acts {
			if n != 1 {
				t.Errorf("sim%d: activation %s has %d runs, want 1", i, a.Format(time.RFC3339), n)
			}
		}
		total += len(rs)
	}

	// The victim's runs were finished by a survivor, with a larger fence
	// and the snapshot the victim had started.
	for id, v := range victims {
		var r *store.Run
		for _, x := range runs(v.c) {
			if x.ID == id {
				r = x
			}
		}
		if r == nil || r.Status != store.StatusDone || r.Owner == victim || r.Fence <= v.fence {
			t.Errorf("run %s of the killed %s is stored as %+v; want DONE by a survivor with a fence > %d", id, victim, r, v.fence)
			continue
		}
		if tag := progress(v.c, r.Owner, id).SnapshotTag; tag != v.tag {
			t.Errorf("run %s: snapshot %s after the takeover, %s before: the run was restarted, not continued", id, tag, v.tag)
		}
	}

	// Each run started once (one RUNNING event), except the victim's,
	// started again by a survivor; and the bucket holds exactly one
	// snapshot per run.
	for i, c := range clusters {
		evs, err := st.QueryEvents(ctx, store.EventQuery{ClusterID: c.id, TaskID: c.task})
		if err != nil {
			t.Fatal(err)
		}
		starts := map[uuid.UUID][]string{}
		for _, e := range evs {
			if e.Kind == "run_status" && e.Attributes["status"] == string(store.StatusRunning) {
				starts[e.RunID] = append(starts[e.RunID], e.Attributes["owner"])
			}
		}
		runTags := map[string]uuid.UUID{}
		for _, r := range runs(c) {
			ss := starts[r.ID]
			if _, ok := victims[r.ID]; ok {
				if len(ss) != 2 || ss[0] == ss[1] {
					t.Errorf("sim%d: victim run %s started by %v; want the victim, then a survivor", i, r.ID, ss)
				}
			} else if len(ss) != 1 {
				t.Errorf("sim%d: run %s started %d times (%v), want once", i, r.ID, len(ss), ss)
			}
			tag := progress(c, survivors[0], r.ID).SnapshotTag
			if prev, dup := runTags[tag]; dup || tag == "" {
				t.Errorf("sim%d: runs %s and %s have snapshot tag %q", i, prev, r.ID, tag)
			}
			runTags[tag] = r.ID
		}
		bucketTags := map[string]bool{}
		items, err := api(survivors[0]).ListBackups(ctx, fmt.Sprint("sim", i), restapi.ListBackupsOptions{Locations: []string{haLocation}})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if it.ClusterID != c.id.String() {
				continue
			}
			for _, si := range it.SnapshotInfo {
				bucketTags[si.SnapshotTag] = true
			}
		}
		if len(bucketTags) != len(runTags) {
			t.Errorf("sim%d: %d snapshots in the bucket, %d runs", i, len(bucketTags), len(runTags))
		}
		for tag, id := range runTags {
			if !bucketTags[tag] {
				t.Errorf("sim%d: snapshot %s of run %s is not in the bucket", i, tag, id)
			}
		}
	}
	// The survivors stop gracefully.
	for _, o := range survivors {
		if err := byOwner[o].cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range survivors {
		p := byOwner[o]
		select {
		case <-p.done:
			if err := p.cmd.Wait(); err != nil {
				t.Errorf("%s exited with %v after SIGTERM, want 0", o, err)
			}
		case <-time.After(time.Minute):
			t.Errorf("%s did not exit within a minute of SIGTERM", o)
		}
	}

	t.Logf("%d backup runs of %d tasks; by server: %v", total, len(clusters), byServer)
}

// recordingT is a testing.T that keeps its failure messages.
type recordingT struct {
	*testing.T
	mu   sync.Mutex
	msgs []string
}

func (t *recordingT) record(msg string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.msgs = append(t.msgs, msg)
	return msg
}

func (t *recordingT) failures() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.msgs, "\n")
}

func (t *recordingT) Errorf(format string, a ...any) {
	t.Helper()
	t.Error(t.record(fmt.Sprintf(format, a...)))
}

func (t *recordingT) Fatalf(format string, a ...any) {
	t.Helper()
	t.T.Fatal(t.record(fmt.Sprintf(format, a...)))
}

func (t *recordingT) Fatal(a ...any) {
	t.Helper()
	t.T.Fatal(t.record(fmt.Sprint(a...)))
}

// logRuns logs the runs of the tasks, oldest first.
func logRuns(t *testing.T, st store.Store, clusters []*haCluster) {
	for i, c := range clusters {
		rs, err := st.ListRuns(t.Context(), c.task, 0)
		if err != nil {
			t.Logf("sim%d: %v", i, err)
			continue
		}
		for j := len(rs) - 1; j >= 0; j-- {
			r := rs[j]
			t.Logf("sim%d run %s activation %s start %s end %s (%s) %s owner %s fence %d %s", i, r.ID,
				r.Activation.Format("15:04:05"), r.StartTime.Format("15:04:05.0"), r.EndTime.Format("15:04:05.0"),
				r.EndTime.Sub(r.StartTime).Round(100*time.Millisecond), r.Status, r.Owner, r.Fence, r.Cause)
		}
	}
}

func clusterIndex(cs []*haCluster, c *haCluster) int {
	for i, x := range cs {
		if x == c {
			return i
		}
	}
	return -1
}
