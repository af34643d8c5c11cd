package scyllaops_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/scyllaops/scyllaops/backup"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/memstore"
)

// TestPurgeBackups: two backups kept by retention 2; after the task's
// retention drops to 1, a direct purge leaves the newest snapshot only,
// and it still validates with 0 missing files.
func TestPurgeBackups(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	m, _, c := simManager(t, st)
	task, err := m.CreateTask(ctx, store.Task{ClusterID: c.ID, Type: "backup", Name: "b", Enabled: true,
		Schedule: store.Schedule{Cron: "0 3 1 1 *"}, Properties: json.RawMessage(`{"location":["localstorage:b1"],"retention":2}`)})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var last string
	for range 2 {
		if err := m.StartTask(ctx, c.ID, task.ID, true); err != nil {
			t.Fatal(err)
		}
		run := waitRun(wctx, m, c.ID, task.ID)
		for run.Status != store.StatusDone || run.ID.String() == last {
			if wctx.Err() != nil || (run.Status.Final() && run.Status != store.StatusDone && run.ID.String() != last) {
				t.Fatalf("backup run %s: %s", run.Status, run.Cause)
			}
			time.Sleep(50 * time.Millisecond)
			run = waitRun(wctx, m, c.ID, task.ID)
		}
		last = run.ID.String()
		time.Sleep(1100 * time.Millisecond) // distinct snapshot tags (one-second resolution)
	}
	snapshots := func() []backup.SnapshotInfo {
		list, err := m.Backup().List(ctx, "p", nil, backup.ListFilter{})
		if err != nil || len(list) != 1 {
			t.Fatalf("list = %+v, %v", list, err)
		}
		return list[0].SnapshotInfo
	}
	before := snapshots()
	if len(before) != 2 {
		t.Fatalf("%d snapshots kept with retention 2, want 2", len(before))
	}

	task.Properties = json.RawMessage(`{"location":["localstorage:b1"],"retention":1}`)
	if _, err := m.UpdateTask(ctx, task); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Backup().Purge(ctx, "p", task.ID); err != nil {
		t.Fatal(err)
	}
	after := snapshots()
	if len(after) != 1 || after[0].SnapshotTag != max(before[0].SnapshotTag, before[1].SnapshotTag) {
		t.Fatalf("after purge with retention 1: %+v, want the newest of %+v", after, before)
	}
	reports, err := m.Backup().Validate(ctx, "p", nil, backup.ValidateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reports {
		if r.MissingFiles != 0 || r.OrphanedFiles != 0 {
			t.Errorf("validate %s after purge: %d missing, %d orphaned", r.Host, r.MissingFiles, r.OrphanedFiles)
		}
	}
	if _, err := m.Backup().Purge(ctx, "p", c.ID); err == nil {
		t.Fatal("purge of an unknown task succeeded")
	}

	// Without locations, the calls take the locations of the cluster's
	// backup tasks, disabled ones included (their snapshots are still
	// there); a deleted task's are not taken.
	task.Enabled = false
	if _, err := m.UpdateTask(ctx, task); err != nil {
		t.Fatal(err)
	}
	if got := snapshots(); len(got) != 1 {
		t.Errorf("list with the task disabled: %+v, want its snapshot", got)
	}
	if err := m.DeleteTask(ctx, c.ID, task.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Backup().List(ctx, "p", nil, backup.ListFilter{}); err == nil || !strings.Contains(err.Error(), "locations") {
		t.Errorf("list with no backup task left = %v, want an error naming locations", err)
	}
}
