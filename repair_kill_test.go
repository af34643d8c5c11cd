package scyllaops_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/scyllatest"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/boltstore"
)

// TestRepairResumesAfterManagerSIGKILL kills a Manager process with
// SIGKILL in the middle of a repair. A new Manager on the same bolt file
// takes the run over after the lease TTL and finishes it (DONE), every
// range of every table repaired, and no range repaired twice except those
// of the jobs that were running on the nodes when the Manager died.
func TestRepairResumesAfterManagerSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process and a listening simulated cluster")
	}
	ctx := t.Context()
	sim := scyllatest.New(t, scyllatest.Options{
		Listen: true, TokensPerNode: 16, RepairRangeDelay: 20 * time.Millisecond,
		Keyspaces: []scyllatest.Keyspace{{Name: "ks", Replication: scyllatest.Simple(2),
			Tables: []scyllatest.Table{{Name: "t1", SSTables: 1}, {Name: "t2", SSTables: 1}}}},
	})
	db := filepath.Join(t.TempDir(), "state.db")
	st, err := boltstore.Open(ctx, db, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := scyllaops.New(st, nil, killTestOptions("setup"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := m.CreateCluster(ctx, scyllaops.Cluster{Name: "c", Host: sim.ContactHost(), AuthToken: sim.AuthToken(), WithoutRepair: true})
	if err != nil {
		t.Fatal(err)
	}
	props := json.RawMessage(`{"keyspace":["ks"],"small_table_threshold":"1B","intensity":1}`)
	task, err := m.CreateTask(ctx, store.Task{ClusterID: c.ID, Type: "repair", Name: "r", Enabled: true,
		Schedule: store.Schedule{Cron: "0 3 1 1 *"}, Properties: props})
	if err != nil {
		t.Fatal(err)
	}
	_ = m.Close()
	_ = st.Close()

	cmd := startKillChild(t, killChildArgs{DB: db, Cluster: c.ID.String(), Task: task.ID.String()})
	deadline := time.Now().Add(90 * time.Second)
	for len(sim.RepairedRanges()) < 10 {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("no repair progress in the child within 90s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killedAt := time.Now()

	_, run := survivor(ctx, t, db, c.ID, task.ID)
	if run.Status != store.StatusDone {
		t.Fatalf("run after takeover: %s (%s)", run.Status, run.Cause)
	}

	// Ranges of jobs that ran across the kill may be repaired twice (the
	// dead Manager never recorded them); no other range may.
	inFlight := 0
	for _, j := range sim.RepairJobs() {
		if j.Start.Before(killedAt) && (j.End.IsZero() || j.End.After(killedAt.Add(-time.Second))) {
			inFlight += j.Ranges * len(j.Tables)
		}
	}
	rs, err := sim.Client().DescribeRing(ctx, sim.ContactHost(), "ks", "")
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, r := range sim.RepairedRanges() {
		for _, tb := range r.Tables {
			count[fmt.Sprintf("%s %d %d", tb, r.Start, r.End)]++
		}
	}
	want := 2 * (len(rs) + 1) // the wrap-around range is split
	if len(count) != want {
		t.Errorf("%d distinct ranges repaired, want %d", len(count), want)
	}
	twice := 0
	for _, n := range count {
		twice += n - 1
	}
	if twice > inFlight {
		t.Errorf("%d ranges repaired again after the takeover, more than the %d of the jobs running at the kill", twice, inFlight)
	}
	t.Logf("ranges %d, repaired again %d (in flight at the kill: %d)", want, twice, inFlight)
}
