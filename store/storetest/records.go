package storetest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
)

func testNotFound(t *testing.T, h Harness) {
	f := h.fixture(t)
	s, ctx := f.s, f.ctx
	c := f.cluster("nf")
	tk := f.task(c.ID, "backup", "daily")
	r := f.run(tk, f.base, store.StatusRunning, 0)
	unknown := uuid.New()

	_, err := s.GetCluster(ctx, unknown)
	wantErr(t, "GetCluster(unknown)", err, store.ErrNotFound)
	_, err = s.GetCluster(ctx, uuid.Nil)
	wantErr(t, "GetCluster(uuid.Nil)", err, store.ErrNotFound)
	_, err = s.GetClusterByName(ctx, "nope")
	wantErr(t, "GetClusterByName(unknown)", err, store.ErrNotFound)
	wantErr(t, "UpdateCluster(unknown)", s.UpdateCluster(ctx, f.newCluster("other")), store.ErrNotFound)
	wantErr(t, "DeleteCluster(unknown)", s.DeleteCluster(ctx, unknown), store.ErrNotFound)

	wantErr(t, "PutSecret(unknown cluster)", s.PutSecret(ctx, unknown, "k", []byte("v")), store.ErrNotFound)
	_, err = s.GetSecret(ctx, c.ID, "absent")
	wantErr(t, "GetSecret(absent)", err, store.ErrNotFound)
	_, err = s.GetSecret(ctx, unknown, "absent")
	wantErr(t, "GetSecret(unknown cluster)", err, store.ErrNotFound)
	if err := s.DeleteSecret(ctx, c.ID, "absent"); err != nil {
		t.Errorf("DeleteSecret(absent) = %v, want nil", err)
	}

	wantErr(t, "CreateTask(unknown cluster)", s.CreateTask(ctx, f.newTask(unknown, "backup", "")), store.ErrNotFound)
	wantErr(t, "UpdateTask(unknown)", s.UpdateTask(ctx, f.newTask(c.ID, "backup", "")), store.ErrNotFound)
	_, err = s.GetTask(ctx, c.ID, unknown)
	wantErr(t, "GetTask(unknown)", err, store.ErrNotFound)
	_, err = s.GetTask(ctx, unknown, tk.ID)
	wantErr(t, "GetTask(other cluster)", err, store.ErrNotFound)
	wantErr(t, "DeleteTask(unknown)", s.DeleteTask(ctx, c.ID, unknown), store.ErrNotFound)
	wantErr(t, "DeleteTask(other cluster)", s.DeleteTask(ctx, unknown, tk.ID), store.ErrNotFound)

	other := f.newTask(c.ID, "repair", "")
	wantErr(t, "CreateRun(unknown task)", s.CreateRun(ctx, f.newRun(other, f.base, store.StatusNew, 0)), store.ErrNotFound)
	wantErr(t, "UpdateRun(unknown)", s.UpdateRun(ctx, f.newRun(tk, f.base.Add(time.Hour), store.StatusDone, 0)), store.ErrNotFound)
	_, err = s.GetRun(ctx, tk.ID, timeUUID(f.base.Add(time.Hour)))
	wantErr(t, "GetRun(unknown)", err, store.ErrNotFound)
	_, err = s.GetRun(ctx, other.ID, r.ID)
	wantErr(t, "GetRun(other task)", err, store.ErrNotFound)
	ghost := f.newRun(tk, f.base.Add(2*time.Hour), store.StatusRunning, 0)
	wantErr(t, "PutProgress(unknown run)", s.PutProgress(ctx, f.newProgress(ghost, "k", 0)), store.ErrNotFound)
	if err := s.DeleteProgress(ctx, ghost.ID); err != nil {
		t.Errorf("DeleteProgress(unknown run) = %v, want nil", err)
	}
	_, err = s.GetLease(ctx, "never-taken")
	wantErr(t, "GetLease(never taken)", err, store.ErrNotFound)

	// Lists of unknown parents are empty, not errors.
	runs, err := s.ListRuns(ctx, unknown, 0)
	if err != nil || runs == nil || len(runs) != 0 {
		t.Errorf("ListRuns(unknown) = %v, %v; want empty non-nil, nil", runs, err)
	}
	rows, err := s.ListProgress(ctx, ghost.ID)
	if err != nil || rows == nil || len(rows) != 0 {
		t.Errorf("ListProgress(unknown) = %v, %v; want empty non-nil, nil", rows, err)
	}
	tasks, err := s.ListTasks(ctx, unknown)
	if err != nil || tasks == nil || len(tasks) != 0 {
		t.Errorf("ListTasks(unknown) = %v, %v; want empty non-nil, nil", tasks, err)
	}
	keys, err := s.ListSecretKeys(ctx, unknown)
	if err != nil || keys == nil || len(keys) != 0 {
		t.Errorf("ListSecretKeys(unknown) = %v, %v; want empty non-nil, nil", keys, err)
	}
	evs, err := s.QueryEvents(ctx, store.EventQuery{ClusterID: unknown})
	if err != nil || evs == nil || len(evs) != 0 {
		t.Errorf("QueryEvents(unknown) = %v, %v; want empty non-nil, nil", evs, err)
	}

	// An empty store lists empty, non-nil slices.
	e := h.fixture(t)
	cs, err := e.s.ListClusters(ctx)
	if err != nil || cs == nil || len(cs) != 0 {
		t.Errorf("ListClusters(empty store) = %v, %v; want empty non-nil, nil", cs, err)
	}
	un, err := e.s.ListUnfinishedRuns(ctx)
	if err != nil || un == nil || len(un) != 0 {
		t.Errorf("ListUnfinishedRuns(empty store) = %v, %v; want empty non-nil, nil", un, err)
	}
}

func testConflict(t *testing.T, h Harness) {
	f := h.fixture(t)
	s, ctx := f.s, f.ctx
	c := f.cluster("alpha")
	b := f.cluster("beta")

	dupID := f.newCluster("gamma")
	dupID.ID = c.ID
	wantErr(t, "CreateCluster(same ID)", s.CreateCluster(ctx, dupID), store.ErrConflict)
	wantErr(t, "CreateCluster(same name)", s.CreateCluster(ctx, f.newCluster("alpha")), store.ErrConflict)
	got, err := s.GetCluster(ctx, c.ID)
	noErr(t, "GetCluster", err)
	if d := diff(c, got); d != "" {
		t.Errorf("a refused create changed the cluster (-want +got):\n%s", d)
	}

	// Renaming onto a taken name is refused; onto its own name or a free
	// one is fine, and frees the old name.
	rename := *b
	rename.Name = "alpha"
	wantErr(t, "UpdateCluster(name of another)", s.UpdateCluster(ctx, &rename), store.ErrConflict)
	rename.Name = "beta"
	rename.Host = "10.9.9.9"
	noErr(t, "UpdateCluster(own name)", s.UpdateCluster(ctx, &rename))
	rename.Name = "beta-2"
	noErr(t, "UpdateCluster(free name)", s.UpdateCluster(ctx, &rename))
	_, err = s.GetClusterByName(ctx, "beta")
	wantErr(t, "GetClusterByName(old name)", err, store.ErrNotFound)
	got, err = s.GetClusterByName(ctx, "beta-2")
	noErr(t, "GetClusterByName(new name)", err)
	if d := diff(&rename, got); d != "" {
		t.Errorf("renamed cluster (-want +got):\n%s", d)
	}
	f.cluster("beta") // the old name is free again

	// Tasks: ID unique; name unique per cluster and type among
	// non-deleted tasks.
	tk := f.task(c.ID, "backup", "daily")
	dup := f.newTask(c.ID, "backup", "other")
	dup.ID = tk.ID
	wantErr(t, "CreateTask(same ID)", s.CreateTask(ctx, dup), store.ErrConflict)
	dup.ClusterID = b.ID
	wantErr(t, "CreateTask(same ID, other cluster)", s.CreateTask(ctx, dup), store.ErrConflict)
	wantErr(t, "CreateTask(same cluster, type and name)", s.CreateTask(ctx, f.newTask(c.ID, "backup", "daily")), store.ErrConflict)
	f.task(c.ID, "repair", "daily") // other type
	f.task(b.ID, "backup", "daily") // other cluster
	f.task(c.ID, "backup", "")      // empty names never conflict
	f.task(c.ID, "backup", "")
	weekly := f.task(c.ID, "backup", "weekly")
	weekly.Name = "daily"
	wantErr(t, "UpdateTask(to a taken name)", s.UpdateTask(ctx, weekly), store.ErrConflict)
	weekly.Name = "weekly"
	weekly.Enabled = false
	noErr(t, "UpdateTask(own name)", s.UpdateTask(ctx, weekly))

	// A soft-deleted task frees its name.
	tk.Deleted = true
	noErr(t, "UpdateTask(Deleted)", s.UpdateTask(ctx, tk))
	again := f.task(c.ID, "backup", "daily")
	// ...and may not be undeleted while the name is taken.
	tk.Deleted = false
	wantErr(t, "UpdateTask(undelete onto a taken name)", s.UpdateTask(ctx, tk), store.ErrConflict)
	_ = again

	// Runs: one run per ID and task.
	r := f.run(weekly, f.base, store.StatusNew, 0)
	r2 := f.newRun(weekly, f.base, store.StatusRunning, 5)
	r2.ID = r.ID
	wantErr(t, "CreateRun(same ID)", s.CreateRun(ctx, r2), store.ErrConflict)
	got2, err := s.GetRun(ctx, weekly.ID, r.ID)
	noErr(t, "GetRun", err)
	if d := diff(r, got2); d != "" {
		t.Errorf("a refused CreateRun changed the run (-want +got):\n%s", d)
	}
}

// shuffled returns a shuffled copy of xs.
func shuffled[T any](xs []T) []T {
	out := slices.Clone(xs)
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func testListOrder(t *testing.T, h Harness) {
	f := h.fixture(t)
	s, ctx := f.s, f.ctx

	var names []string
	for _, n := range shuffled([]string{"b", "a", "c-2", "c-10", "Z", "m"}) {
		f.cluster(n)
		names = append(names, n)
	}
	slices.Sort(names)
	cs, err := s.ListClusters(ctx)
	noErr(t, "ListClusters", err)
	var gotNames []string
	for _, c := range cs {
		gotNames = append(gotNames, c.Name)
	}
	if d := diff(names, gotNames); d != "" {
		t.Errorf("ListClusters order (-want +got):\n%s", d)
	}

	// Tasks: by ClusterID (byte order), Type, Name, ID.
	c1, c2 := cs[0], cs[1]
	var all []*store.Task
	for _, spec := range shuffled([][3]string{
		{"1", "repair", "b"}, {"1", "backup", "z"}, {"1", "backup", "a"}, {"1", "backup", ""},
		{"1", "backup", ""}, {"1", "healthcheck", ""}, {"2", "backup", "a"}, {"2", "restore", "x"},
	}) {
		cid := c1.ID
		if spec[0] == "2" {
			cid = c2.ID
		}
		all = append(all, f.task(cid, spec[1], spec[2]))
	}
	want := slices.Clone(all)
	slices.SortFunc(want, func(a, b *store.Task) int {
		if c := compareBytes(a.ClusterID, b.ClusterID); c != 0 {
			return c
		}
		if a.Type != b.Type {
			return cmp.Compare(a.Type, b.Type)
		}
		if a.Name != b.Name {
			return cmp.Compare(a.Name, b.Name)
		}
		return compareBytes(a.ID, b.ID)
	})
	got, err := s.ListTasks(ctx, uuid.Nil)
	noErr(t, "ListTasks(all)", err)
	if d := diff(want, got); d != "" {
		t.Errorf("ListTasks(uuid.Nil) order (-want +got):\n%s", d)
	}
	want1 := slices.DeleteFunc(slices.Clone(want), func(tk *store.Task) bool { return tk.ClusterID != c1.ID })
	got, err = s.ListTasks(ctx, c1.ID)
	noErr(t, "ListTasks(c1)", err)
	if d := diff(want1, got); d != "" {
		t.Errorf("ListTasks(c1) (-want +got):\n%s", d)
	}

	// Runs: newest first by the time in the ID. The times are 5 minutes
	// apart, so the low 32 bits of the UUID timestamp (2^32 x 100ns =
	// 429.5s), which come first in the bytes, wrap: the byte order of the
	// IDs differs from their time order.
	tk := want1[0]
	other := want1[1]
	var runs []*store.Run
	for _, i := range shuffled([]int{0, 1, 2, 3, 4, 5, 6, 7}) {
		at := f.base.Add(time.Duration(i)*5*time.Minute + time.Duration(i%3)*time.Millisecond)
		st := store.StatusDone
		if i%2 == 0 {
			st = store.StatusRunning
		}
		runs = append(runs, f.run(tk, at, st, 0))
	}
	otherRun := f.run(other, f.base.Add(90*time.Second), store.StatusWaiting, 0)
	byTime := slices.Clone(runs)
	slices.SortFunc(byTime, func(a, b *store.Run) int { return store.UUIDTime(a.ID).Compare(store.UUIDTime(b.ID)) })
	byBytes := slices.Clone(runs)
	slices.SortFunc(byBytes, func(a, b *store.Run) int { return compareBytes(a.ID, b.ID) })
	if slices.Equal(byTime, byBytes) {
		t.Fatal("suite bug: byte order of run IDs equals their time order; ordering by bytes would go unnoticed")
	}
	newest := slices.Clone(byTime)
	slices.Reverse(newest)
	gotRuns, err := s.ListRuns(ctx, tk.ID, 0)
	noErr(t, "ListRuns", err)
	if d := diff(newest, gotRuns); d != "" {
		t.Errorf("ListRuns newest first (-want +got):\n%s", d)
	}
	gotRuns, err = s.ListRuns(ctx, tk.ID, 3)
	noErr(t, "ListRuns(limit 3)", err)
	if d := diff(newest[:3], gotRuns); d != "" {
		t.Errorf("ListRuns(limit 3) (-want +got):\n%s", d)
	}
	gotRuns, err = s.ListRuns(ctx, tk.ID, -1)
	noErr(t, "ListRuns(limit -1)", err)
	if len(gotRuns) != len(newest) {
		t.Errorf("ListRuns(limit -1) returned %d runs, want all %d", len(gotRuns), len(newest))
	}

	// Unfinished runs of every task, oldest first.
	var unfinished []*store.Run
	for _, r := range append(slices.Clone(byTime), otherRun) {
		if !r.Status.Final() {
			unfinished = append(unfinished, r)
		}
	}
	slices.SortStableFunc(unfinished, func(a, b *store.Run) int { return store.UUIDTime(a.ID).Compare(store.UUIDTime(b.ID)) })
	gotRuns, err = s.ListUnfinishedRuns(ctx)
	noErr(t, "ListUnfinishedRuns", err)
	if d := diff(unfinished, gotRuns); d != "" {
		t.Errorf("ListUnfinishedRuns (-want +got):\n%s", d)
	}
	// A run that finishes leaves the list; one that goes back to
	// running joins it.
	fin := *unfinished[0]
	fin.Status = store.StatusError
	fin.Cause = "boom"
	noErr(t, "UpdateRun(ERROR)", s.UpdateRun(ctx, &fin))
	back := *byTime[1]
	if back.Status.Final() {
		back.Status = store.StatusRunning
		noErr(t, "UpdateRun(RUNNING)", s.UpdateRun(ctx, &back))
	}
	wantUn := slices.DeleteFunc(slices.Clone(unfinished), func(r *store.Run) bool { return r.ID == fin.ID })
	if byTime[1].Status.Final() {
		wantUn = append(wantUn, &back)
		slices.SortStableFunc(wantUn, func(a, b *store.Run) int { return store.UUIDTime(a.ID).Compare(store.UUIDTime(b.ID)) })
	}
	gotRuns, err = s.ListUnfinishedRuns(ctx)
	noErr(t, "ListUnfinishedRuns after updates", err)
	if d := diff(wantUn, gotRuns); d != "" {
		t.Errorf("ListUnfinishedRuns after updates (-want +got):\n%s", d)
	}

	// Progress rows by key.
	run := byTime[0]
	var keys []string
	for _, k := range shuffled([]string{"10.0.0.2/ks/t1", "10.0.0.1/ks/t2", "10.0.0.1/ks/t1", "10.0.0.1/a", "z", "A"}) {
		f.progress(run, k, 0)
		keys = append(keys, k)
	}
	f.progress(byTime[1], "elsewhere", 0)
	slices.Sort(keys)
	rows, err := s.ListProgress(ctx, run.ID)
	noErr(t, "ListProgress", err)
	var gotKeys []string
	for _, p := range rows {
		gotKeys = append(gotKeys, p.Key)
	}
	if d := diff(keys, gotKeys); d != "" {
		t.Errorf("ListProgress order (-want +got):\n%s", d)
	}

	// Events oldest first by ID time, whatever the append order.
	now := nowMS()
	var evs []*store.Event
	for _, i := range shuffled([]int{0, 1, 2, 3, 4, 5}) {
		evs = append(evs, f.event(f.newEvent(c1.ID, now.Add(-time.Duration(i)*(5*time.Minute+7*time.Second)))))
	}
	slices.SortFunc(evs, func(a, b *store.Event) int { return store.UUIDTime(a.ID).Compare(store.UUIDTime(b.ID)) })
	gotEvs, err := s.QueryEvents(ctx, store.EventQuery{ClusterID: c1.ID})
	noErr(t, "QueryEvents", err)
	if d := diff(evs, gotEvs); d != "" {
		t.Errorf("QueryEvents order (-want +got):\n%s", d)
	}
}

func compareBytes(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) }

func testSecrets(t *testing.T, h Harness) {
	f := h.fixture(t)
	s, ctx := f.s, f.ctx
	c := f.cluster("sec")
	o := f.cluster("other")
	for _, k := range []string{store.SecretTLSIdentity, store.SecretAuthToken, store.SecretCQLCreds} {
		noErr(t, "PutSecret", s.PutSecret(ctx, c.ID, k, []byte("value of "+k)))
	}
	noErr(t, "PutSecret(other)", s.PutSecret(ctx, o.ID, "only-other", []byte("x")))
	noErr(t, "PutSecret(empty value)", s.PutSecret(ctx, c.ID, "empty", nil))
	noErr(t, "PutSecret(replace)", s.PutSecret(ctx, c.ID, store.SecretAuthToken, []byte("token-2")))

	v, err := s.GetSecret(ctx, c.ID, store.SecretAuthToken)
	noErr(t, "GetSecret", err)
	if string(v) != "token-2" {
		t.Errorf("GetSecret(auth_token) = %q, want %q", v, "token-2")
	}
	v, err = s.GetSecret(ctx, c.ID, "empty")
	noErr(t, "GetSecret(empty)", err)
	if len(v) != 0 {
		t.Errorf("GetSecret(empty) = %q, want empty", v)
	}
	keys, err := s.ListSecretKeys(ctx, c.ID)
	noErr(t, "ListSecretKeys", err)
	wantKeys := []string{store.SecretAuthToken, store.SecretCQLCreds, "empty", store.SecretTLSIdentity}
	slices.Sort(wantKeys)
	if d := diff(wantKeys, keys); d != "" {
		t.Errorf("ListSecretKeys (-want +got):\n%s", d)
	}

	// Clusters never carry secrets, and updating a cluster keeps them.
	got, err := s.GetCluster(ctx, c.ID)
	noErr(t, "GetCluster", err)
	if d := diff(c, got); d != "" {
		t.Errorf("PutSecret changed the cluster (-want +got):\n%s", d)
	}
	if b, _ := json.Marshal(got); slices.ContainsFunc([]string{"value of", "token-2"}, func(sub string) bool { return strings.Contains(string(b), sub) }) {
		t.Errorf("cluster record contains a secret: %s", b)
	}
	c.Host = "10.1.1.1"
	noErr(t, "UpdateCluster", s.UpdateCluster(ctx, c))
	_, err = s.GetSecret(ctx, c.ID, store.SecretCQLCreds)
	noErr(t, "GetSecret after UpdateCluster", err)

	noErr(t, "DeleteSecret", s.DeleteSecret(ctx, c.ID, store.SecretCQLCreds))
	_, err = s.GetSecret(ctx, c.ID, store.SecretCQLCreds)
	wantErr(t, "GetSecret(deleted)", err, store.ErrNotFound)
	keys, err = s.ListSecretKeys(ctx, c.ID)
	noErr(t, "ListSecretKeys", err)
	if slices.Contains(keys, store.SecretCQLCreds) || len(keys) != 3 {
		t.Errorf("ListSecretKeys after delete = %q", keys)
	}
	keys, err = s.ListSecretKeys(ctx, o.ID)
	noErr(t, "ListSecretKeys(other)", err)
	if d := diff([]string{"only-other"}, keys); d != "" {
		t.Errorf("ListSecretKeys(other) (-want +got):\n%s", d)
	}
	_, err = s.GetSecret(ctx, o.ID, store.SecretAuthToken)
	wantErr(t, "GetSecret(key of another cluster)", err, store.ErrNotFound)
}
