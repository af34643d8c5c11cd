//go:build outage

package main

// TestRolesServers runs the split deployment profile with real processes
// on one cqlstore keyspace of the test Cassandra: two api-only servers and
// two scheduler-only servers. It runs in the "outage" phase of
// scripts/test.sh (real time, alone).

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/restapi"
	"github.com/scyllaops/scyllaops/scyllatest"
	"github.com/scyllaops/scyllaops/store"
)

func TestRolesServers(tt *testing.T) {
	t := &recordingT{T: tt}
	bin := buildServer(t.T)
	db := testDB(t.T)
	dir := t.TempDir()
	ctx := t.Context()

	names := []string{"api0", "api1", "sched0", "sched1"}
	roles := []string{"api", "api", "scheduler", "scheduler"}
	cfgs := make([]string, len(names))
	for i, n := range names {
		cfgs[i] = filepath.Join(dir, n+".yaml")
		if err := os.WriteFile(cfgs[i], []byte(db.config(n)+"roles: ["+roles[i]+"]\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	procs := startProcs(t.T, bin, cfgs...)
	by := map[string]*proc{}
	for i, p := range procs {
		by[names[i]] = p
	}
	defer func() {
		if t.Failed() {
			for _, n := range names {
				t.Logf("last log lines of %s:\n%s", n, by[n].tail(30))
			}
			t.Logf("failures, again:\n%s", t.failures())
		}
	}()
	for _, n := range []string{"sched0", "sched1"} {
		if by[n].http != "" {
			t.Errorf("scheduler-only %s serves the API at %s", n, by[n].http)
		}
	}
	api := func(n string) *restapi.Client {
		c, err := restapi.NewClient("http://"+by[n].http, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	st := db.open(t.T)

	// One simulated cluster uploading at 1 MiB/s per node into a
	// directory bucket: each backup has several seconds of upload.
	sim := scyllatest.New(t.T, scyllatest.Options{Listen: true, Topology: scyllatest.Topology3(2),
		OpenBucket: dirBuckets(t.T, filepath.Join(dir, "buckets")),
		Keyspaces: []scyllatest.Keyspace{{Name: "data", Replication: scyllatest.Simple(2),
			Tables: []scyllatest.Table{{Name: "t", SSTables: 4, DataSize: 2 << 20}}}}})
	cid, err := api("api0").CreateCluster(ctx, restapi.Cluster{Name: "sim", Host: sim.ContactHost(), AuthToken: sim.AuthToken()})
	if err != nil {
		t.Fatal(err)
	}
	props := json.RawMessage(`{"location":["localstorage:b"],"rate_limit":["1"],"keyspace":["data"],"retention":100}`)
	tid, err := api("api0").CreateTask(ctx, "sim", restapi.TaskUpdate{Type: "backup", Name: "manual", Enabled: true,
		Schedule: &restapi.Schedule{Cron: "0 0 1 1 *"}, Properties: props}) // yearly: started by hand here
	if err != nil {
		t.Fatal(err)
	}
	taskID := uuid.MustParse(tid)
	_ = cid

	sleep := func(d time.Duration) {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
	last := func() *store.Run {
		rs, err := st.ListRuns(ctx, taskID, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) == 0 {
			return nil
		}
		return rs[0]
	}
	// waitRun waits until the task's last run satisfies ok.
	waitRun := func(what string, d time.Duration, ok func(*store.Run) bool) *store.Run {
		for deadline := time.Now().Add(d); ; sleep(200 * time.Millisecond) {
			if r := last(); r != nil && ok(r) {
				return r
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %s; last run %+v", what, d, last())
			}
		}
	}
	isScheduler := func(owner string) bool { return owner == "sched0" || owner == "sched1" }

	// 1. An api server starts the task; a scheduler server runs it; the
	// other api server shows its progress while it runs and at its end.
	if err := api("api0").StartTask(ctx, "sim", "backup", tid, false); err != nil {
		t.Fatal(err)
	}
	r := waitRun("first run RUNNING on a scheduler server", time.Minute, func(r *store.Run) bool {
		return r.Status == store.StatusRunning && isScheduler(r.Owner)
	})
	pr, err := api("api1").RunProgress(ctx, "sim", "backup", tid, r.ID.String())
	if err != nil {
		t.Fatalf("progress of the running run through the other api server: %v", err)
	}
	if pr.Run.Status != string(store.StatusRunning) {
		t.Errorf("api1 shows the run %s, want RUNNING", pr.Run.Status)
	}
	r = waitRun("first run DONE", 2*time.Minute, func(r *store.Run) bool { return r.Status.Final() })
	if r.Status != store.StatusDone || !isScheduler(r.Owner) {
		t.Fatalf("first run ended %s on %s (%s); want DONE on a scheduler server", r.Status, r.Owner, r.Cause)
	}
	first := r.ID
	var bp restapi.BackupProgress
	pr, err = api("api1").RunProgress(ctx, "sim", "backup", tid, first.String())
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(pr.Progress, &bp); err != nil || bp.Size == 0 || bp.Uploaded+bp.Skipped != bp.Size {
		t.Errorf("api1 progress of the finished run: %+v (%v); want everything uploaded", bp, err)
	}

	// 2. New data, a second start through the other api server; kill the
	// scheduler server running it mid-upload: the other one takes it over.
	for _, n := range sim.Nodes() {
		if _, err := sim.WriteData(n, "data", "t", 4); err != nil {
			t.Fatal(err)
		}
	}
	if err := api("api1").StartTask(ctx, "sim", "backup", tid, true); err != nil {
		t.Fatal(err)
	}
	r = waitRun("second run RUNNING", time.Minute, func(r *store.Run) bool {
		return r.ID != first && r.Status == store.StatusRunning && isScheduler(r.Owner)
	})
	victim, victimRun, victimFence := r.Owner, r.ID, r.Fence
	sleep(2 * time.Second) // into the upload (about 8 s at 1 MiB/s per node)
	if err := by[victim].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-by[victim].done
	t.Logf("SIGKILLed %s running %s", victim, victimRun)
	// The taking-over scheduler first records the dead holder's run
	// ABORTED (still under the holder's name, its own fence) and then
	// resumes it as its own: an end under the victim's name is that step,
	// not the run's end.
	r = waitRun("the killed server's run DONE on the other", 2*time.Minute, func(r *store.Run) bool {
		return r.ID == victimRun && r.Status.Final() && r.Owner != victim
	})
	if r.Status != store.StatusDone || r.Owner == victim || !isScheduler(r.Owner) || r.Fence <= victimFence {
		t.Errorf("run %s after the kill: %s on %s, fence %d (was %d); want DONE on the other scheduler server with a larger fence",
			victimRun, r.Status, r.Owner, r.Fence, victimFence)
	}
	// Both api servers list the same runs.
	h0, err := api("api0").TaskHistory(ctx, "sim", "backup", tid, 10)
	if err != nil {
		t.Fatal(err)
	}
	h1, err := api("api1").TaskHistory(ctx, "sim", "backup", tid, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(h0) != 2 || len(h1) != 2 || h0[0].ID != h1[0].ID || fmt.Sprint(h0[0].Status) != "DONE" {
		t.Errorf("history on api0 %+v, api1 %+v; want the same two runs, the last DONE", h0, h1)
	}
	// No api server ever ran anything.
	rs, err := st.ListRuns(ctx, taskID, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if !isScheduler(r.Owner) {
			t.Errorf("run %s owned by %q, want a scheduler server", r.ID, r.Owner)
		}
	}
}
