package scyllaops_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/restore"
	"github.com/scyllaops/scyllaops/scyllatest"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/boltstore"
)

// TestRestoreResumesAfterManagerSIGKILL restores in a child Manager
// process that is killed with SIGKILL mid-download; a second process on
// the same bolt file takes the run over and is killed mid-load (while a
// node is loading a batch); a third one finishes the run. The run ends
// DONE, the agents were asked to download each sstable file once, each
// sstable of the snapshot was loaded once and landed on its replicas.
func TestRestoreResumesAfterManagerSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes and a listening simulated cluster")
	}
	ctx := t.Context()
	e := &restoreEnv{buckets: t.TempDir()}
	if err := os.Mkdir(filepath.Join(e.buckets, "b1"), 0o755); err != nil {
		t.Fatal(err)
	}
	topo := []scyllatest.DC{{Name: "dc1", Racks: []scyllatest.Rack{{Name: "r1", Nodes: 3}}}}
	tables := []scyllatest.Table{{Name: "t1", SSTables: 4, DataSize: 384 << 10}, {Name: "t2", SSTables: 4, DataSize: 384 << 10}}
	e.src = scyllatest.New(t, scyllatest.Options{OpenBucket: e.openBucket, TokensPerNode: 8, Topology: topo,
		Keyspaces: []scyllatest.Keyspace{{Name: "ks", Replication: scyllatest.Simple(2), Tables: tables}}})
	e.dst = scyllatest.New(t, scyllatest.Options{Listen: true, OpenBucket: e.openBucket, TokensPerNode: 8, Seed: 2, Topology: topo,
		Keyspaces: []scyllatest.Keyspace{{Name: "ks", Replication: scyllatest.Simple(2), Tables: []scyllatest.Table{{Name: "t1"}, {Name: "t2"}}}}})
	e.ms, e.cs = managerOn(t, e.src, "src")
	e.tag = e.backup(t)
	want := e.bucketDataCRCs(t)

	db := filepath.Join(t.TempDir(), "state.db")
	st, err := boltstore.Open(ctx, db, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := scyllaops.New(st, nil, killTestOptions("setup"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := m.CreateCluster(ctx, scyllaops.Cluster{Name: "dst", Host: e.dst.ContactHost(), AuthToken: e.dst.AuthToken()})
	if err != nil {
		t.Fatal(err)
	}
	// 1 MiB/s per node, one sstable at a time: the download takes seconds.
	props := `{"location":["localstorage:b1"],"snapshot_tag":"` + e.tag + `","restore_tables":true,"batch_size":1,"transfers":1,"rate_limit":["1"]}`
	task, err := m.CreateTask(ctx, store.Task{ClusterID: c.ID, Type: "restore", Name: "r", Enabled: true,
		Schedule: store.Schedule{Cron: "0 3 1 1 *"}, Properties: []byte(props)})
	if err != nil {
		t.Fatal(err)
	}
	_ = m.Close()
	_ = st.Close()

	// killWhen starts a child and SIGKILLs it once cond holds.
	killWhen := func(a killChildArgs, what string, cond func() bool) {
		t.Helper()
		cmd := startKillChild(t, a)
		deadline := time.Now().Add(90 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				t.Fatalf("the child never got %s within 90s (downloads %d, loads %d)", what, len(e.dst.Downloads()), len(e.dst.Loads()))
			}
			time.Sleep(5 * time.Millisecond)
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
	}
	args := killChildArgs{DB: db, Cluster: c.ID.String(), Task: task.ID.String()}

	// 1. Mid-download: some sstables asked for, nothing loaded yet.
	killWhen(args, "mid-download", func() bool {
		return len(e.dst.Downloads()) >= 4 && len(e.dst.Loads()) == 0 && e.dst.LoadsInProgress() == 0
	})
	dl1, loads1 := len(e.dst.Downloads()), len(e.dst.Loads())
	if dl1 == 0 || dl1 >= len(want) {
		t.Fatalf("first kill after %d of %d sstable downloads: not mid-download", dl1, len(want))
	}

	// 2. Mid-load: a takeover process killed while a node is loading a
	// batch (a slow disk makes loads last), after some loads finished.
	for _, n := range e.dst.Nodes() {
		e.dst.SlowDisk(n, 1<<20)
	}
	args.Takeover = true
	killWhen(args, "mid-load", func() bool { return e.dst.LoadsInProgress() > 0 && len(e.dst.Loads()) > loads1 })
	loads2 := len(e.dst.LoadedSSTables())
	for _, n := range e.dst.Nodes() {
		e.dst.SlowDisk(n, 0) // the load the dead process started goes on
	}
	if loads2 == 0 || loads2 >= len(want) {
		t.Fatalf("second kill after %d of %d sstables loaded: not mid-load", loads2, len(want))
	}

	// 3. A last Manager on the same file takes the run over and ends it.
	m, run := survivor(ctx, t, db, c.ID, task.ID)
	if run.Status != store.StatusDone {
		t.Fatalf("run after the takeovers: %s (%s)", run.Status, run.Cause)
	}
	t.Logf("killed after %d downloads, then after %d sstables loaded; %d downloads in all", dl1, loads2, len(e.dst.Downloads()))

	// Each file of each sstable was asked for once.
	// Each file of each sstable was downloaded by one agent job (a
	// resumed run's call joined to the job the dead one started is not
	// another download).
	jobs := map[string]map[int64]bool{}
	dataFiles := 0
	for _, d := range e.dst.Downloads() {
		for _, f := range d.Files {
			k := d.Host + " " + d.Src + "/" + f
			if jobs[k] == nil {
				jobs[k] = map[int64]bool{}
				if strings.HasSuffix(f, "-Data.db") {
					dataFiles++
				}
			}
			id := d.JobID
			if id == 0 { // a synchronous copy: a download of its own
				id = -int64(len(jobs[k]) + 1)
			}
			if jobs[k][id] {
				continue
			}
			jobs[k][id] = true
			if len(jobs[k]) == 2 {
				t.Errorf("%s downloaded again", k)
			}
		}
	}
	if dataFiles != len(want) {
		t.Errorf("%d Data.db files downloaded, want the snapshot's %d", dataFiles, len(want))
	}
	// Each sstable of the snapshot was loaded once, on its replicas.
	recs := e.dst.LoadedSSTables()
	if d := cmp.Diff(want, loadedCRCs(recs)); d != "" {
		t.Fatalf("loaded sstables (-snapshot +loaded):\n%s", d)
	}
	checkLanded(t, e.dst, recs)
	p := restoreProgress(t, m, c.ID, task.ID)
	if p.Stage != restore.StageDone || p.Size == 0 || p.Restored != p.Size {
		t.Fatalf("progress: stage %s size %d restored %d", p.Stage, p.Size, p.Restored)
	}
}
