package scyllaops_test

import (
	"context"
	"encoding/json"
	"testing"
	"testing/synctest"
	"time"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/backup"
	"github.com/scyllaops/scyllaops/scheduler"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/memstore"
)

// The backup service cleans up after runs stopped by a suspension with
// no_continue.
var _ scheduler.Cleaner = (*backup.Service)(nil)

// TestSuspendNoContinueBackup: a backup stopped by a suspension keeps its
// snapshot on the nodes and, resumed with start_tasks, finishes with that
// snapshot; with no_continue the suspension deletes the snapshot from
// every node before it returns and the restarted run takes a new one.
func TestSuspendNoContinueBackup(t *testing.T) {
	for _, noContinue := range []bool{false, true} {
		t.Run(map[bool]string{false: "continue", true: "no_continue"}[noContinue], func(t *testing.T) {
			ctx := t.Context()
			m, sim, c := simManager(t, memstore.New())
			task, err := m.CreateTask(ctx, store.Task{ClusterID: c.ID, Type: "backup", Name: "b", Enabled: true,
				Schedule: store.Schedule{Cron: "0 3 1 1 *"}, Properties: json.RawMessage(`{"location":["localstorage:b1"]}`)})
			if err != nil {
				t.Fatal(err)
			}
			// tags returns the snapshot tags on each node.
			tags := func() map[string]bool {
				out := map[string]bool{}
				for _, n := range sim.Nodes() {
					snaps, err := sim.Snapshots(n)
					if err != nil {
						t.Fatal(err)
					}
					for _, s := range snaps {
						out[n.IP+" "+s.Tag] = true
					}
				}
				return out
			}
			if err := m.StartTask(ctx, c.ID, task.ID, true); err != nil {
				t.Fatal(err)
			}
			// Wait until the run is past its SNAPSHOT stage (a run stopped
			// while snapshotting is never continued: its snapshot may be
			// partial), then hold it: its next agent requests hang until it
			// is stopped.
			wctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			var stoppedTag string
			for {
				_, raw, err := m.RunProgress(ctx, c.ID, task.ID, "latest")
				var p backup.RunProgress
				if err == nil && json.Unmarshal(raw, &p) == nil && p.SnapshotTag != "" &&
					p.Stage != string(backup.StageInit) && p.Stage != string(backup.StageSnapshot) {
					stoppedTag = p.SnapshotTag
					break
				}
				if wctx.Err() != nil {
					t.Fatal("the run did not get past SNAPSHOT within a minute")
				}
				time.Sleep(5 * time.Millisecond)
			}
			for _, n := range sim.Nodes() {
				sim.SetLatency(n, time.Hour)
			}
			time.Sleep(300 * time.Millisecond) // the requests in flight end, the next ones hang
			for _, n := range sim.Nodes() {
				sim.SetLatency(n, 0) // for the cleanup; the hung requests stay hung
			}
			if err := m.SuspendCluster(ctx, c.ID, scyllaops.SuspendOptions{NoContinue: noContinue}); err != nil {
				t.Fatal(err)
			}
			if d, err := m.ClusterSuspended(ctx, c.ID); err != nil || d.NoContinue != noContinue {
				t.Errorf("ClusterSuspended = %+v, %v", d, err)
			}
			run := waitRun(wctx, m, c.ID, task.ID)
			if run.Status != store.StatusStopped {
				t.Fatalf("run after suspend: %s %s, want STOPPED", run.Status, run.Cause)
			}
			left := tags()
			if noContinue && len(left) != 0 {
				t.Errorf("snapshots left on the nodes after suspend with no_continue: %v", left)
			}
			if !noContinue && len(left) != len(sim.Nodes()) {
				t.Errorf("snapshots after suspend: %v, want the stopped run's on every node", left)
			}
			if err := m.ResumeCluster(ctx, c.ID, scyllaops.ResumeOptions{StartTasks: true}); err != nil {
				t.Fatal(err)
			}
			for run = waitRun(wctx, m, c.ID, task.ID); run.Status != store.StatusDone; run = waitRun(wctx, m, c.ID, task.ID) {
				if wctx.Err() != nil || run.Status != store.StatusStopped {
					t.Fatalf("run after resume: %s %s", run.Status, run.Cause)
				}
				time.Sleep(20 * time.Millisecond)
			}
			list, err := m.Backup().List(ctx, "p", nil, backup.ListFilter{})
			if err != nil || len(list) != 1 || len(list[0].SnapshotInfo) != 1 {
				t.Fatalf("backups %+v, %v; want one snapshot", list, err)
			}
			got := list[0].SnapshotInfo[0].SnapshotTag
			if noContinue && got == stoppedTag || !noContinue && got != stoppedTag {
				t.Errorf("backup after resume has snapshot %s, the stopped run had %s (no_continue %v)", got, stoppedTag, noContinue)
			}
			if left := tags(); len(left) != 0 {
				t.Errorf("snapshots left on the nodes after the backup: %v", left)
			}
		})
	}
}

// TestResumeClusterOptions: after a suspension over two activations of an
// hourly task, resume waits for the next activation by default, and with
// StartTasksMissedActivation (and NoContinue) starts the task at once
// (from scratch).
func TestResumeClusterOptions(t *testing.T) {
	for _, tc := range []struct {
		name     string
		o        scyllaops.ResumeOptions
		wantRuns int // in the 10 minutes after the resume at 03:30
		wantCont string
	}{
		{"default", scyllaops.ResumeOptions{}, 0, ""},
		{"missed", scyllaops.ResumeOptions{StartTasksMissedActivation: true}, 1, ""},
		{"missed no_continue", scyllaops.ResumeOptions{StartTasksMissedActivation: true, NoContinue: true}, 1, "false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m, st, cluster := newTaskManager(t, scyllaops.Options{})
				r := &mockRunner{st: st, dur: time.Minute}
				m.RegisterRunner("backup", r)
				ctx := t.Context()
				b, err := m.CreateTask(ctx, store.Task{ClusterID: cluster, Type: "backup", Enabled: true, Schedule: store.Schedule{Cron: "0 * * * *"}})
				if err != nil {
					t.Fatal(err)
				}
				stop := runManager(t, m)
				time.Sleep(90 * time.Minute) // 01:30: the 00:00 and 01:00 runs are done
				before, _ := m.TaskHistory(ctx, cluster, b.ID, 0)
				if err := m.SuspendCluster(ctx, cluster, scyllaops.SuspendOptions{}); err != nil {
					t.Fatal(err)
				}
				time.Sleep(2 * time.Hour) // 03:30: 02:00 and 03:00 missed
				if err := m.ResumeCluster(ctx, cluster, tc.o); err != nil {
					t.Fatal(err)
				}
				time.Sleep(10 * time.Minute)
				stop()
				h, _ := m.TaskHistory(ctx, cluster, b.ID, 0)
				if got := len(h) - len(before); got != tc.wantRuns {
					t.Fatalf("runs after resume: %d, want %d", got, tc.wantRuns)
				}
				if tc.wantRuns == 0 {
					return
				}
				r.mu.Lock()
				last := r.props[len(r.props)-1]
				r.mu.Unlock()
				var p struct {
					Continue *bool `json:"continue"`
				}
				if err := json.Unmarshal(last, &p); err != nil {
					t.Fatal(err)
				}
				if got := map[bool]string{true: "false"}[p.Continue != nil && !*p.Continue]; got != tc.wantCont {
					t.Errorf("properties of the run at resume: %s", last)
				}
			})
		})
	}
}
