package scheduler_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/scheduler"
	"github.com/scyllaops/scyllaops/store"
)

// cleaner is a recorder that also implements scheduler.Cleaner.
type cleaner struct {
	*recorder
	mu      sync.Mutex
	cleaned []uuid.UUID // run IDs
	ended   map[uuid.UUID]bool
}

func newCleaner(dur time.Duration) *cleaner {
	return &cleaner{recorder: newRecorder(dur), ended: map[uuid.UUID]bool{}}
}

func (c *cleaner) Clean(_ context.Context, _, _, runID uuid.UUID) error {
	calls := c.snapshot() // a call is recorded when Run returns
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cleaned = append(c.cleaned, runID)
	c.ended[runID] = len(calls) > 0 && calls[len(calls)-1].run == runID
	return nil
}

func (c *cleaner) snapshotCleaned() ([]uuid.UUID, map[uuid.UUID]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]uuid.UUID(nil), c.cleaned...), c.ended
}

// continueProp is the "continue" property a run was called with (nil if
// absent).
func continueProp(c call) any { return c.props["continue"] }

// TestSuspendNoContinue: a suspension with no_continue cleans the runs it
// stops (after they ended) and their tasks' next runs, scheduled or
// started by the resume, get "continue": false; without it nothing is
// cleaned and the restarted run continues.
func TestSuspendNoContinue(t *testing.T) {
	for _, tc := range []struct {
		name       string
		noContinue bool
		startTasks bool
	}{
		{"no_continue, start_tasks", true, true},
		{"no_continue, next activation", true, false},
		{"continue, start_tasks", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t)
				b := e.task(e.cluster, "backup", store.Schedule{Cron: "0 * * * *"})
				rec := newCleaner(30 * time.Minute)
				s := e.start(scheduler.Options{}, map[string]scheduler.Runner{"backup": rec})
				time.Sleep(70 * time.Minute) // 01:10: the first (01:00) run is running
				if err := s.SuspendWithOptions(t.Context(), e.cluster, scheduler.SuspendOptions{NoContinue: tc.noContinue}); err != nil {
					t.Fatal(err)
				}
				if !tc.noContinue {
					synctest.Wait()
				}
				rr := e.runs(b.ID)
				if len(rr) != 1 || rr[0].Status != store.StatusStopped {
					t.Fatalf("runs after suspend: %+v, want one STOPPED", rr)
				}
				cleaned, ended := rec.snapshotCleaned()
				if tc.noContinue {
					// SuspendWithOptions returned after the clean.
					if len(cleaned) != 1 || cleaned[0] != rr[0].ID || !ended[rr[0].ID] {
						t.Errorf("cleaned %v (after the run ended: %v), want the stopped run %s", cleaned, ended, rr[0].ID)
					}
					if st, err := s.Suspended(t.Context(), e.cluster); err != nil || st == nil || !st.NoContinue {
						t.Errorf("Suspended = %+v, %v; want NoContinue", st, err)
					}
				} else if len(cleaned) != 0 {
					t.Errorf("cleaned %v without no_continue", cleaned)
				}
				time.Sleep(2 * time.Hour) // 03:10
				if err := s.ResumeWithOptions(t.Context(), e.cluster, scheduler.ResumeOptions{StartTasks: tc.startTasks}); err != nil {
					t.Fatal(err)
				}
				time.Sleep(90 * time.Minute) // 04:40: the 04:00 run returned
				calls := rec.snapshot()
				if len(calls) < 2 {
					t.Fatalf("%d calls, want a run after the resume", len(calls))
				}
				next := calls[1]
				wantAt := time.Date(2000, 1, 1, 4, 0, 0, 0, time.UTC) // skipped 02:00 and 03:00
				if tc.startTasks {
					wantAt = time.Date(2000, 1, 1, 3, 10, 0, 0, time.UTC)
				}
				if !next.at.Equal(wantAt) {
					t.Errorf("run after resume at %v, want %v", next.at, wantAt)
				}
				if got := continueProp(next); tc.noContinue && got != false || !tc.noContinue && got == false {
					t.Errorf("run after resume: continue = %v (no_continue %v)", got, tc.noContinue)
				}
				if tc.startTasks && len(calls) > 2 {
					// The 04:00 run follows a DONE run: no override.
					if got := continueProp(calls[2]); got != nil {
						t.Errorf("later run: continue = %v, want unset", got)
					}
				}
				if cleaned, _ := rec.snapshotCleaned(); len(cleaned) != map[bool]int{true: 1}[tc.noContinue] {
					t.Errorf("cleaned %d runs in all", len(cleaned))
				}
			})
		})
	}
}

// TestSuspendNoContinueOtherManager: a run on another manager sharing
// the store is stopped at that manager's sync, cleaned there, and its
// task's next run starts from scratch.
func TestSuspendNoContinueOtherManager(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		b := e.task(e.cluster, "backup", store.Schedule{Cron: "0 * * * *"})
		runner := newCleaner(30 * time.Minute)
		idle := newCleaner(30 * time.Minute)
		busy := e.start(scheduler.Options{OwnerID: "busy"}, map[string]scheduler.Runner{"backup": runner})
		time.Sleep(65 * time.Minute) // 01:05: the 01:00 run is running on busy
		// The other manager starts after the run was taken.
		other := e.start(scheduler.Options{OwnerID: "other"}, map[string]scheduler.Runner{"backup": idle})
		if err := other.SuspendWithOptions(t.Context(), e.cluster, scheduler.SuspendOptions{NoContinue: true}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Minute) // past busy's sync
		rr := e.runs(b.ID)
		if len(rr) != 1 || rr[0].Status != store.StatusStopped {
			t.Fatalf("runs: %+v, want one STOPPED", rr)
		}
		if cleaned, _ := runner.snapshotCleaned(); len(cleaned) != 1 || cleaned[0] != rr[0].ID {
			t.Errorf("busy cleaned %v, want %s", cleaned, rr[0].ID)
		}
		if err := other.ResumeWithOptions(t.Context(), e.cluster, scheduler.ResumeOptions{}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour) // 02:07: the 02:00 run, on either manager
		busy.stop()
		other.stop()
		calls := append(runner.snapshot(), idle.snapshot()...)
		slices.SortFunc(calls, func(a, b call) int { return a.at.Compare(b.at) })
		var found bool
		for _, c := range calls {
			// The first call of the next run; stopping the managers may
			// abort it and one of them resume it (continue: true).
			if c.run != rr[0].ID && !found {
				found = true
				if got := continueProp(c); got != false {
					t.Errorf("next run: continue = %v, want false", got)
				}
			}
		}
		if !found {
			t.Error("no run after the resume")
		}
	})
}

// TestResumeStartTasksMissedActivation: the tasks whose activation fell
// in the suspension start at the resume with the option, and wait for
// their next activation without it.
func TestResumeStartTasksMissedActivation(t *testing.T) {
	for _, tc := range []struct {
		name       string
		opts       scheduler.ResumeOptions
		wantAt     time.Time
		wantCont   any
		wantHealth bool
	}{
		{"skip", scheduler.ResumeOptions{}, time.Date(2000, 1, 1, 5, 0, 0, 0, time.UTC), nil, false},
		{"start", scheduler.ResumeOptions{StartTasksMissedActivation: true}, time.Date(2000, 1, 1, 4, 30, 0, 0, time.UTC), nil, false},
		{"start no_continue", scheduler.ResumeOptions{StartTasksMissedActivation: true, NoContinue: true}, time.Date(2000, 1, 1, 4, 30, 0, 0, time.UTC), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t)
				hourly := e.task(e.cluster, "backup", store.Schedule{Cron: "0 * * * *"})
				daily := e.task(e.cluster, "repair", store.Schedule{Cron: "0 12 * * *"}) // not missed
				rec := newRecorder(time.Minute)
				rep := newRecorder(time.Minute)
				s := e.start(scheduler.Options{}, map[string]scheduler.Runner{"backup": rec, "repair": rep})
				time.Sleep(90 * time.Minute) // 01:30: the first (01:00) run is done
				if err := s.Suspend(t.Context(), e.cluster, "", false); err != nil {
					t.Fatal(err)
				}
				time.Sleep(3 * time.Hour) // 04:30
				if err := s.ResumeWithOptions(t.Context(), e.cluster, tc.opts); err != nil {
					t.Fatal(err)
				}
				time.Sleep(45 * time.Minute) // 05:15
				calls := rec.snapshot()
				if len(calls) < 2 {
					t.Fatalf("%d backup runs, want one after the resume", len(calls))
				}
				if !calls[1].at.Equal(tc.wantAt) {
					t.Errorf("first backup run after resume at %v, want %v", calls[1].at, tc.wantAt)
				}
				if got := continueProp(calls[1]); got != tc.wantCont {
					t.Errorf("continue = %v, want %v", got, tc.wantCont)
				}
				if n := len(e.runs(hourly.ID)); n != len(calls) {
					t.Errorf("%d run records, %d calls", n, len(calls))
				}
				if n := len(rep.snapshot()); n != 0 {
					t.Errorf("repair (next activation 12:00) ran %d times", n)
				}
				if len(e.runs(daily.ID)) != 0 {
					t.Error("repair has runs")
				}
			})
		})
	}
}

// TestSkipMissed covers the pure rule behind resume without
// start_tasks_missed_activation.
func TestSkipMissed(t *testing.T) {
	h := func(hh, mm int) time.Time { return time.Date(2000, 1, 1, hh, mm, 0, 0, time.UTC) }
	task := &store.Task{ID: uuid.New(), Type: "backup", Enabled: true}
	hourly, err := scheduler.ParseSchedule(store.Schedule{Cron: "0 * * * *"})
	if err != nil {
		t.Fatal(err)
	}
	once, err := scheduler.ParseSchedule(store.Schedule{})
	if err != nil {
		t.Fatal(err)
	}
	start := func(act time.Time, attempt int) scheduler.Decision {
		return scheduler.Decision{Action: scheduler.ActStart, At: act, Activation: act, Attempt: attempt,
			RunID: scheduler.DeriveRunID(task.ID, act, attempt)}
	}
	w := []scheduler.Skipped{{From: h(0, 30), To: h(3, 30)}}
	for _, tc := range []struct {
		name    string
		plan    *scheduler.Plan
		d       scheduler.Decision
		skips   []scheduler.Skipped
		now     time.Time
		wantAct time.Time
		wantAt  time.Time
	}{
		{"in window: next after resume", hourly, start(h(1, 0), 0), w, h(3, 30), h(4, 0), h(4, 0)},
		{"on the resume instant: kept", hourly, start(h(3, 30), 0), []scheduler.Skipped{{From: h(0, 30), To: h(3, 30)}}, h(3, 30), h(3, 30), h(3, 30)},
		{"before the window: kept", hourly, start(h(0, 0), 0), w, h(3, 30), h(0, 0), h(0, 0)},
		{"after the window: kept", hourly, start(h(4, 0), 0), w, h(3, 30), h(4, 0), h(4, 0)},
		{"allowed type: kept", hourly, start(h(1, 0), 0), []scheduler.Skipped{{From: h(0, 30), To: h(3, 30), AllowTaskType: "repair,backup"}}, h(3, 30), h(1, 0), h(1, 0)},
		{"retry: kept", hourly, start(h(1, 0), 1), w, h(3, 30), h(1, 0), h(1, 0)},
		{"one-shot: kept", once, start(h(1, 0), 0), w, h(3, 30), h(1, 0), h(1, 0)},
		{"chained windows", hourly, start(h(1, 0), 0), []scheduler.Skipped{{From: h(3, 50), To: h(5, 10)}, {From: h(0, 30), To: h(3, 30)}}, h(5, 10), h(6, 0), h(6, 0)},
		{"past: now", hourly, start(h(1, 0), 0), w, h(4, 20), h(4, 0), h(4, 20)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := scheduler.SkipMissed(task, tc.plan, tc.d, tc.skips, tc.now)
			if !got.Activation.Equal(tc.wantAct) || !got.At.Equal(tc.wantAt) {
				t.Errorf("activation %v at %v, want %v at %v", got.Activation, got.At, tc.wantAct, tc.wantAt)
			}
			if want := scheduler.DeriveRunID(task.ID, tc.wantAct, tc.d.Attempt); tc.d.Attempt == 0 && got.RunID != want {
				t.Errorf("run ID %s, want the derived %s", got.RunID, want)
			}
		})
	}
}
