package scyllaops_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/backup"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/memstore"
)

// runOnce starts task and waits (up to 2 minutes) for the final state of
// a run started after the call.
func runOnce(t *testing.T, m *scyllaops.Manager, clusterID, taskID uuid.UUID) store.Run {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	before, _, _ := m.RunProgress(ctx, clusterID, taskID, "latest")
	if err := m.StartTask(ctx, clusterID, taskID, true); err != nil {
		t.Fatal(err)
	}
	for {
		run, _, err := m.RunProgress(ctx, clusterID, taskID, "latest")
		if err == nil && run.ID != before.ID && run.Status.Final() && run.Status != store.StatusAborted {
			return run
		}
		if ctx.Err() != nil {
			t.Fatalf("task %s: no final run: last %s (%s)", taskID, run.Status, run.Cause)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestValidateBackupInjectsLocations: a validate_backup task without
// location may be created (its other properties are still checked); its
// run fails naming "location" while the cluster has no backup task, and
// validates the locations of the cluster's live backup tasks (not of the
// deleted ones) once it has.
func TestValidateBackupInjectsLocations(t *testing.T) {
	ctx := t.Context()
	m, _, c := simManager(t, memstore.New())
	newTask := func(typ, props string) (store.Task, error) {
		return m.CreateTask(ctx, store.Task{ClusterID: c.ID, Type: typ, Enabled: true,
			Schedule: store.Schedule{Cron: "0 3 1 1 *"}, Properties: json.RawMessage(props)})
	}

	// Other properties of a location-less task are still validated.
	for props, field := range map[string]string{`{"parallel":-1}`: "parallel", `{"locaton":["s3:b"]}`: "locaton"} {
		_, err := newTask(backup.ValidateTaskType, props)
		if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), field) {
			t.Errorf("validate_backup %s: err %v, want ErrInvalid naming %s", props, err, field)
		}
	}
	v, err := newTask(backup.ValidateTaskType, `{}`)
	if err != nil {
		t.Fatalf("validate_backup without location: %v", err)
	}

	// No backup task: the run fails, naming location.
	if run := runOnce(t, m, c.ID, v.ID); run.Status != store.StatusError || !strings.Contains(run.Cause, "location") {
		t.Fatalf("without backup tasks: run %s (%s), want ERROR naming location", run.Status, run.Cause)
	}

	b, err := newTask(backup.TaskType, `{"location":["localstorage:b1"]}`)
	if err != nil {
		t.Fatal(err)
	}
	if run := runOnce(t, m, c.ID, b.ID); run.Status != store.StatusDone {
		t.Fatalf("backup run %s: %s", run.Status, run.Cause)
	}
	// A deleted backup task's location is not validated (the bucket does
	// not exist: validating it would fail the run).
	gone, err := newTask(backup.TaskType, `{"location":["localstorage:gone"]}`)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.DeleteTask(ctx, c.ID, gone.ID); err != nil {
		t.Fatal(err)
	}

	run := runOnce(t, m, c.ID, v.ID)
	if run.Status != store.StatusDone {
		t.Fatalf("validate run %s: %s", run.Status, run.Cause)
	}
	_, raw, err := m.RunProgress(ctx, c.ID, v.ID, run.ID.String())
	if err != nil {
		t.Fatal(err)
	}
	var reps []backup.ValidateReport
	if err := json.Unmarshal(raw, &reps); err != nil {
		t.Fatalf("progress %s: %v", raw, err)
	}
	if len(reps) == 0 {
		t.Fatalf("no validate reports: %s", raw)
	}
	for _, r := range reps {
		if r.Location != "localstorage:b1" || r.Manifests == 0 {
			t.Errorf("report %+v: want location localstorage:b1 with manifests", r)
		}
	}
	// The task itself keeps no location: the next run takes the
	// locations of the backup tasks of that time.
	got, err := m.GetTask(ctx, c.ID, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(got.Properties), "b1") {
		t.Errorf("task properties %s: the injected locations were stored", got.Properties)
	}
}
