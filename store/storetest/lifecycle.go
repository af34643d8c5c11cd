package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
)

func testConcurrentWriters(t *testing.T, h Harness) {
	f := h.fixture(t)
	s, ctx := f.s, f.ctx
	const workers = 8
	const perWorker = 10
	c := f.cluster("shared")
	tk := f.task(c.ID, "backup", "shared")
	shared := f.run(tk, f.base, store.StatusRunning, 0)

	// Each worker builds its own cluster, task, runs and rows, and all
	// of them race for one name, one run ID, one lease and the shared
	// run.
	var (
		wg          sync.WaitGroup
		nameWins    atomic.Int32
		runWins     atomic.Int32
		leaseWins   atomic.Int32
		taskWins    atomic.Int32
		maxFenceRun = int64(workers)
	)
	raceRun := f.newRun(tk, f.base.Add(time.Hour), store.StatusNew, 0)
	for w := range workers {
		wg.Go(func() {
			own := f.newCluster(fmt.Sprintf("worker-%d", w))
			if err := s.CreateCluster(ctx, own); err != nil {
				t.Errorf("worker %d: CreateCluster: %v", w, err)
				return
			}
			switch err := s.CreateCluster(ctx, f.newCluster("contended")); {
			case err == nil:
				nameWins.Add(1)
			case !errors.Is(err, store.ErrConflict):
				t.Errorf("worker %d: CreateCluster(contended): %v", w, err)
			}
			switch err := s.CreateTask(ctx, f.newTask(c.ID, "repair", "contended")); {
			case err == nil:
				taskWins.Add(1)
			case !errors.Is(err, store.ErrConflict):
				t.Errorf("worker %d: CreateTask(contended): %v", w, err)
			}
			r := *raceRun
			r.Owner = fmt.Sprint(w)
			switch err := s.CreateRun(ctx, &r); {
			case err == nil:
				runWins.Add(1)
			case !errors.Is(err, store.ErrConflict):
				t.Errorf("worker %d: CreateRun(contended): %v", w, err)
			}
			switch _, err := s.AcquireLease(ctx, "contended", fmt.Sprint("owner-", w), time.Hour); {
			case err == nil:
				leaseWins.Add(1)
			case !errors.Is(err, store.ErrLeaseHeld):
				t.Errorf("worker %d: AcquireLease(contended): %v", w, err)
			}
			up := *shared
			up.Fence = int64(w + 1)
			if err := s.UpdateRun(ctx, &up); err != nil && !errors.Is(err, store.ErrLeaseLost) {
				t.Errorf("worker %d: UpdateRun(shared): %v", w, err)
			}

			ot := f.newTask(own.ID, "backup", "own")
			if err := s.CreateTask(ctx, ot); err != nil {
				t.Errorf("worker %d: CreateTask: %v", w, err)
				return
			}
			for i := range perWorker {
				at := f.base.Add(time.Duration(w*perWorker+i) * time.Second)
				r := f.newRun(ot, at, store.StatusRunning, 0)
				if err := s.CreateRun(ctx, r); err != nil {
					t.Errorf("worker %d: CreateRun: %v", w, err)
					return
				}
				if err := s.PutProgress(ctx, f.newProgress(r, "k", 0)); err != nil {
					t.Errorf("worker %d: PutProgress: %v", w, err)
				}
				if err := s.PutProgress(ctx, f.newProgress(shared, fmt.Sprintf("w%d-%d", w, i), int64(workers))); err != nil {
					t.Errorf("worker %d: PutProgress(shared): %v", w, err)
				}
				r.Status = store.StatusDone
				if err := s.UpdateRun(ctx, r); err != nil {
					t.Errorf("worker %d: UpdateRun: %v", w, err)
				}
				if err := s.AppendEvent(ctx, f.newEvent(c.ID, nowMS().Add(time.Duration(w*perWorker+i)*time.Millisecond))); err != nil {
					t.Errorf("worker %d: AppendEvent: %v", w, err)
				}
				if err := s.PutSecret(ctx, own.ID, fmt.Sprint("k", i), []byte("v")); err != nil {
					t.Errorf("worker %d: PutSecret: %v", w, err)
				}
				if _, err := s.ListRuns(ctx, ot.ID, 3); err != nil {
					t.Errorf("worker %d: ListRuns: %v", w, err)
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for what, n := range map[string]int32{
		"CreateCluster(same name)": nameWins.Load(), "CreateTask(same name)": taskWins.Load(),
		"CreateRun(same ID)": runWins.Load(), "AcquireLease(same name)": leaseWins.Load(),
	} {
		if n != 1 {
			t.Errorf("%s succeeded %d times among %d workers, want exactly once", what, n, workers)
		}
	}
	got, err := s.GetRun(ctx, tk.ID, shared.ID)
	noErr(t, "GetRun(shared)", err)
	if got.Fence != maxFenceRun {
		t.Errorf("shared run fence = %d, want the highest written, %d", got.Fence, maxFenceRun)
	}
	cs, err := s.ListClusters(ctx)
	noErr(t, "ListClusters", err)
	if len(cs) != workers+2 {
		t.Errorf("ListClusters = %d clusters, want %d", len(cs), workers+2)
	}
	tasks, err := s.ListTasks(ctx, uuid.Nil)
	noErr(t, "ListTasks", err)
	if len(tasks) != workers+2 {
		t.Errorf("ListTasks = %d tasks, want %d", len(tasks), workers+2)
	}
	un, err := s.ListUnfinishedRuns(ctx)
	noErr(t, "ListUnfinishedRuns", err)
	if len(un) != 2 { // shared and raceRun
		t.Errorf("ListUnfinishedRuns = %d runs, want 2", len(un))
	}
	rows, err := s.ListProgress(ctx, shared.ID)
	noErr(t, "ListProgress(shared)", err)
	if len(rows) != workers*perWorker {
		t.Errorf("ListProgress(shared) = %d rows, want %d", len(rows), workers*perWorker)
	}
	evs, err := s.QueryEvents(ctx, store.EventQuery{ClusterID: c.ID})
	noErr(t, "QueryEvents", err)
	if len(evs) != workers*perWorker {
		t.Errorf("QueryEvents = %d events, want %d", len(evs), workers*perWorker)
	}
	for _, tk := range tasks {
		if tk.Name != "own" {
			continue
		}
		runs, err := s.ListRuns(ctx, tk.ID, 0)
		noErr(t, "ListRuns", err)
		if len(runs) != perWorker {
			t.Errorf("ListRuns(%s) = %d runs, want %d", tk.ID, len(runs), perWorker)
		}
	}
}

// methods calls every method of s (but Close) with ctx, on records of
// the world w; each call returns its error.
func (f *fixture) methods(ctx context.Context, w world) map[string]func() error {
	s := f.s
	c, tk, r := w.c, w.tasks[0], w.runs[0]
	l := store.Lease{Name: "held", Owner: "o", Fence: 1}
	nc := f.newCluster("new")
	upc := *c
	upc.Host = "changed"
	upt := *tk
	upt.Enabled = false
	upr := *r
	upr.Status = store.StatusDone
	nr := f.newRun(tk, f.base.Add(24*time.Hour), store.StatusNew, 1)
	ignore := func(_ any, err error) error { return err }
	return map[string]func() error{
		"CreateCluster":      func() error { return s.CreateCluster(ctx, nc) },
		"UpdateCluster":      func() error { return s.UpdateCluster(ctx, &upc) },
		"GetCluster":         func() error { return ignore(s.GetCluster(ctx, c.ID)) },
		"GetClusterByName":   func() error { return ignore(s.GetClusterByName(ctx, c.Name)) },
		"ListClusters":       func() error { return ignore(s.ListClusters(ctx)) },
		"DeleteCluster":      func() error { return s.DeleteCluster(ctx, c.ID) },
		"PutSecret":          func() error { return s.PutSecret(ctx, c.ID, "new", []byte("v")) },
		"GetSecret":          func() error { return ignore(s.GetSecret(ctx, c.ID, store.SecretAuthToken)) },
		"DeleteSecret":       func() error { return s.DeleteSecret(ctx, c.ID, store.SecretAuthToken) },
		"ListSecretKeys":     func() error { return ignore(s.ListSecretKeys(ctx, c.ID)) },
		"CreateTask":         func() error { return s.CreateTask(ctx, f.newTask(c.ID, "backup", "new")) },
		"UpdateTask":         func() error { return s.UpdateTask(ctx, &upt) },
		"GetTask":            func() error { return ignore(s.GetTask(ctx, c.ID, tk.ID)) },
		"ListTasks":          func() error { return ignore(s.ListTasks(ctx, c.ID)) },
		"DeleteTask":         func() error { return s.DeleteTask(ctx, c.ID, tk.ID) },
		"CreateRun":          func() error { return s.CreateRun(ctx, nr) },
		"UpdateRun":          func() error { return s.UpdateRun(ctx, &upr) },
		"GetRun":             func() error { return ignore(s.GetRun(ctx, tk.ID, r.ID)) },
		"ListRuns":           func() error { return ignore(s.ListRuns(ctx, tk.ID, 0)) },
		"ListUnfinishedRuns": func() error { return ignore(s.ListUnfinishedRuns(ctx)) },
		"PutProgress":        func() error { return s.PutProgress(ctx, f.newProgress(r, "new", 1)) },
		"PutProgressBatch":   func() error { return store.PutProgressBatch(ctx, s, f.newProgresses(r, 1, "new1", "new2")) },
		"ListProgress":       func() error { return ignore(s.ListProgress(ctx, r.ID)) },
		"DeleteProgress":     func() error { return s.DeleteProgress(ctx, r.ID) },
		"AppendEvent":        func() error { return s.AppendEvent(ctx, f.newEvent(c.ID, nowMS())) },
		"QueryEvents":        func() error { return ignore(s.QueryEvents(ctx, store.EventQuery{ClusterID: c.ID})) },
		"AcquireLease":       func() error { return ignore(s.AcquireLease(ctx, "new", "o", time.Hour)) },
		"RenewLease":         func() error { return ignore(s.RenewLease(ctx, l, time.Hour)) },
		"ReleaseLease":       func() error { return s.ReleaseLease(ctx, l) },
		"GetLease":           func() error { return ignore(s.GetLease(ctx, l.Name)) },
	}
}

// methodCount is the number of methods of store.Store but Close.
const methodCount = 30

func testCanceledContext(t *testing.T, h Harness) {
	f := h.fixture(t)
	w := f.world("ctx")
	_, err := f.s.AcquireLease(f.ctx, "held", "o", time.Hour)
	noErr(t, "AcquireLease", err)
	runIDs := []uuid.UUID{w.runs[0].ID, w.runs[1].ID}
	leases := []string{"held", "new"}
	before := f.snapshot(runIDs, leases)

	canceled, cancel := context.WithCancel(f.ctx)
	cancel()
	calls := f.methods(canceled, w)
	if len(calls) != methodCount {
		t.Fatalf("suite bug: %d methods, want %d", len(calls), methodCount)
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s(canceled ctx) = %v, want context.Canceled", name, err)
		}
	}
	expired, cancel2 := context.WithDeadline(f.ctx, time.Now().Add(-time.Second))
	defer cancel2()
	for name, call := range f.methods(expired, w) {
		if err := call(); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s(expired ctx) = %v, want context.DeadlineExceeded", name, err)
		}
	}
	after := f.snapshot(runIDs, leases)
	if d := diff(before, after); d != "" {
		t.Errorf("calls with a canceled context changed the store (-before +after):\n%s", d)
	}
}

func testUseAfterClose(t *testing.T, h Harness) {
	f := h.fixture(t)
	w := f.world("closed")
	noErr(t, "Close", f.s.Close())
	noErr(t, "Close(again)", f.s.Close())
	for name, call := range f.methods(f.ctx, w) {
		if err := call(); !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s(after Close) = %v, want store.ErrClosed", name, err)
		}
	}
}
