package restapi_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/scyllaops/scyllaops/restapi"
	"github.com/scyllaops/scyllaops/store"
)

// The Go client over a running Manager: tasks, progress, suspend, and
// errors that match the store sentinels.
func TestClientTasksAndSuspend(t *testing.T) {
	e, _, _ := newBackupEnv(t)
	c, ctx := e.client, t.Context()

	ts, err := c.ListTasks(ctx, "sim", restapi.ListTasksOptions{Type: "healthcheck", Short: true})
	if err != nil || len(ts) != 3 {
		t.Fatalf("ListTasks = %d tasks, %v; want the 3 health checks", len(ts), err)
	}
	id, err := c.CreateTask(ctx, "sim", restapi.TaskUpdate{Type: "healthcheck", Name: "p", Enabled: true,
		Schedule: &restapi.Schedule{Cron: "@daily"}, Properties: json.RawMessage(`{"mode":"cql"}`)})
	if err != nil {
		t.Fatal(err)
	}
	task, err := c.GetTask(ctx, "sim", "healthcheck", id)
	if err != nil || task.Name != "p" || restapi.CronSpec(task.Schedule.Cron) != "@daily" {
		t.Fatalf("GetTask = %+v, %v", task, err)
	}
	task.Schedule.NumRetries = 2
	upd, err := c.UpdateTask(ctx, "sim", "healthcheck", id, restapi.TaskUpdate{Type: "healthcheck", Name: "p", Enabled: true, Schedule: &task.Schedule, Properties: task.Properties})
	if err != nil || upd.Schedule.NumRetries != 2 {
		t.Fatalf("UpdateTask = %+v, %v", upd, err)
	}
	if err := c.StartTask(ctx, "sim", "healthcheck", id, true); err != nil {
		t.Fatal(err)
	}
	p := e.waitRun("/api/v1/cluster/sim/task/healthcheck/"+id, "run_progress")
	runs, err := c.TaskHistory(ctx, "sim", "healthcheck", id, 0)
	if err != nil || len(runs) != 1 || runs[0].ID != p.Run.ID {
		t.Fatalf("TaskHistory = %+v, %v", runs, err)
	}
	rp, err := c.RunProgress(ctx, "sim", "healthcheck", id, p.Run.ID)
	if err != nil || rp.Run.Status != "DONE" {
		t.Fatalf("RunProgress = %+v, %v", rp, err)
	}
	if err := c.StopTask(ctx, "sim", "healthcheck", id, true); err != nil {
		t.Fatal(err)
	}

	if err := c.Suspend(ctx, "sim", restapi.SuspendOptions{}); err != nil {
		t.Fatal(err)
	}
	if s, err := c.Suspended(ctx, "sim"); err != nil || !s {
		t.Fatalf("Suspended = %v, %v", s, err)
	}
	if d, err := c.SuspendDetails(ctx, "sim"); err != nil || !d.Suspended {
		t.Fatalf("SuspendDetails = %+v, %v", d, err)
	}
	if err := c.Resume(ctx, "sim", restapi.ResumeOptions{}); err != nil {
		t.Fatal(err)
	}
	if s, err := c.Suspended(ctx, "sim"); err != nil || s {
		t.Fatalf("Suspended after resume = %v, %v", s, err)
	}

	if err := c.DeleteTask(ctx, "sim", "healthcheck", id); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetTask(ctx, "sim", "healthcheck", id)
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetTask after delete = %v, want ErrNotFound", err)
	}
	_, err = c.CreateTask(ctx, "sim", restapi.TaskUpdate{Type: "healthcheck", Properties: json.RawMessage(`{"mode":"x"}`)})
	var ae *restapi.APIError
	if !errors.Is(err, store.ErrInvalid) || !errors.As(err, &ae) || ae.StatusCode != 400 || ae.TraceID == "" {
		t.Errorf("CreateTask with a bad mode = %v, want a 400 APIError", err)
	}
}
