package scheduler_test

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/scheduler"
	"github.com/scyllaops/scyllaops/store"
)

// The bubble's clock starts at 2000-01-01 00:00:00 UTC (a Saturday).

func TestCronAcrossDST(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		waw, _ := time.LoadLocation("Europe/Warsaw")
		// Warsaw switched to summer time on 2000-03-26 02:00.
		time.Sleep(time.Until(time.Date(2000, 3, 23, 12, 0, 0, 0, time.UTC)))
		task := e.task(e.cluster, "backup", store.Schedule{Cron: "0 9 * * *", Timezone: "Europe/Warsaw"})
		rec := newRecorder(time.Minute)
		s := e.start(scheduler.Options{SyncInterval: 10 * time.Minute}, map[string]scheduler.Runner{"backup": rec})
		time.Sleep(5 * 24 * time.Hour)
		s.stop()
		runs := e.runs(task.ID)
		want := []string{"2000-03-24T08:00:00Z", "2000-03-25T08:00:00Z", "2000-03-26T07:00:00Z", "2000-03-27T07:00:00Z", "2000-03-28T07:00:00Z"}
		if len(runs) != len(want) {
			t.Fatalf("%d runs, want %d", len(runs), len(want))
		}
		for i, r := range runs {
			if got := r.Activation.UTC().Format(time.RFC3339); got != want[i] {
				t.Errorf("run %d activation %s, want %s", i, got, want[i])
			}
			if r.Status != store.StatusDone || r.StartTime.In(waw).Hour() != 9 {
				t.Errorf("run %d: %s started %v", i, r.Status, r.StartTime.In(waw))
			}
			if r.ID != scheduler.DeriveRunID(task.ID, r.Activation, 0) {
				t.Errorf("run %d: ID %v is not derived from the activation", i, r.ID)
			}
		}
	})
}

func TestWindowWaitingThenContinue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		// Daily at midnight; window 01:00-02:00; the work needs 90 min.
		task := e.task(e.cluster, "repair", store.Schedule{Cron: "@daily", Window: []string{"01:00", "02:00"}})
		rec := newRecorder(90 * time.Minute)
		s := e.start(scheduler.Options{}, map[string]scheduler.Runner{"repair": rec})

		time.Sleep(2*24*time.Hour + 75*time.Minute) // day 3, 01:15
		synctest.Wait()
		runs := e.runs(task.ID)
		if len(runs) != 1 {
			t.Fatalf("%d runs after the first window, want 1", len(runs))
		}
		first := runs[0]
		if first.Status != store.StatusRunning || first.Cause != "" {
			t.Fatalf("run %s (%s), want RUNNING again in the second window", first.Status, first.Cause)
		}
		time.Sleep(time.Hour)
		s.stop()
		calls := rec.snapshot()
		if len(calls) < 2 {
			t.Fatalf("%d runner calls, want >= 2", len(calls))
		}
		if calls[0].run != first.ID || calls[1].run != first.ID {
			t.Errorf("the continuation is not the same run: %v %v", calls[0].run, calls[1].run)
		}
		if !errors.Is(calls[0].cause, scheduler.ErrOutOfWindow) {
			t.Errorf("first call stopped by %v, want ErrOutOfWindow", calls[0].cause)
		}
		if want := time.Date(2000, 1, 2, 1, 0, 0, 0, time.UTC); !calls[0].at.Equal(want) {
			t.Errorf("first call at %v, want window start %v", calls[0].at, want)
		}
		if want := time.Date(2000, 1, 3, 1, 0, 0, 0, time.UTC); !calls[1].at.Equal(want) {
			t.Errorf("continuation at %v, want next window start %v", calls[1].at, want)
		}
		if calls[1].props["continue"] != true {
			t.Errorf("continuation properties %v, want continue=true", calls[1].props)
		}
		got, err := e.st.GetRun(t.Context(), task.ID, first.ID)
		if err != nil || got.Status != store.StatusDone {
			t.Fatalf("run = %+v, %v; want DONE", got, err)
		}
		var statuses []string
		for _, ev := range e.events(store.EventQuery{RunID: first.ID}) {
			if ev.Kind == "run_status" {
				statuses = append(statuses, ev.Attributes["status"])
			}
		}
		want := []string{"RUNNING", "WAITING", "RUNNING", "DONE"}
		if len(statuses) < 4 || !equal(statuses[:4], want) {
			t.Errorf("status events %v, want %v", statuses, want)
		}
	})
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRetryBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		task := e.task(e.cluster, "backup", store.Schedule{Cron: "@daily", NumRetries: 3, RetryWait: 10 * time.Minute})
		rec := newRecorder(0)
		rec.fail = errors.New("node down")
		s := e.start(scheduler.Options{}, map[string]scheduler.Runner{"backup": rec})
		time.Sleep(24*time.Hour + 12*time.Hour)
		s.stop()
		runs := e.runs(task.ID)
		day1 := time.Date(2000, 1, 2, 0, 0, 0, 0, time.UTC)
		wantStarts := []time.Duration{0, 10 * time.Minute, 30 * time.Minute, 70 * time.Minute}
		if len(runs) != len(wantStarts) {
			t.Fatalf("%d runs, want %d", len(runs), len(wantStarts))
		}
		for i, r := range runs {
			if !r.StartTime.Equal(day1.Add(wantStarts[i])) || r.Attempt != i || r.Status != store.StatusError || !r.Activation.Equal(day1) {
				t.Errorf("run %d: start %v attempt %d status %s activation %v", i, r.StartTime, r.Attempt, r.Status, r.Activation)
			}
		}
		// One final-failure event, one retry event per retry.
		count := map[string]int{}
		for _, ev := range e.events(store.EventQuery{TaskID: task.ID}) {
			count[ev.Kind]++
		}
		if count["run_failed"] != 1 || count["retry"] != 3 {
			t.Errorf("events %v, want run_failed=1 retry=3", count)
		}
	})
}

func TestBackoffCapped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		task := e.task(e.cluster, "backup", store.Schedule{Cron: "0 0 1 * *", NumRetries: 6, RetryWait: time.Hour, StartDate: time.Now()})
		rec := newRecorder(0)
		rec.fail = errors.New("boom")
		s := e.start(scheduler.Options{}, map[string]scheduler.Runner{"backup": rec})
		time.Sleep(24 * time.Hour)
		s.stop()
		runs := e.runs(task.ID)
		// Waits: 1h, 2h, 3h (cap), 3h, 3h, 3h.
		want := []time.Duration{time.Hour, 2 * time.Hour, 3 * time.Hour, 3 * time.Hour, 3 * time.Hour, 3 * time.Hour}
		if len(runs) != 7 {
			t.Fatalf("%d runs, want 7", len(runs))
		}
		for i, w := range want {
			if got := runs[i+1].StartTime.Sub(runs[i].EndTime); got != w {
				t.Errorf("wait before retry %d = %v, want %v", i+1, got, w)
			}
		}
	})
}

func TestMissedActivationsOneCatchUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		task := e.task(e.cluster, "backup", store.Schedule{Cron: "0 * * * *"})
		rec := newRecorder(time.Minute)
		a := e.start(scheduler.Options{OwnerID: "a"}, map[string]scheduler.Runner{"backup": rec})
		time.Sleep(3*time.Hour + 30*time.Minute)
		a.stop()
		if n := len(e.runs(task.ID)); n != 3 {
			t.Fatalf("%d runs before downtime, want 3", n)
		}
		time.Sleep(5 * time.Hour) // down from 03:30 to 08:30
		b := e.start(scheduler.Options{OwnerID: "b"}, map[string]scheduler.Runner{"backup": rec})
		time.Sleep(45 * time.Minute) // to 09:15
		b.stop()
		runs := e.runs(task.ID)
		if len(runs) != 5 {
			t.Fatalf("%d runs, want 3 + 1 catch-up + 1 regular", len(runs))
		}
		if got, want := runs[3].StartTime, time.Date(2000, 1, 1, 8, 30, 0, 0, time.UTC); !got.Equal(want) {
			t.Errorf("catch-up started %v, want %v (at restart)", got, want)
		}
		if got, want := runs[4].StartTime, time.Date(2000, 1, 1, 9, 0, 0, 0, time.UTC); !got.Equal(want) {
			t.Errorf("next run started %v, want %v", got, want)
		}
	})
}

func TestSuspendResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		hourly := e.task(e.cluster, "backup", store.Schedule{Cron: "0 * * * *"})
		health := e.task(e.cluster, "healthcheck", store.Schedule{Cron: "*/10 * * * *"})
		long := e.task(e.cluster, "repair", store.Schedule{Cron: "30 0 * * *"})
		rec := newRecorder(time.Minute)
		hc := newRecorder(time.Second)
		slow := newRecorder(2 * time.Hour)
		s := e.start(scheduler.Options{}, map[string]scheduler.Runner{"backup": rec, "healthcheck": hc, "repair": slow})
		time.Sleep(45 * time.Minute) // 00:45: repair running since 00:30
		if err := s.Suspend(t.Context(), e.cluster, "", false); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		rr := e.runs(long.ID)
		if len(rr) != 1 || rr[0].Status != store.StatusStopped || rr[0].Cause != scheduler.ErrSuspended.Error() {
			t.Fatalf("repair runs %+v, want one STOPPED by suspension", rr)
		}
		st, err := s.Suspended(t.Context(), e.cluster)
		if err != nil || st == nil || len(st.RunningTasks) != 1 || st.RunningTasks[0] != long.ID {
			t.Fatalf("Suspended = %+v, %v", st, err)
		}
		if err := s.Trigger(t.Context(), e.cluster, hourly.ID, true); !errors.Is(err, scheduler.ErrSuspended) {
			t.Errorf("Trigger while suspended = %v, want ErrSuspended", err)
		}
		nb, nh := len(e.runs(hourly.ID)), len(hc.snapshot())
		time.Sleep(3 * time.Hour) // 03:45
		if n := len(e.runs(hourly.ID)); n != nb {
			t.Errorf("backup ran %d times while suspended", n-nb)
		}
		if n := len(hc.snapshot()); n-nh != 18 {
			t.Errorf("healthcheck ran %d times while suspended, want 18", n-nh)
		}
		// Health checks reuse one run record.
		if hr := e.runs(health.ID); len(hr) != 1 || hr[0].ID != scheduler.FixedRunID(health.ID) || hr[0].Status != store.StatusDone {
			t.Errorf("healthcheck run records: %d, want the one fixed record DONE", len(hr))
		}
		if err := s.Resume(t.Context(), e.cluster, true); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Minute) // 04:05
		s.stop()
		br := e.runs(hourly.ID)
		// The missed hours are skipped (no start_tasks_missed_activation):
		// only 04:00.
		if len(br)-nb != 1 {
			t.Errorf("backup ran %d times after resume, want 1", len(br)-nb)
		}
		rr = e.runs(long.ID)
		if len(rr) != 2 || rr[1].Status != store.StatusRunning && rr[1].Status != store.StatusAborted {
			t.Errorf("repair runs after resume with start_tasks: %d (last %s), want a second one started", len(rr), rr[len(rr)-1].Status)
		}
	})
}

func TestExclusion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		other := e.addCluster("other")
		rec := newRecorder(10 * time.Minute)
		rec.keyFunc = func(c, _ uuid.UUID) string { return c.String() }
		hc := newRecorder(10 * time.Minute)
		var backups []*store.Task
		for range 3 {
			backups = append(backups, e.task(e.cluster, "backup", store.Schedule{Cron: "0 * * * *"}))
		}
		otherBackup := e.task(other, "backup", store.Schedule{Cron: "0 * * * *"})
		for range 3 {
			e.task(e.cluster, "healthcheck", store.Schedule{Cron: "0 * * * *"})
		}
		s := e.start(scheduler.Options{}, map[string]scheduler.Runner{"backup": rec, "healthcheck": hc})
		time.Sleep(time.Hour + 55*time.Minute)
		s.stop()
		if m := rec.maxConcurrent(e.cluster.String()); m != 1 {
			t.Errorf("max concurrent backups on a cluster = %d, want 1", m)
		}
		if m := rec.maxConcurrent(other.String()); m != 1 {
			t.Errorf("max concurrent backups on the other cluster = %d, want 1", m)
		}
		if m := hc.maxConcurrent("all"); m != 3 {
			t.Errorf("max concurrent health checks = %d, want 3 (they run in parallel)", m)
		}
		for _, b := range append(backups, otherBackup) {
			if rs := e.runs(b.ID); len(rs) != 1 || rs[0].Status != store.StatusDone {
				t.Errorf("backup task %v: %d runs, want 1 DONE (waited, not dropped)", b.ID, len(rs))
			}
		}
	})
}

func TestRestoreExcludesBackupAndRepair(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		rec := newRecorder(10 * time.Minute)
		restore := e.task(e.cluster, "restore", store.Schedule{StartDate: time.Now().Add(time.Minute)})
		backup := e.task(e.cluster, "backup", store.Schedule{StartDate: time.Now().Add(2 * time.Minute)})
		repair := e.task(e.cluster, "repair", store.Schedule{StartDate: time.Now().Add(3 * time.Minute)})
		s := e.start(scheduler.Options{}, map[string]scheduler.Runner{"restore": rec, "backup": rec, "repair": rec})
		time.Sleep(time.Hour)
		s.stop()
		rs, bs, ps := e.runs(restore.ID), e.runs(backup.ID), e.runs(repair.ID)
		if len(rs) != 1 || len(bs) != 1 || len(ps) != 1 {
			t.Fatalf("runs: restore %d backup %d repair %d", len(rs), len(bs), len(ps))
		}
		if !bs[0].StartTime.Equal(rs[0].EndTime) {
			t.Errorf("backup started %v, want when the restore ended %v", bs[0].StartTime, rs[0].EndTime)
		}
		// Backup and repair exclude only the restore, not each other.
		if !ps[0].StartTime.Equal(rs[0].EndTime) {
			t.Errorf("repair started %v, want when the restore ended %v", ps[0].StartTime, rs[0].EndTime)
		}
	})
}

func TestThrottleQueuesNeverDrops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		c2, c3 := e.addCluster("c2"), e.addCluster("c3")
		rec := newRecorder(5 * time.Minute)
		var tasks []*store.Task
		for _, c := range []uuid.UUID{e.cluster, c2, c3} {
			for range 2 {
				tasks = append(tasks, e.task(c, "healthcheck", store.Schedule{StartDate: time.Now().Add(time.Minute)}))
			}
		}
		s := e.start(scheduler.Options{MaxRuns: 2, MaxRunsPerCluster: 1}, map[string]scheduler.Runner{"healthcheck": rec})
		time.Sleep(time.Hour)
		s.stop()
		if m := rec.maxConcurrent("all"); m != 2 {
			t.Errorf("max concurrent runs = %d, want 2 (MaxRuns)", m)
		}
		var ends []time.Time
		for _, tk := range tasks {
			rs := e.runs(tk.ID)
			if len(rs) != 1 || rs[0].Status != store.StatusDone {
				t.Fatalf("task %v: %d runs, want 1 DONE", tk.ID, len(rs))
			}
			ends = append(ends, rs[0].EndTime)
		}
		// Per cluster, the two tasks ran one after the other.
		for i := 0; i < len(tasks); i += 2 {
			if ends[i].Equal(ends[i+1]) {
				t.Errorf("cluster %d: both runs ended at %v, want sequential", i/2, ends[i])
			}
		}
	})
}

func TestStopAndTrigger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		task := e.task(e.cluster, "backup", store.Schedule{Cron: "0 0 * * *"})
		rec := newRecorder(time.Hour)
		s := e.start(scheduler.Options{}, map[string]scheduler.Runner{"backup": rec})
		time.Sleep(time.Minute)
		if err := s.Trigger(t.Context(), e.cluster, task.ID, false); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if err := s.Trigger(t.Context(), e.cluster, task.ID, true); !errors.Is(err, store.ErrConflict) {
			t.Errorf("second Trigger = %v, want ErrConflict", err)
		}
		time.Sleep(time.Minute)
		if err := s.StopWithCause(t.Context(), e.cluster, task.ID, errors.New("maintenance"), true); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		time.Sleep(48 * time.Hour) // disabled: no more runs
		s.stop()
		runs := e.runs(task.ID)
		if len(runs) != 1 {
			t.Fatalf("%d runs, want 1", len(runs))
		}
		if r := runs[0]; r.Status != store.StatusStopped || r.Cause != "task was stopped: maintenance" {
			t.Errorf("run %s (%s), want STOPPED with the cause", r.Status, r.Cause)
		}
		if c := rec.snapshot(); len(c) != 1 || c[0].props["continue"] != false {
			t.Errorf("calls %+v, want one with continue=false", c)
		}
		var statuses []string
		for _, ev := range e.events(store.EventQuery{RunID: runs[0].ID}) {
			statuses = append(statuses, ev.Attributes["status"])
		}
		if !equal(statuses, []string{"RUNNING", "STOPPING", "STOPPED"}) {
			t.Errorf("status events %v", statuses)
		}
		got, _ := e.st.GetTask(t.Context(), e.cluster, task.ID)
		if got.Enabled {
			t.Error("task still enabled after Stop(disable)")
		}
	})
}

func TestShutdownAbortsAndResumes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		task := e.task(e.cluster, "backup", store.Schedule{Cron: "0 0 * * *", StartDate: time.Now()})
		rec := newRecorder(time.Hour)
		a := e.start(scheduler.Options{OwnerID: "a"}, map[string]scheduler.Runner{"backup": rec})
		time.Sleep(20 * time.Minute)
		a.stop()
		runs := e.runs(task.ID)
		if len(runs) != 1 || runs[0].Status != store.StatusAborted || runs[0].Cause != scheduler.ErrClosed.Error() {
			t.Fatalf("runs after shutdown %d (%+v), want one ABORTED", len(runs), *runs[0])
		}
		b := e.start(scheduler.Options{OwnerID: "b"}, map[string]scheduler.Runner{"backup": rec})
		time.Sleep(time.Hour)
		b.stop()
		runs = e.runs(task.ID)
		if len(runs) != 1 || runs[0].Status != store.StatusDone || runs[0].Owner != "b" {
			t.Fatalf("runs %+v, want the same run DONE by b", runs)
		}
		c := rec.snapshot()
		if len(c) != 2 || c[1].props["continue"] != true || !c[1].at.Equal(time.Date(2000, 1, 1, 0, 20, 0, 0, time.UTC)) {
			t.Errorf("calls %+v, want the resume at restart with continue=true", c)
		}
	})
}
