package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
)

// world is a cluster with a secret, two tasks, runs and progress rows.
type world struct {
	c     *store.Cluster
	tasks []*store.Task
	runs  []*store.Run
	rows  []*store.Progress
	event *store.Event
}

func (f *fixture) world(name string) world {
	f.t.Helper()
	w := world{c: f.cluster(name)}
	noErr(f.t, "PutSecret", f.s.PutSecret(f.ctx, w.c.ID, store.SecretAuthToken, []byte("t0k3n")))
	for i, typ := range []string{"backup", "repair"} {
		tk := f.task(w.c.ID, typ, name+"-"+typ)
		w.tasks = append(w.tasks, tk)
		for j := range 2 {
			r := f.run(tk, f.base.Add(time.Duration(i*10+j)*time.Minute), store.StatusRunning, 1)
			w.runs = append(w.runs, r)
			w.rows = append(w.rows, f.progress(r, "host/ks/t", 1))
		}
	}
	w.event = f.event(f.newEvent(w.c.ID, nowMS()))
	return w
}

// gone fails unless the task and its runs and progress rows are gone.
func (f *fixture) taskGone(tk *store.Task, runs []*store.Run) {
	f.t.Helper()
	_, err := f.s.GetTask(f.ctx, tk.ClusterID, tk.ID)
	wantErr(f.t, "GetTask(deleted)", err, store.ErrNotFound)
	rs, err := f.s.ListRuns(f.ctx, tk.ID, 0)
	noErr(f.t, "ListRuns", err)
	if len(rs) != 0 {
		f.t.Errorf("ListRuns(deleted task) = %d runs, want 0", len(rs))
	}
	for _, r := range runs {
		if r.TaskID != tk.ID {
			continue
		}
		_, err := f.s.GetRun(f.ctx, tk.ID, r.ID)
		wantErr(f.t, "GetRun(run of deleted task)", err, store.ErrNotFound)
		rows, err := f.s.ListProgress(f.ctx, r.ID)
		noErr(f.t, "ListProgress", err)
		if len(rows) != 0 {
			f.t.Errorf("ListProgress(run of deleted task) = %d rows, want 0", len(rows))
		}
	}
	un, err := f.s.ListUnfinishedRuns(f.ctx)
	noErr(f.t, "ListUnfinishedRuns", err)
	for _, r := range un {
		if r.TaskID == tk.ID {
			f.t.Errorf("ListUnfinishedRuns lists run %s of deleted task %s", r.ID, tk.ID)
		}
	}
}

func testCascade(t *testing.T, h Harness) {
	f := h.fixture(t)
	s, ctx := f.s, f.ctx
	a := f.world("a")
	b := f.world("b")
	before := f.snapshot([]uuid.UUID{b.runs[0].ID, b.runs[1].ID, b.runs[2].ID, b.runs[3].ID}, nil)

	// DeleteTask removes the task, its runs and their progress rows.
	noErr(t, "DeleteTask", s.DeleteTask(ctx, a.c.ID, a.tasks[0].ID))
	f.taskGone(a.tasks[0], a.runs)
	if _, err := s.GetTask(ctx, a.c.ID, a.tasks[1].ID); err != nil {
		t.Errorf("DeleteTask removed a sibling task: %v", err)
	}
	rows, err := s.ListProgress(ctx, a.runs[2].ID)
	noErr(t, "ListProgress(sibling)", err)
	if len(rows) != 1 {
		t.Errorf("DeleteTask removed progress of a sibling task: %d rows", len(rows))
	}

	// DeleteCluster removes secrets, tasks, runs and progress; events
	// stay until their TTL.
	noErr(t, "DeleteCluster", s.DeleteCluster(ctx, a.c.ID))
	_, err = s.GetCluster(ctx, a.c.ID)
	wantErr(t, "GetCluster(deleted)", err, store.ErrNotFound)
	_, err = s.GetClusterByName(ctx, a.c.Name)
	wantErr(t, "GetClusterByName(deleted)", err, store.ErrNotFound)
	_, err = s.GetSecret(ctx, a.c.ID, store.SecretAuthToken)
	wantErr(t, "GetSecret(deleted cluster)", err, store.ErrNotFound)
	keys, err := s.ListSecretKeys(ctx, a.c.ID)
	noErr(t, "ListSecretKeys", err)
	if len(keys) != 0 {
		t.Errorf("ListSecretKeys(deleted cluster) = %q, want none", keys)
	}
	for _, tk := range a.tasks {
		f.taskGone(tk, a.runs)
	}
	tasks, err := s.ListTasks(ctx, a.c.ID)
	noErr(t, "ListTasks", err)
	if len(tasks) != 0 {
		t.Errorf("ListTasks(deleted cluster) = %d tasks, want 0", len(tasks))
	}
	evs, err := s.QueryEvents(ctx, store.EventQuery{ClusterID: a.c.ID})
	noErr(t, "QueryEvents", err)
	if d := diff([]*store.Event{a.event}, evs); d != "" {
		t.Errorf("events of a deleted cluster (-want +got):\n%s", d)
	}

	// The other cluster is untouched.
	after := f.snapshot([]uuid.UUID{b.runs[0].ID, b.runs[1].ID, b.runs[2].ID, b.runs[3].ID}, nil)
	before.Clusters = only(before.Clusters, func(c *store.Cluster) bool { return c.ID == b.c.ID })
	before.Tasks = only(before.Tasks, func(tk *store.Task) bool { return tk.ClusterID == b.c.ID })
	before.Unfinished = only(before.Unfinished, func(r *store.Run) bool { return r.ClusterID == b.c.ID })
	for id := range before.Runs {
		if !hasTask(b.tasks, id) {
			delete(before.Runs, id)
		}
	}
	delete(before.Secrets, a.c.ID)
	before.Events = map[uuid.UUID][]*store.Event{b.c.ID: before.Events[b.c.ID]}
	delete(after.Events, a.c.ID)
	if d := diff(before, after); d != "" {
		t.Errorf("DeleteCluster changed another cluster (-before +after):\n%s", d)
	}

	// The ID and name can be used again, with no leftovers.
	again := f.newCluster(a.c.Name)
	again.ID = a.c.ID
	noErr(t, "CreateCluster(same ID and name again)", s.CreateCluster(ctx, again))
	keys, err = s.ListSecretKeys(ctx, again.ID)
	noErr(t, "ListSecretKeys", err)
	if len(keys) != 0 {
		t.Errorf("recreated cluster has secrets %q", keys)
	}
	noErr(t, "CreateTask(same ID again)", s.CreateTask(ctx, a.tasks[0]))
	noErr(t, "CreateRun(same ID again)", s.CreateRun(ctx, a.runs[0]))
	rows, err = s.ListProgress(ctx, a.runs[0].ID)
	noErr(t, "ListProgress", err)
	if len(rows) != 0 {
		t.Errorf("recreated run has %d progress rows, want 0", len(rows))
	}
}

func only[T any](xs []T, keep func(T) bool) []T {
	var out []T
	for _, x := range xs {
		if keep(x) {
			out = append(out, x)
		}
	}
	return out
}

func hasTask(ts []*store.Task, id uuid.UUID) bool {
	for _, tk := range ts {
		if tk.ID == id {
			return true
		}
	}
	return false
}

func testCopySemantics(t *testing.T, h Harness) {
	f := h.fixture(t)
	s, ctx := f.s, f.ctx

	c := f.newCluster("copy")
	noErr(t, "CreateCluster", s.CreateCluster(ctx, c))
	want := f.newCluster("copy")
	want.ID = c.ID
	c.Labels["env"] = "mutated"
	c.KnownHosts[0] = "mutated"
	c.Name = "mutated"
	got, err := s.GetCluster(ctx, c.ID)
	noErr(t, "GetCluster", err)
	if d := diff(want, got); d != "" {
		t.Errorf("mutating the created cluster changed the store (-want +got):\n%s", d)
	}
	got.Labels["env"] = "mutated"
	got.KnownHosts[1] = "mutated"
	got2, err := s.GetCluster(ctx, c.ID)
	noErr(t, "GetCluster", err)
	if d := diff(want, got2); d != "" {
		t.Errorf("mutating a returned cluster changed the store (-want +got):\n%s", d)
	}
	list, err := s.ListClusters(ctx)
	noErr(t, "ListClusters", err)
	list[0].Labels["x"] = "y"
	got2, err = s.GetClusterByName(ctx, "copy")
	noErr(t, "GetClusterByName", err)
	if d := diff(want, got2); d != "" {
		t.Errorf("mutating a listed cluster changed the store (-want +got):\n%s", d)
	}
	up := f.newCluster("copy")
	up.ID = c.ID
	noErr(t, "UpdateCluster", s.UpdateCluster(ctx, up))
	up.Labels["env"] = "mutated"
	got2, _ = s.GetCluster(ctx, c.ID)
	if d := diff(want, got2); d != "" {
		t.Errorf("mutating an updated cluster changed the store (-want +got):\n%s", d)
	}

	secret := []byte("s3cr3t")
	noErr(t, "PutSecret", s.PutSecret(ctx, c.ID, "k", secret))
	secret[0] = 'X'
	v, err := s.GetSecret(ctx, c.ID, "k")
	noErr(t, "GetSecret", err)
	if string(v) != "s3cr3t" {
		t.Errorf("mutating the put secret changed the store: %q", v)
	}
	v[0] = 'Y'
	v, _ = s.GetSecret(ctx, c.ID, "k")
	if string(v) != "s3cr3t" {
		t.Errorf("mutating a returned secret changed the store: %q", v)
	}

	tk := f.newTask(c.ID, "backup", "t")
	wantTask := f.newTask(c.ID, "backup", "t")
	wantTask.ID = tk.ID
	noErr(t, "CreateTask", s.CreateTask(ctx, tk))
	tk.Labels["team"] = "mutated"
	tk.Schedule.Window[0] = "mutated"
	tk.Properties[2] = 'X'
	gotTask, err := s.GetTask(ctx, c.ID, tk.ID)
	noErr(t, "GetTask", err)
	if d := diff(wantTask, gotTask); d != "" {
		t.Errorf("mutating the created task changed the store (-want +got):\n%s", d)
	}
	gotTask.Labels["team"] = "mutated"
	gotTask.Schedule.Window[1] = "mutated"
	gotTask.Properties[2] = 'X'
	tasks, err := s.ListTasks(ctx, c.ID)
	noErr(t, "ListTasks", err)
	if d := diff([]*store.Task{wantTask}, tasks); d != "" {
		t.Errorf("mutating a returned task changed the store (-want +got):\n%s", d)
	}
	tasks[0].Properties[3] = 'X'
	gotTask, _ = s.GetTask(ctx, c.ID, tk.ID)
	if d := diff(wantTask, gotTask); d != "" {
		t.Errorf("mutating a listed task changed the store (-want +got):\n%s", d)
	}

	r := f.newRun(wantTask, f.base, store.StatusRunning, 0)
	wantRun := *r
	wantRun.Properties = json.RawMessage(string(r.Properties))
	noErr(t, "CreateRun", s.CreateRun(ctx, r))
	r.Properties[2] = 'X'
	r.Status = store.StatusDone
	gotRun, err := s.GetRun(ctx, tk.ID, r.ID)
	noErr(t, "GetRun", err)
	if d := diff(&wantRun, gotRun); d != "" {
		t.Errorf("mutating the created run changed the store (-want +got):\n%s", d)
	}
	gotRun.Properties[2] = 'X'
	runs, err := s.ListRuns(ctx, tk.ID, 0)
	noErr(t, "ListRuns", err)
	if d := diff([]*store.Run{&wantRun}, runs); d != "" {
		t.Errorf("mutating a returned run changed the store (-want +got):\n%s", d)
	}
	runs[0].Properties[3] = 'X'
	un, err := s.ListUnfinishedRuns(ctx)
	noErr(t, "ListUnfinishedRuns", err)
	if d := diff([]*store.Run{&wantRun}, un); d != "" {
		t.Errorf("mutating a listed run changed the store (-want +got):\n%s", d)
	}
	un[0].Properties[3] = 'X'
	upRun := wantRun
	upRun.Properties = json.RawMessage(string(wantRun.Properties))
	noErr(t, "UpdateRun", s.UpdateRun(ctx, &upRun))
	upRun.Properties[2] = 'X'
	gotRun, _ = s.GetRun(ctx, tk.ID, r.ID)
	if d := diff(&wantRun, gotRun); d != "" {
		t.Errorf("mutating an updated run changed the store (-want +got):\n%s", d)
	}

	p := f.newProgress(&wantRun, "k", 0)
	wantRow := *p
	wantRow.Data = json.RawMessage(string(p.Data))
	noErr(t, "PutProgress", s.PutProgress(ctx, p))
	p.Data[2] = 'X'
	rows, err := s.ListProgress(ctx, r.ID)
	noErr(t, "ListProgress", err)
	if d := diff([]*store.Progress{&wantRow}, rows); d != "" {
		t.Errorf("mutating the put progress row changed the store (-want +got):\n%s", d)
	}
	rows[0].Data[2] = 'X'
	rows, _ = s.ListProgress(ctx, r.ID)
	if d := diff([]*store.Progress{&wantRow}, rows); d != "" {
		t.Errorf("mutating a listed progress row changed the store (-want +got):\n%s", d)
	}

	e := f.newEvent(c.ID, nowMS())
	wantEv := *e
	wantEv.Attributes = map[string]string{"host": "10.0.0.1"}
	noErr(t, "AppendEvent", s.AppendEvent(ctx, e))
	e.Attributes["host"] = "mutated"
	e.Message = "mutated"
	evs, err := s.QueryEvents(ctx, store.EventQuery{ClusterID: c.ID})
	noErr(t, "QueryEvents", err)
	if d := diff([]*store.Event{&wantEv}, evs); d != "" {
		t.Errorf("mutating the appended event changed the store (-want +got):\n%s", d)
	}
	evs[0].Attributes["host"] = "mutated"
	evs, _ = s.QueryEvents(ctx, store.EventQuery{ClusterID: c.ID})
	if d := diff([]*store.Event{&wantEv}, evs); d != "" {
		t.Errorf("mutating a returned event changed the store (-want +got):\n%s", d)
	}
}
