package restapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/scheduler"
	"github.com/scyllaops/scyllaops/store"
)

// propsRunner records the properties of its runs.
type propsRunner struct {
	mu    sync.Mutex
	props []map[string]any
}

func (r *propsRunner) Run(_ context.Context, _, _, _ uuid.UUID, properties json.RawMessage) error {
	var p map[string]any
	_ = json.Unmarshal(properties, &p)
	r.mu.Lock()
	r.props = append(r.props, p)
	r.mu.Unlock()
	return nil
}

func (r *propsRunner) calls() []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]any(nil), r.props...)
}

// PUT /suspended passes no_continue (suspend and resume) and
// start_tasks_missed_activation to the Manager: a task whose only
// activation fell in the suspension runs at the resume, from scratch.
func TestSuspendResumeOptions(t *testing.T) {
	e, _, _ := newBackupEnv(t)
	ctx := t.Context()
	const c = "/api/v1/cluster/sim"
	cl, err := e.m.GetCluster(ctx, "sim")
	if err != nil {
		t.Fatal(err)
	}
	r := &propsRunner{}
	e.m.RegisterRunner("x_test", r)
	var _ scheduler.Runner = r
	task, err := e.m.CreateTask(ctx, store.Task{ClusterID: cl.ID, Type: "x_test", Enabled: true,
		Schedule: store.Schedule{StartDate: time.Now().Add(300 * time.Millisecond), Interval: 24 * time.Hour}})
	if err != nil {
		t.Fatal(err)
	}

	e.call("PUT", c+"/suspended?no_continue=true", "true", "suspended", http.StatusOK, "")
	if d, err := e.m.ClusterSuspended(ctx, cl.ID); err != nil || !d.Suspended || !d.NoContinue {
		t.Fatalf("ClusterSuspended after PUT ?no_continue=true = %+v, %v", d, err)
	}
	time.Sleep(time.Second) // the activation passes while suspended
	if n := len(r.calls()); n != 0 {
		t.Fatalf("%d runs while suspended", n)
	}
	e.call("PUT", c+"/suspended?start_tasks_missed_activation=true&no_continue=true", "false", "suspended", http.StatusOK, "")
	deadline := time.Now().Add(30 * time.Second)
	for len(r.calls()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the missed task did not start at the resume")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := r.calls()[0]["continue"]; got != false {
		t.Errorf("run started by the resume: continue = %v, want false", got)
	}
	h, err := e.m.TaskHistory(ctx, cl.ID, task.ID, 0)
	if err != nil || len(h) != 1 {
		t.Errorf("history = %d runs, %v; want 1", len(h), err)
	}
}

// Without start_tasks_missed_activation the missed activation is skipped:
// the task waits for the next one.
func TestResumeSkipsMissedActivation(t *testing.T) {
	e, _, _ := newBackupEnv(t)
	ctx := t.Context()
	cl, err := e.m.GetCluster(ctx, "sim")
	if err != nil {
		t.Fatal(err)
	}
	r := &propsRunner{}
	e.m.RegisterRunner("x_test", r)
	task, err := e.m.CreateTask(ctx, store.Task{ClusterID: cl.ID, Type: "x_test", Enabled: true,
		Schedule: store.Schedule{StartDate: time.Now().Add(300 * time.Millisecond), Interval: 24 * time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	e.call("PUT", "/api/v1/cluster/sim/suspended", "true", "suspended", http.StatusOK, "")
	time.Sleep(time.Second)
	e.call("PUT", "/api/v1/cluster/sim/suspended?start_tasks=true", "false", "suspended", http.StatusOK, "")
	time.Sleep(time.Second) // a start would take milliseconds
	if n := len(r.calls()); n != 0 {
		t.Errorf("%d runs after a resume without start_tasks_missed_activation", n)
	}
	items, err := e.m.ListTasks(ctx, cl.ID, scyllaops.TaskFilter{Type: "x_test"})
	if err != nil || len(items) != 1 || items[0].ID != task.ID {
		t.Fatalf("ListTasks = %+v, %v", items, err)
	}
	if next := items[0].NextActivation; next == nil || time.Until(*next) < 23*time.Hour {
		t.Errorf("next activation %v, want about a day from now", next)
	}
}
