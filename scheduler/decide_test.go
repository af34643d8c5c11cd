package scheduler

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
)

func TestDecide(t *testing.T) {
	h := func(hh, mm int) time.Time { return time.Date(2026, 11, 23, hh, mm, 0, 0, time.UTC) }
	task := &store.Task{ID: uuid.New(), Enabled: true, Schedule: store.Schedule{Cron: "0 * * * *", NumRetries: 2, RetryWait: 10 * time.Minute, StartDate: h(0, 0)}}
	p, err := ParseSchedule(task.Schedule)
	if err != nil {
		t.Fatal(err)
	}
	wp, err := ParseSchedule(store.Schedule{Cron: "0 * * * *", Window: []string{"22:00", "23:00"}, StartDate: h(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	run := func(st store.Status, act time.Time, attempt int, start, end time.Time) *store.Run {
		return &store.Run{ID: DeriveRunID(task.ID, act, attempt), Status: st, Activation: act, Attempt: attempt, StartTime: start, EndTime: end}
	}
	disabled := *task
	disabled.Enabled = false
	for _, tc := range []struct {
		name    string
		task    *store.Task
		plan    *Plan
		last    *store.Run
		now     time.Time
		action  Action
		at      time.Time
		act     time.Time
		attempt int
	}{
		{"first activation", task, p, nil, h(0, 30), ActStart, h(0, 30), h(0, 0), 0},
		{"next after done", task, p, run(store.StatusDone, h(1, 0), 0, h(1, 0), h(1, 5)), h(1, 30), ActStart, h(2, 0), h(2, 0), 0},
		{"long run: one catch-up now", task, p, run(store.StatusDone, h(1, 0), 0, h(1, 0), h(3, 20)), h(3, 20), ActStart, h(3, 20), h(2, 0), 0},
		{"downtime: one catch-up, not a burst", task, p, run(store.StatusDone, h(1, 0), 0, h(1, 0), h(1, 5)), h(9, 30), ActStart, h(9, 30), h(2, 0), 0},
		{"retry after backoff", task, p, run(store.StatusError, h(1, 0), 0, h(1, 0), h(1, 5)), h(1, 6), ActStart, h(1, 15), h(1, 0), 1},
		{"second retry doubles", task, p, run(store.StatusError, h(1, 0), 1, h(1, 15), h(1, 16)), h(1, 17), ActStart, h(1, 36), h(1, 0), 2},
		{"retries exhausted", task, p, run(store.StatusError, h(1, 0), 2, h(1, 36), h(1, 37)), h(1, 38), ActStart, h(2, 0), h(2, 0), 0},
		{"regular activation before the retry", task, p, run(store.StatusError, h(1, 0), 1, h(1, 15), h(1, 55)), h(1, 56), ActStart, h(2, 0), h(2, 0), 0},
		{"permanent error not retried", task, p, &store.Run{Status: store.StatusError, Activation: h(1, 0), StartTime: h(1, 0), EndTime: h(1, 5), Cause: permanentPrefix + "bad"}, h(1, 6), ActStart, h(2, 0), h(2, 0), 0},
		{"waiting resumes at the window start", task, wp, run(store.StatusWaiting, h(1, 0), 0, h(22, 0), h(23, 0)), h(23, 5), ActResume, h(22, 0).Add(24 * time.Hour), h(1, 0), 0},
		{"outside the window: wait for it", task, wp, nil, h(5, 0), ActStart, h(22, 0), h(0, 0), 0},
		{"aborted resumes now", task, p, run(store.StatusAborted, h(1, 0), 0, h(1, 0), h(1, 5)), h(1, 6), ActResume, h(1, 6), h(1, 0), 0},
		{"running is recovered", task, p, run(store.StatusRunning, h(1, 0), 0, h(1, 0), time.Time{}), h(1, 6), ActRecover, h(1, 6), h(1, 0), 0},
		{"disabled: nothing", &disabled, p, run(store.StatusDone, h(1, 0), 0, h(1, 0), h(1, 5)), h(1, 6), ActNone, time.Time{}, time.Time{}, 0},
		{"disabled but running: recovered", &disabled, p, run(store.StatusRunning, h(1, 0), 0, h(1, 0), time.Time{}), h(1, 6), ActRecover, h(1, 6), h(1, 0), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.task, tc.plan, tc.last, tc.now)
			if d.Action != tc.action || !d.At.Equal(tc.at) || !d.Activation.Equal(tc.act) || d.Attempt != tc.attempt {
				t.Errorf("Decide = %s at %v act %v attempt %d; want %s at %v act %v attempt %d",
					d.Action, d.At, d.Activation, d.Attempt, tc.action, tc.at, tc.act, tc.attempt)
			}
			// Determinism: two managers derive the same run ID.
			if d2 := Decide(tc.task, tc.plan, tc.last, tc.now.Add(time.Second)); d.Action == ActStart && d2.RunID != d.RunID {
				t.Errorf("run ID depends on now: %v vs %v", d.RunID, d2.RunID)
			}
		})
	}
}

func TestSuspendAllows(t *testing.T) {
	var none *SuspendState
	st := &SuspendState{AllowTaskType: "backup, repair"}
	for _, tc := range []struct {
		st   *SuspendState
		typ  string
		want bool
	}{
		{none, "backup", true}, {st, "healthcheck", true}, {st, "backup", true}, {st, "repair", true},
		{st, "restore", false}, {&SuspendState{}, "backup", false},
	} {
		if got := tc.st.Allows(tc.typ); got != tc.want {
			t.Errorf("%+v.Allows(%q) = %v", tc.st, tc.typ, got)
		}
	}
}
