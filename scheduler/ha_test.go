package scheduler_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/scyllaops/scyllaops/internal/testenv"
	"github.com/scyllaops/scyllaops/scheduler"
	"github.com/scyllaops/scyllaops/store"
)

// TestHAExactlyOnce: three schedulers share one store; 4 tasks × 50
// minutely activations = 200 activations, each must give exactly one run.
func TestHAExactlyOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		var tasks []*store.Task
		for i := range 4 {
			c := e.cluster
			if i > 0 {
				c = e.addCluster(fmt.Sprintf("c%d", i))
			}
			tasks = append(tasks, e.task(c, "backup", store.Schedule{Cron: "* * * * *"}))
		}
		var mu sync.Mutex
		calls := map[uuid.UUID]int{} // run ID -> runner calls
		byOwner := map[string]int{}
		var scheds []*sched
		for i := range 3 {
			owner := fmt.Sprintf("m%d", i)
			r := scheduler.RunnerFunc(func(ctx context.Context, _, _, runID uuid.UUID, _ json.RawMessage) error {
				mu.Lock()
				calls[runID]++
				byOwner[owner]++
				mu.Unlock()
				select {
				case <-time.After(20 * time.Second):
					return nil
				case <-ctx.Done():
					return context.Cause(ctx)
				}
			})
			scheds = append(scheds, e.start(scheduler.Options{OwnerID: owner, SyncInterval: 10 * time.Second, LeaseTTL: 30 * time.Second},
				map[string]scheduler.Runner{"backup": r}))
		}
		time.Sleep(50*time.Minute + 30*time.Second)
		for _, s := range scheds {
			s.stop()
		}
		total := 0
		for _, tk := range tasks {
			runs := e.runs(tk.ID)
			acts := map[time.Time]int{}
			for _, r := range runs {
				acts[r.Activation]++
				if r.Status != store.StatusDone {
					t.Errorf("task %v run %v: %s (%s)", tk.ID, r.ID, r.Status, r.Cause)
				}
			}
			if len(runs) != 50 || len(acts) != 50 {
				t.Errorf("task %v: %d runs for %d activations, want 50/50", tk.ID, len(runs), len(acts))
			}
			for a, n := range acts {
				if n != 1 {
					t.Errorf("activation %v ran %d times", a, n)
				}
			}
			total += len(runs)
		}
		for id, n := range calls {
			if n != 1 {
				t.Errorf("run %v executed %d times", id, n)
			}
		}
		if total != 200 || len(calls) != 200 {
			t.Errorf("%d runs, %d executions, want 200", total, len(calls))
		}
		t.Logf("runs per manager: %v", byOwner)
	})
}

// TestHACrashTakeover: the manager running a task dies mid-run (context
// canceled, renewals stopped, no cleanup). Another takes the run over
// after the lease TTL and finishes it; the dead one's late writes are
// refused with ErrLeaseLost.
func TestHACrashTakeover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		task := e.task(e.cluster, "backup", store.Schedule{Cron: "0 * * * *"})
		type lateWrite struct{ progressErr, runErr error }
		var (
			mu    sync.Mutex
			done  = map[uuid.UUID]int{} // run -> minutes of work done (shared "disk")
			props []map[string]any
			late  = make(chan lateWrite, 1)
		)
		const work = 30 // minutes
		runner := func(owner string) scheduler.Runner {
			return scheduler.RunnerFunc(func(ctx context.Context, clusterID, taskID, runID uuid.UUID, p json.RawMessage) error {
				var m map[string]any
				_ = json.Unmarshal(p, &m)
				mu.Lock()
				props = append(props, m)
				mu.Unlock()
				fence := store.FenceFrom(ctx)
				for {
					mu.Lock()
					n := done[runID]
					mu.Unlock()
					if n >= work {
						return nil
					}
					select {
					case <-ctx.Done():
						if errors.Is(context.Cause(ctx), scheduler.ErrClosed) && owner == "dead" {
							// The process is "gone", but a stray
							// goroutine writes later.
							time.Sleep(5 * time.Minute)
							perr := e.st.PutProgress(t.Context(), &store.Progress{ClusterID: clusterID, TaskID: taskID, RunID: runID, Key: "late", Data: json.RawMessage(`{}`), Fence: fence})
							r, _ := e.st.GetRun(t.Context(), taskID, runID)
							r.Fence, r.Status = fence, store.StatusError
							rerr := e.st.UpdateRun(t.Context(), r)
							late <- lateWrite{perr, rerr}
						}
						return context.Cause(ctx)
					case <-time.After(time.Minute):
					}
					if err := e.st.PutProgress(ctx, &store.Progress{ClusterID: clusterID, TaskID: taskID, RunID: runID, Key: "minute", Data: json.RawMessage(fmt.Sprint(n + 1)), Fence: fence}); err != nil {
						return err
					}
					mu.Lock()
					done[runID] = n + 1
					mu.Unlock()
				}
			})
		}
		regs := map[string]*prometheus.Registry{}
		opts := func(owner string) scheduler.Options {
			regs[owner] = prometheus.NewRegistry()
			return scheduler.Options{OwnerID: owner, SyncInterval: 10 * time.Second, LeaseTTL: 30 * time.Second, Registerer: regs[owner]}
		}
		// "dead" starts first so it wins the 01:00 activation.
		dead := e.start(opts("dead"), map[string]scheduler.Runner{"backup": runner("dead")})
		time.Sleep(time.Hour + 10*time.Minute) // 01:10, run in progress on "dead"
		r, ok := dead.Running(task.ID)
		if !ok {
			t.Fatal("the first scheduler is not running the task")
		}
		a := e.start(opts("a"), map[string]scheduler.Runner{"backup": runner("a")})
		b := e.start(opts("b"), map[string]scheduler.Runner{"backup": runner("b")})
		time.Sleep(90 * time.Second) // between two progress writes
		dead.Crash()
		dead.cancel() // no cleanup: nothing written, leases not released

		time.Sleep(2 * time.Minute)
		got, _ := e.st.GetRun(t.Context(), task.ID, r.ID)
		if got.Status != store.StatusRunning || got.Owner == "dead" || got.Fence <= r.Fence {
			t.Fatalf("2 minutes after the crash the run is %s owned by %q fence %d (old %d); want RUNNING, taken over with a larger fence", got.Status, got.Owner, got.Fence, r.Fence)
		}
		var lw lateWrite
		select {
		case lw = <-late:
		case <-time.After(10 * time.Minute):
			for _, ev := range e.events(store.EventQuery{}) {
				t.Logf("%v %s %s %v", ev.Time, ev.Kind, ev.Message, ev.Attributes)
			}
			t.Fatal("the dead manager's runner made no late write")
		}
		if !errors.Is(lw.progressErr, store.ErrLeaseLost) || !errors.Is(lw.runErr, store.ErrLeaseLost) {
			t.Errorf("late writes of the dead manager: progress %v, run %v; want ErrLeaseLost", lw.progressErr, lw.runErr)
		}
		<-dead.done
		time.Sleep(30 * time.Minute)
		a.stop()
		b.stop()

		runs := e.runs(task.ID)
		var first *store.Run
		for _, x := range runs {
			if x.ID == r.ID {
				first = x
			}
		}
		if first == nil || first.Status != store.StatusDone {
			t.Fatalf("the crashed run %v is not DONE: %+v", r.ID, first)
		}
		mu.Lock()
		if done[r.ID] != work {
			t.Errorf("work done %d minutes, want %d", done[r.ID], work)
		}
		if len(props) < 2 || props[1]["continue"] != true {
			t.Errorf("runner properties %v, want the takeover with continue=true", props)
		}
		mu.Unlock()
		var aborted bool
		for _, ev := range e.events(store.EventQuery{RunID: r.ID}) {
			if ev.Attributes["status"] == "ABORTED" && ev.Attributes["previous_owner"] == "dead" {
				aborted = true
			}
		}
		if !aborted {
			t.Error("no ABORTED event naming the dead owner")
		}
		// The survivor that took the run over counted it.
		takeovers := map[string]float64{}
		for owner, reg := range regs {
			takeovers[owner], _ = testenv.MetricSum(t, reg, "scyllaops_scheduler_run_takeovers_total", nil)
		}
		if takeovers["a"]+takeovers["b"] != 1 || takeovers["dead"] != 0 {
			t.Errorf("scyllaops_scheduler_run_takeovers_total by manager = %v, want 1 on a or b", takeovers)
		}
		// Exactly one run per activation.
		acts := map[time.Time]int{}
		for _, x := range runs {
			acts[x.Activation]++
		}
		for at, n := range acts {
			if n != 1 {
				t.Errorf("activation %v has %d runs", at, n)
			}
		}
	})
}

// flakyRenew behaves, once broken is closed, as if another manager had
// taken every lease: renewals fail with ErrLeaseLost and acquisitions with
// ErrLeaseHeld.
type flakyRenew struct {
	store.Store
	broken chan struct{}
}

func (f *flakyRenew) RenewLease(ctx context.Context, l store.Lease, ttl time.Duration) (store.Lease, error) {
	select {
	case <-f.broken:
		return store.Lease{}, fmt.Errorf("flaky: %w", store.ErrLeaseLost)
	default:
		return f.Store.RenewLease(ctx, l, ttl)
	}
}

func (f *flakyRenew) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (store.Lease, error) {
	select {
	case <-f.broken:
		return store.Lease{}, fmt.Errorf("flaky: %w", store.ErrLeaseHeld)
	default:
		return f.Store.AcquireLease(ctx, name, owner, ttl)
	}
}

// TestLostLeaseCancelsRunner: when renewal fails, the runner's context is
// canceled with cause store.ErrLeaseLost and the scheduler writes nothing
// for the run (the next holder owns it).
func TestLostLeaseCancelsRunner(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		task := e.task(e.cluster, "backup", store.Schedule{StartDate: time.Now().Add(time.Minute)})
		f := &flakyRenew{Store: e.st, broken: make(chan struct{})}
		s, err := scheduler.New(f, scheduler.Options{OwnerID: "x", LeaseTTL: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		causes := make(chan error, 8)
		s.Register("backup", scheduler.RunnerFunc(func(ctx context.Context, _, _, _ uuid.UUID, _ json.RawMessage) error {
			<-ctx.Done()
			causes <- context.Cause(ctx)
			return ctx.Err()
		}))
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { defer close(done); _ = s.Run(ctx) }()
		time.Sleep(5 * time.Minute)
		close(f.broken)
		// The next renewal (within LeaseTTL/3) fails; stop before the
		// lease expires and this scheduler would take the run over.
		if c := <-causes; !errors.Is(c, store.ErrLeaseLost) {
			t.Errorf("runner cause %v, want ErrLeaseLost", c)
		}
		if d := time.Since(time.Date(2000, 1, 1, 0, 5, 0, 0, time.UTC)); d > 10*time.Second {
			t.Errorf("run canceled %v after renewals broke, want within LeaseTTL/3", d)
		}
		cancel()
		<-done
		runs := e.runs(task.ID)
		if len(runs) != 1 || runs[0].Status != store.StatusRunning {
			t.Errorf("runs %d, status %s; want the run left RUNNING for the next holder", len(runs), runs[0].Status)
		}
	})
}

// TestRemoteStop: a stop asked through one scheduler stops the run that
// executes on another (STOPPING in the store, seen at the next renewal).
func TestRemoteStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		task := e.task(e.cluster, "backup", store.Schedule{Cron: "0 * * * *"})
		rec := newRecorder(time.Hour)
		a := e.start(scheduler.Options{OwnerID: "a", LeaseTTL: 30 * time.Second}, map[string]scheduler.Runner{"backup": rec})
		time.Sleep(time.Hour + time.Minute) // a runs the 01:00 activation
		if _, ok := a.Running(task.ID); !ok {
			t.Fatal("a is not running the task")
		}
		b := e.start(scheduler.Options{OwnerID: "b"}, map[string]scheduler.Runner{"backup": rec})
		if err := b.Stop(t.Context(), e.cluster, task.ID, false); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		runs := e.runs(task.ID)
		if len(runs) != 1 || runs[0].Status != store.StatusStopped || runs[0].Owner != "a" {
			t.Fatalf("runs %d, last %s by %s; want STOPPED by a", len(runs), runs[len(runs)-1].Status, runs[len(runs)-1].Owner)
		}
		if c := rec.snapshot(); len(c) != 1 || !errors.Is(c[0].cause, scheduler.ErrStopped) {
			t.Errorf("runner calls %+v, want one stopped with ErrStopped", c)
		}
	})
}

// TestRestartSameOwner: a manager restarted with the same OwnerID after a
// crash takes its run back at once, without waiting for the lease TTL.
func TestRestartSameOwner(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		task := e.task(e.cluster, "backup", store.Schedule{Cron: "0 * * * *"})
		rec := newRecorder(30 * time.Minute)
		opts := scheduler.Options{OwnerID: "node-1", LeaseTTL: time.Hour}
		a := e.start(opts, map[string]scheduler.Runner{"backup": rec})
		time.Sleep(time.Hour + 10*time.Minute)
		a.Crash()
		a.stop()
		restart := time.Now()
		e.start(opts, map[string]scheduler.Runner{"backup": rec})
		synctest.Wait()
		c := rec.snapshot()
		if len(c) != 1 {
			t.Fatalf("%d runner calls before the resume returned", len(c))
		}
		time.Sleep(time.Minute)
		runs := e.runs(task.ID)
		if len(runs) != 1 || runs[0].Status != store.StatusRunning {
			t.Fatalf("runs %d, status %s; want the run resumed", len(runs), runs[0].Status)
		}
		var resumedAt time.Time
		for _, ev := range e.events(store.EventQuery{RunID: runs[0].ID}) {
			if ev.Attributes["status"] == "ABORTED" {
				resumedAt = ev.Time
			}
		}
		if !resumedAt.Equal(restart) {
			t.Errorf("taken back at %v, want at restart %v (lease TTL is 1h)", resumedAt, restart)
		}
	})
}
