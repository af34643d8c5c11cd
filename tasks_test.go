package scyllaops_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/scheduler"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/memstore"
)

// mockRunner runs for dur (virtual time) writing a progress row, fails
// with fail, and reports progress as {"done":n}.
type mockRunner struct {
	st    store.Store
	dur   time.Duration
	mu    sync.Mutex
	fail  error
	props []json.RawMessage
}

func (r *mockRunner) Run(ctx context.Context, clusterID, taskID, runID uuid.UUID, p json.RawMessage) error {
	r.mu.Lock()
	r.props = append(r.props, p)
	fail := r.fail
	r.mu.Unlock()
	if err := r.st.PutProgress(ctx, &store.Progress{ClusterID: clusterID, TaskID: taskID, RunID: runID, Key: "host1", Data: json.RawMessage(`{"done":1}`), Fence: store.FenceFrom(ctx)}); err != nil {
		return err
	}
	select {
	case <-time.After(r.dur):
		return fail
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// ValidateProperties accepts {} and {"keyspace":[...]}.
func (r *mockRunner) ValidateProperties(p json.RawMessage) error {
	var v struct {
		Keyspace []string `json:"keyspace"`
	}
	dec := json.NewDecoder(strings.NewReader(string(p)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return store.Invalid("properties", `{"keyspace":["ks1"]}`, string(p))
	}
	return nil
}

func newTaskManager(t *testing.T, opts scyllaops.Options) (*scyllaops.Manager, *memstore.Store, uuid.UUID) {
	t.Helper()
	st := memstore.New()
	opts.SkipConnectivityCheck = true
	// No periodic discovery: the cluster's host is not a real node, and
	// the tests that run the scheduler move virtual time by hours.
	opts.TopologyRefresh = -1
	m, err := scyllaops.New(st, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	c, err := m.CreateCluster(t.Context(), scyllaops.Cluster{Name: "prod", Host: "10.0.0.1", WithoutRepair: true})
	if err != nil {
		t.Fatal(err)
	}
	disableHealthchecks(t, m, c.ID)
	return m, st, c.ID
}

// disableHealthchecks keeps the default health checks (which would dial
// 10.0.0.1) from running in tests that run the scheduler.
func disableHealthchecks(t *testing.T, m *scyllaops.Manager, cluster uuid.UUID) {
	t.Helper()
	items, err := m.ListTasks(t.Context(), cluster, scyllaops.TaskFilter{Type: "healthcheck"})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		it.Enabled = false
		if _, err := m.UpdateTask(t.Context(), it.Task); err != nil {
			t.Fatal(err)
		}
	}
}

func runManager(t *testing.T, m *scyllaops.Manager) (stop func()) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := m.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

func TestDefaultTasks(t *testing.T) {
	st := memstore.New()
	m, err := scyllaops.New(st, nil, scyllaops.Options{SkipConnectivityCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	c, err := m.CreateCluster(ctx, scyllaops.Cluster{Name: "a", Host: "10.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	items, err := m.ListTasks(ctx, c.ID, scyllaops.TaskFilter{All: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range items {
		got = append(got, fmt.Sprintf("%s/%s %s %s", it.Type, it.Name, it.Schedule.Cron, it.Properties))
		if it.Schedule.Timezone != "UTC" {
			t.Errorf("%s/%s: timezone %q, want UTC (sctool shows it)", it.Type, it.Name, it.Schedule.Timezone)
		}
		soon := it.Type != "healthcheck" || (it.NextActivation != nil && !it.NextActivation.After(time.Now().Add(time.Minute)))
		if it.Status != store.StatusNew || it.NextActivation == nil || !it.NextActivation.After(time.Now()) || !soon {
			t.Errorf("%s/%s: status %s next %v, want NEW and within a minute", it.Type, it.Name, it.Status, it.NextActivation)
		}
	}
	want := []string{`healthcheck/alternator * * * * * {"mode":"alternator"}`, `healthcheck/cql * * * * * {"mode":"cql"}`, `healthcheck/rest * * * * * {"mode":"rest"}`, `repair/all-weekly 0 23 * * SAT {}`}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("default tasks:\n got %q\nwant %q", got, want)
	}
	// The weekly repair, unless opted out.
	c2, err := m.CreateCluster(ctx, scyllaops.Cluster{Name: "b", Host: "10.0.0.2"})
	if err != nil {
		t.Fatal(err)
	}
	items, _ = m.ListTasks(ctx, c2.ID, scyllaops.TaskFilter{Type: "repair"})
	if len(items) != 1 || items[0].Name != "all-weekly" || items[0].Schedule.Cron != "0 23 * * SAT" || items[0].Schedule.NumRetries != 3 {
		t.Errorf("repair tasks %+v, want all-weekly", items)
	}
	c3, err := m.CreateCluster(ctx, scyllaops.Cluster{Name: "c", Host: "10.0.0.3", WithoutRepair: true})
	if err != nil {
		t.Fatal(err)
	}
	if items, _ = m.ListTasks(ctx, c3.ID, scyllaops.TaskFilter{Type: "repair"}); len(items) != 0 {
		t.Errorf("WithoutRepair: %d repair tasks", len(items))
	}
}

func TestCreateTaskRejectsBadInput(t *testing.T) {
	m, st, cluster := newTaskManager(t, scyllaops.Options{})
	m.RegisterRunner("backup", &mockRunner{st: st})
	ctx := t.Context()
	before, _ := st.ListTasks(ctx, cluster)
	for _, tc := range []struct {
		name  string
		task  store.Task
		field string
	}{
		{"unknown type", store.Task{Type: "defrag"}, "task.type"},
		{"cron", store.Task{Type: "backup", Schedule: store.Schedule{Cron: "0 25 * * *"}}, "schedule.cron"},
		{"window", store.Task{Type: "backup", Schedule: store.Schedule{Window: []string{"Mon-00:00"}}}, "schedule.window"},
		{"timezone", store.Task{Type: "backup", Schedule: store.Schedule{Timezone: "Europe/Atlantis"}}, "schedule.timezone"},
		{"interval", store.Task{Type: "backup", Schedule: store.Schedule{Interval: -time.Hour}}, "schedule.interval"},
		{"retries", store.Task{Type: "backup", Schedule: store.Schedule{NumRetries: -2}}, "schedule.num_retries"},
		{"retry wait", store.Task{Type: "backup", Schedule: store.Schedule{RetryWait: -time.Minute}}, "schedule.retry_wait"},
		{"properties not an object", store.Task{Type: "backup", Properties: json.RawMessage(`[1]`)}, "task.properties"},
		{"unknown property", store.Task{Type: "backup", Properties: json.RawMessage(`{"keyspaces":["a"]}`)}, "properties"},
		{"healthcheck unknown property", store.Task{Type: "healthcheck", Properties: json.RawMessage(`{"mode":"cql","speed":1}`)}, "properties.speed"},
		{"healthcheck bad mode", store.Task{Type: "healthcheck", Properties: json.RawMessage(`{"mode":"udp"}`)}, "properties.mode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.task.ClusterID = cluster
			_, err := m.CreateTask(ctx, tc.task)
			ie, ok := errors.AsType[*store.InvalidError](err)
			if !ok || !errors.Is(err, scyllaops.ErrInvalid) {
				t.Fatalf("err = %v, want an InvalidError", err)
			}
			if ie.Field != tc.field {
				t.Errorf("field %q, want %q (%v)", ie.Field, tc.field, err)
			}
			if tc.field == "task.type" && !strings.Contains(ie.Want, "backup, healthcheck") {
				t.Errorf("error %q does not list the registered types", err)
			}
		})
	}
	after, _ := st.ListTasks(ctx, cluster)
	if len(after) != len(before) {
		t.Errorf("%d tasks stored by refused creations", len(after)-len(before))
	}
	if _, err := m.CreateTask(ctx, store.Task{ClusterID: uuid.New(), Type: "backup"}); !errors.Is(err, scyllaops.ErrNotFound) {
		t.Errorf("unknown cluster: %v, want ErrNotFound", err)
	}
}

func TestTaskLifecycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewPedanticRegistry()
		m, st, cluster := newTaskManager(t, scyllaops.Options{Registerer: reg, OwnerID: "m1"})
		r := &mockRunner{st: st, dur: 10 * time.Minute}
		m.RegisterRunner("backup", r)
		ctx := t.Context()
		task, err := m.CreateTask(ctx, store.Task{ClusterID: cluster, Type: "backup", Name: "nightly", Enabled: true,
			Schedule: store.Schedule{Cron: "0 2 * * *", NumRetries: 1, RetryWait: 5 * time.Minute}})
		if err != nil {
			t.Fatal(err)
		}
		if task.ID == uuid.Nil || task.Schedule.StartDate.IsZero() || string(task.Properties) != "{}" {
			t.Fatalf("created task %+v", task)
		}
		if _, err := m.CreateTask(ctx, store.Task{ClusterID: cluster, Type: "backup", Name: "nightly"}); !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate name: %v, want ErrConflict", err)
		}
		run, prog, err := m.RunProgress(ctx, cluster, task.ID, "latest")
		if err != nil || run.Status != store.StatusNew || string(prog) != "{}" {
			t.Fatalf("progress before any run: %+v %s %v", run, prog, err)
		}
		stop := runManager(t, m)
		synctest.Wait()
		items, _ := m.ListTasks(ctx, cluster, scyllaops.TaskFilter{})
		if len(items) != 1 || items[0].NextActivation == nil || !items[0].NextActivation.Equal(time.Date(2000, 1, 1, 2, 0, 0, 0, time.UTC)) {
			t.Fatalf("list: %+v", items)
		}
		// Start now from scratch; a second start is refused.
		if err := m.StartTask(ctx, cluster, task.ID, false); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if err := m.StartTask(ctx, cluster, task.ID, true); !errors.Is(err, store.ErrConflict) {
			t.Errorf("start while running: %v", err)
		}
		run, prog, err = m.RunProgress(ctx, cluster, task.ID, "latest")
		if err != nil || run.Status != store.StatusRunning || string(prog) != `{"host1":{"done":1}}` {
			t.Fatalf("progress while running: %+v %s %v", run, prog, err)
		}
		time.Sleep(time.Minute)
		if err := m.StopTask(ctx, cluster, task.ID, false); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		// The 02:00 activation: fails, retried 5 minutes later, succeeds.
		r.mu.Lock()
		r.fail = errors.New("disk full")
		r.mu.Unlock()
		time.Sleep(2*time.Hour + 11*time.Minute - 2*time.Minute) // 02:09
		r.mu.Lock()
		r.fail = nil
		r.mu.Unlock()
		time.Sleep(time.Hour)
		stop()

		hist, err := m.TaskHistory(ctx, cluster, task.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		var statuses []string
		for _, h := range hist {
			statuses = append(statuses, string(h.Status))
		}
		if got := strings.Join(statuses, ","); got != "DONE,ERROR,STOPPED" {
			t.Errorf("history %s, want DONE,ERROR,STOPPED", got)
		}
		if r.props[0] == nil || !strings.Contains(string(r.props[0]), `"continue":false`) {
			t.Errorf("manual start properties %s, want continue=false", r.props[0])
		}
		if h, _ := m.TaskHistory(ctx, cluster, task.ID, 1); len(h) != 1 {
			t.Errorf("history limit 1: %d runs", len(h))
		}
		prev, _, err := m.RunProgress(ctx, cluster, task.ID, "~1")
		if err != nil || prev.ID != hist[1].ID {
			t.Errorf("~1 = %v %v, want %v", prev.ID, err, hist[1].ID)
		}
		if _, _, err := m.RunProgress(ctx, cluster, task.ID, hist[2].ID.String()); err != nil {
			t.Errorf("progress by id: %v", err)
		}
		if _, _, err := m.RunProgress(ctx, cluster, task.ID, "~x"); !errors.Is(err, scyllaops.ErrInvalid) {
			t.Errorf("bad ref: %v", err)
		}
		items, _ = m.ListTasks(ctx, cluster, scyllaops.TaskFilter{})
		it := items[0]
		if it.Status != store.StatusDone || it.SuccessCount != 1 || it.ErrorCount != 1 || it.LastSuccess == nil || it.LastError == nil || it.Retry != 1 {
			t.Errorf("list item %+v", it)
		}
		// Events: one final failure? No: the failure was retried.
		evs, err := m.Events(ctx, store.EventQuery{ClusterID: cluster, TaskID: task.ID})
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[string]int{}
		for _, e := range evs {
			kinds[e.Kind]++
		}
		if kinds["retry"] != 1 || kinds["run_failed"] != 0 || kinds["run_status"] < 6 {
			t.Errorf("event kinds %v", kinds)
		}
		// Metrics: last success of the task, lint-clean names.
		want := fmt.Sprintf(`
# HELP scylla_manager_scheduler_last_success Unix time (seconds) of the end of the task's last successful run.
# TYPE scylla_manager_scheduler_last_success gauge
scylla_manager_scheduler_last_success{cluster="%s",task="%s",type="backup"} %d
`, cluster, task.ID, hist[0].EndTime.Unix())
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "scylla_manager_scheduler_last_success"); err != nil {
			t.Error(err)
		}
		total := fmt.Sprintf(`
# HELP scylla_manager_scheduler_run_total Runs of the task that ended on this manager, by final status.
# TYPE scylla_manager_scheduler_run_total gauge
scylla_manager_scheduler_run_total{cluster="%[1]s",status="DONE",task="%[2]s",type="backup"} 1
scylla_manager_scheduler_run_total{cluster="%[1]s",status="ERROR",task="%[2]s",type="backup"} 1
scylla_manager_scheduler_run_total{cluster="%[1]s",status="STOPPED",task="%[2]s",type="backup"} 1
# HELP scylla_manager_scheduler_run_indicator 1 while a run of the task executes on this manager, else 0.
# TYPE scylla_manager_scheduler_run_indicator gauge
scylla_manager_scheduler_run_indicator{cluster="%[1]s",task="%[2]s",type="backup"} 0
`, cluster, task.ID)
		if err := testutil.GatherAndCompare(reg, strings.NewReader(total), "scylla_manager_scheduler_run_total", "scylla_manager_scheduler_run_indicator"); err != nil {
			t.Error(err)
		}
		if probs := lintMetrics(t, reg); len(probs) > 0 {
			t.Errorf("lint: %v", probs)
		}
		// Soft delete: hidden, not scheduled, runs kept.
		if err := m.DeleteTask(ctx, cluster, task.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := m.GetTask(ctx, cluster, task.ID); !errors.Is(err, scyllaops.ErrNotFound) {
			t.Errorf("get deleted: %v", err)
		}
		if items, _ := m.ListTasks(ctx, cluster, scyllaops.TaskFilter{All: true}); len(items) != 3 {
			t.Errorf("list after delete: %d items, want the 3 health checks", len(items))
		}
		if h, _ := m.TaskHistory(ctx, cluster, task.ID, 0); len(h) != 3 {
			t.Errorf("runs of the deleted task: %d, want 3 kept", len(h))
		}
		stored, _ := st.GetTask(ctx, cluster, task.ID)
		if !stored.Deleted || stored.Enabled || stored.Name != "" {
			t.Errorf("stored deleted task %+v", stored)
		}
	})
}

func TestSuspendCluster(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewPedanticRegistry()
		m, st, cluster := newTaskManager(t, scyllaops.Options{Registerer: reg})
		r := &mockRunner{st: st, dur: time.Minute}
		m.RegisterRunner("backup", r)
		m.RegisterRunner("repair", r)
		ctx := t.Context()
		b, err := m.CreateTask(ctx, store.Task{ClusterID: cluster, Type: "backup", Enabled: true, Schedule: store.Schedule{Cron: "0 * * * *"}})
		if err != nil {
			t.Fatal(err)
		}
		rp, err := m.CreateTask(ctx, store.Task{ClusterID: cluster, Type: "repair", Enabled: true, Schedule: store.Schedule{Cron: "0 * * * *"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.SuspendCluster(ctx, cluster, scyllaops.SuspendOptions{AllowTaskType: "nope"}); !errors.Is(err, scyllaops.ErrInvalid) {
			t.Errorf("unknown allow type: %v", err)
		}
		if err := m.SuspendCluster(ctx, cluster, scyllaops.SuspendOptions{AllowTaskType: "repair"}); err != nil {
			t.Fatal(err)
		}
		d, err := m.ClusterSuspended(ctx, cluster)
		if err != nil || !d.Suspended || d.AllowTaskType != "repair" {
			t.Fatalf("details %+v %v", d, err)
		}
		if err := testutil.GatherAndCompare(reg, strings.NewReader(fmt.Sprintf(`
# HELP scylla_manager_scheduler_suspended 1 if the cluster is suspended, else 0.
# TYPE scylla_manager_scheduler_suspended gauge
scylla_manager_scheduler_suspended{cluster="%s"} 1
`, cluster)), "scylla_manager_scheduler_suspended"); err != nil {
			t.Error(err)
		}
		stop := runManager(t, m)
		time.Sleep(3*time.Hour + 30*time.Minute)
		items, _ := m.ListTasks(ctx, cluster, scyllaops.TaskFilter{})
		for _, it := range items {
			switch it.ID {
			case b.ID:
				if !it.Suspended || it.SuccessCount != 0 || it.NextActivation != nil {
					t.Errorf("backup while suspended: %+v", it)
				}
			case rp.ID:
				if it.Suspended || it.SuccessCount != 4 { // 00:00 to 03:00
					t.Errorf("allowed repair while suspended: %+v", it)
				}
			}
		}
		if err := m.ResumeCluster(ctx, cluster, scyllaops.ResumeOptions{}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour)
		stop()
		if h, _ := m.TaskHistory(ctx, cluster, b.ID, 0); len(h) != 1 {
			t.Errorf("backup runs after resume: %d, want 1 (04:00; the missed activations are skipped)", len(h))
		}
		if d, _ := m.ClusterSuspended(ctx, cluster); d.Suspended {
			t.Error("still suspended")
		}
	})
}

// TestManagersShareStore: three Managers on one store run each activation
// of a task created through one of them exactly once.
func TestManagersShareStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := memstore.New()
		var ms []*scyllaops.Manager
		var mu sync.Mutex
		execs := map[uuid.UUID]int{}
		for i := range 3 {
			// No periodic discovery: the host is not a node, and virtual
			// time moves by an hour.
			m, err := scyllaops.New(st, nil, scyllaops.Options{SkipConnectivityCheck: true, OwnerID: fmt.Sprintf("m%d", i), TopologyRefresh: -1})
			if err != nil {
				t.Fatal(err)
			}
			m.RegisterRunner("backup", scheduler.RunnerFunc(func(ctx context.Context, _, _, runID uuid.UUID, _ json.RawMessage) error {
				mu.Lock()
				execs[runID]++
				mu.Unlock()
				time.Sleep(10 * time.Second)
				return nil
			}))
			ms = append(ms, m)
		}
		c, err := ms[0].CreateCluster(t.Context(), scyllaops.Cluster{Name: "prod", Host: "10.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		disableHealthchecks(t, ms[0], c.ID)
		task, err := ms[1].CreateTask(t.Context(), store.Task{ClusterID: c.ID, Type: "backup", Enabled: true, Schedule: store.Schedule{Cron: "*/2 * * * *"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			runManager(t, m)
		}
		time.Sleep(time.Hour + time.Minute)
		h, err := ms[2].TaskHistory(t.Context(), c.ID, task.ID, 1000)
		if err != nil {
			t.Fatal(err)
		}
		acts := map[time.Time]bool{}
		for _, r := range h {
			acts[r.Activation] = true
		}
		if len(h) != 31 || len(acts) != 31 { // 00:00, 00:02 … 01:00
			t.Errorf("%d runs for %d activations, want 31", len(h), len(acts))
		}
		mu.Lock()
		defer mu.Unlock()
		for id, n := range execs {
			if n != 1 {
				t.Errorf("run %v executed %d times", id, n)
			}
		}
	})
}
