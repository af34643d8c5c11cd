package scheduler_test

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/scyllaops/scyllaops/scheduler"
	"github.com/scyllaops/scyllaops/store"
)

// TestRequestRunsOnAnotherScheduler: a scheduler that never runs its loop
// (an API-only Manager) stores a start request; another scheduler on the
// same store starts that very run at its next sync, with its properties,
// without counting a takeover; a second request while it runs is refused.
func TestRequestRunsOnAnotherScheduler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		task := e.task(e.cluster, "backup", store.Schedule{Cron: "0 0 * * *"})
		task.Enabled = false
		if err := e.st.UpdateTask(t.Context(), task); err != nil {
			t.Fatal(err)
		}
		rec := newRecorder(time.Hour)
		api, err := scheduler.New(e.st, scheduler.Options{OwnerID: "api"})
		if err != nil {
			t.Fatal(err)
		}
		api.Register("backup", rec)
		worker := e.start(scheduler.Options{OwnerID: "worker", SyncInterval: 10 * time.Second},
			map[string]scheduler.Runner{"backup": rec})
		time.Sleep(time.Minute)

		req, err := api.Request(t.Context(), e.cluster, task.ID, false)
		if err != nil {
			t.Fatal(err)
		}
		if req.Status != store.StatusNew || req.Owner != "" {
			t.Fatalf("request stored as %s by %q, want NEW with no owner", req.Status, req.Owner)
		}
		if _, err := api.Request(t.Context(), e.cluster, task.ID, true); !errors.Is(err, store.ErrConflict) {
			t.Errorf("second request = %v, want ErrConflict", err)
		}
		time.Sleep(11 * time.Second) // the worker's next sync
		synctest.Wait()
		runs := e.runs(task.ID)
		if len(runs) != 1 || runs[0].ID != req.ID || runs[0].Status != store.StatusRunning || runs[0].Owner != "worker" || runs[0].Fence == 0 {
			t.Fatalf("runs %+v, want the requested run RUNNING on worker under a lease", runs)
		}
		time.Sleep(time.Hour)
		worker.stop()
		runs = e.runs(task.ID)
		if len(runs) != 1 || runs[0].Status != store.StatusDone {
			t.Fatalf("runs %+v, want the requested run DONE", runs)
		}
		c := rec.snapshot()
		if len(c) != 1 || c[0].run != req.ID || c[0].props["continue"] != false {
			t.Errorf("calls %+v, want one call of the requested run with continue=false", c)
		}
		var statuses []string
		for _, ev := range e.events(store.EventQuery{RunID: req.ID}) {
			statuses = append(statuses, ev.Attributes["status"])
		}
		if !equal(statuses, []string{"NEW", "RUNNING", "DONE"}) {
			t.Errorf("status events %v, want NEW, RUNNING, DONE (no takeover)", statuses)
		}
	})
}

// TestRequestOfSuspendedCluster: a request is refused while the cluster is
// suspended, and one stored before a suspension ends STOPPED unrun.
func TestRequestOfSuspendedCluster(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		task := e.task(e.cluster, "backup", store.Schedule{Cron: "0 0 * * *"})
		rec := newRecorder(time.Hour)
		api, err := scheduler.New(e.st, scheduler.Options{OwnerID: "api"})
		if err != nil {
			t.Fatal(err)
		}
		api.Register("backup", rec)
		req, err := api.Request(t.Context(), e.cluster, task.ID, true)
		if err != nil {
			t.Fatal(err)
		}
		if err := api.Suspend(t.Context(), e.cluster, "", false); err != nil {
			t.Fatal(err)
		}
		other := e.task(e.cluster, "backup", store.Schedule{Cron: "0 0 * * *"})
		if _, err := api.Request(t.Context(), e.cluster, other.ID, true); !errors.Is(err, scheduler.ErrSuspended) {
			t.Errorf("request while suspended = %v, want ErrSuspended", err)
		}
		w := e.start(scheduler.Options{OwnerID: "worker"}, map[string]scheduler.Runner{"backup": rec})
		time.Sleep(time.Minute)
		w.stop()
		r, err := e.st.GetRun(t.Context(), task.ID, req.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != store.StatusStopped || r.Cause != scheduler.ErrSuspended.Error() || len(rec.snapshot()) != 0 {
			t.Errorf("request after suspension: %s %q, %d calls; want STOPPED (suspended), never run", r.Status, r.Cause, len(rec.snapshot()))
		}
	})
}
