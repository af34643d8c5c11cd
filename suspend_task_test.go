package scyllaops_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/scheduler"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/memstore"
)

// TestSuspendTaskProperties: bad suspend properties are refused at
// creation, naming the field.
func TestSuspendTaskProperties(t *testing.T) {
	ctx := t.Context()
	m, _, c := simManager(t, memstore.New())
	for props, field := range map[string]string{
		`{}`:                                        "duration",
		`{"start_tasks":true}`:                      "duration",
		`{"duration":"0"}`:                          "duration",
		`{"duration":"-1h"}`:                        "duration",
		`{"duration":"soon"}`:                       "duration",
		`{"duration":60}`:                           "duration",
		`{"duration":"1h","start_tasks":"yes"}`:     "start_tasks",
		`{"duration":"1h","durations":"1h"}`:        "properties.durations",
		`{"duration":"1h","allow_task_type":"zzz"}`: "allow_task_type",
		`{"duration":"1h","suspend_policy":"wait"}`: "suspend_policy",
	} {
		_, err := m.CreateTask(ctx, store.Task{ClusterID: c.ID, Type: scheduler.SuspendTaskType, Enabled: true,
			Schedule: store.Schedule{Cron: "0 3 1 1 *"}, Properties: json.RawMessage(props)})
		var ie *store.InvalidError
		if !errors.As(err, &ie) || ie.Field != field {
			t.Errorf("properties %s: err %v, want an invalid %s", props, err, field)
		}
	}
	for _, props := range []string{`{"duration":"1h30m"}`, `{"duration":"7d","start_tasks":true,"allow_task_type":"backup"}`, `{"resume":true}`} {
		if _, err := m.CreateTask(ctx, store.Task{ClusterID: c.ID, Type: scheduler.SuspendTaskType, Enabled: true,
			Schedule: store.Schedule{Cron: "0 3 1 1 *"}, Properties: json.RawMessage(props)}); err != nil {
			t.Errorf("properties %s: %v", props, err)
		}
	}
}

// sleeper is a Runner whose runs last until they are stopped.
type sleeper struct{ starts atomic.Int32 }

func (s *sleeper) Run(ctx context.Context, _, _, _ uuid.UUID, _ json.RawMessage) error {
	s.starts.Add(1)
	<-ctx.Done()
	return context.Cause(ctx)
}

// waitFor polls cond every 20 ms until it holds or a minute passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSuspendTask: a suspend run suspends the cluster (stopping the other
// task's run but not itself), keeps it suspended for the duration, then
// resumes it and starts the stopped task again (start_tasks). A run whose
// cluster is resumed meanwhile ends DONE early and leaves the cluster as
// it is.
func TestSuspendTask(t *testing.T) {
	ctx := t.Context()
	m, _, c := simManager(t, memstore.New())
	sl := &sleeper{}
	m.RegisterRunner("sleeper", sl)
	newTask := func(typ, props string) store.Task {
		t.Helper()
		task, err := m.CreateTask(ctx, store.Task{ClusterID: c.ID, Type: typ, Enabled: true,
			Schedule: store.Schedule{Cron: "0 3 1 1 *"}, Properties: json.RawMessage(props)})
		if err != nil {
			t.Fatal(err)
		}
		return task
	}
	latest := func(id uuid.UUID) store.Run {
		run, _, _ := m.RunProgress(ctx, c.ID, id, "latest")
		return run
	}
	suspended := func() scyllaops.SuspendDetails {
		d, err := m.ClusterSuspended(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	work := newTask("sleeper", `{}`)
	if err := m.StartTask(ctx, c.ID, work.ID, true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the sleeper to run", func() bool { return sl.starts.Load() == 1 })

	const d = 2 * time.Second
	sus := newTask(scheduler.SuspendTaskType, `{"duration":"2s","start_tasks":true}`)
	if err := m.StartTask(ctx, c.ID, sus.ID, true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the suspension", func() bool { return suspended().Suspended })
	det := suspended()
	if !strings.Contains(det.AllowTaskType, scheduler.SuspendTaskType) {
		t.Errorf("suspension allows %q, want the suspend type", det.AllowTaskType)
	}
	waitFor(t, "the sleeper's run to stop", func() bool { return latest(work.ID).Status == store.StatusStopped })
	if r := latest(sus.ID); r.Status != store.StatusRunning {
		t.Fatalf("suspend run %s (%s) while the cluster is suspended, want RUNNING", r.Status, r.Cause)
	}
	waitFor(t, "the suspend run to end", func() bool { return latest(sus.ID).Status.Final() })
	if r := latest(sus.ID); r.Status != store.StatusDone {
		t.Fatalf("suspend run %s (%s), want DONE", r.Status, r.Cause)
	}
	if suspended().Suspended {
		t.Error("cluster still suspended after the suspend run")
	}
	if held := time.Since(det.StartedAt); held < d {
		t.Errorf("resumed %s after the suspension, want >= %s", held, d)
	}
	waitFor(t, "the sleeper to start again (start_tasks)", func() bool { return sl.starts.Load() == 2 })

	// Resumed by hand while waiting: the run ends, the cluster stays
	// resumed and a later manual suspension is not undone.
	if err := m.StopTask(ctx, c.ID, work.ID, false); err != nil {
		t.Fatal(err)
	}
	long := newTask(scheduler.SuspendTaskType, `{"duration":"1h"}`)
	if err := m.StartTask(ctx, c.ID, long.ID, true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the second suspension", func() bool { return suspended().Suspended })
	if err := m.ResumeCluster(ctx, c.ID, scyllaops.ResumeOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the 1h suspend run to end", func() bool { return latest(long.ID).Status.Final() })
	if r := latest(long.ID); r.Status != store.StatusDone {
		t.Errorf("1h suspend run after a manual resume: %s (%s), want DONE", r.Status, r.Cause)
	}
	if suspended().Suspended {
		t.Error("cluster suspended again after the manual resume")
	}
}
