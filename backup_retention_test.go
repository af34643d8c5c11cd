package scyllaops

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"

	"github.com/scyllaops/scyllaops/backup"
	"github.com/scyllaops/scyllaops/internal/backupspec"
	"github.com/scyllaops/scyllaops/scheduler"
	"github.com/scyllaops/scyllaops/scyllatest"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/memstore"
)

// retentionFixture is a running Manager on memstore over a simulated
// cluster whose backups go to the local bucket "b1", with a backup clock
// the test moves.
type retentionFixture struct {
	m      *Manager
	id     uuid.UUID
	offset atomic.Int64 // added to time.Now by the backup service's clock
}

func newRetentionFixture(t *testing.T) *retentionFixture {
	t.Helper()
	buckets := t.TempDir()
	if err := os.Mkdir(filepath.Join(buckets, "b1"), 0o755); err != nil {
		t.Fatal(err)
	}
	sim := scyllatest.New(t, scyllatest.Options{OpenBucket: func(ctx context.Context, provider, bucket string) (*blob.Bucket, error) {
		return fileblob.OpenBucket(filepath.Join(buckets, bucket), &fileblob.Options{NoTempDir: true})
	}})
	st := memstore.New()
	f := &retentionFixture{}
	m, err := New(st, sim.Transport(), Options{CQLDial: sim.CQLDialer().DialContext,
		Backup: backup.Options{LongPoll: 100 * time.Millisecond,
			Now: func() time.Time { return time.Now().Add(time.Duration(f.offset.Load())) }}})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- m.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done; _ = m.Close(); _ = st.Close() })
	c, err := m.CreateCluster(t.Context(), Cluster{Name: "p", Host: sim.ContactHost(), AuthToken: sim.AuthToken()})
	if err != nil {
		t.Fatal(err)
	}
	f.m, f.id = m, c.ID
	return f
}

// setClock sets the backup clock to now+d.
func (f *retentionFixture) setClock(d time.Duration) { f.offset.Store(int64(d)) }

func (f *retentionFixture) createTask(t *testing.T, name, props string) store.Task {
	t.Helper()
	task, err := f.m.CreateTask(t.Context(), store.Task{ClusterID: f.id, Type: BackupTaskType, Name: name, Enabled: true,
		Schedule: store.Schedule{Cron: "0 3 1 1 *"}, Properties: json.RawMessage(props)})
	if err != nil {
		t.Fatal(err)
	}
	return task
}

// runBackup starts the task and waits for its new run to end DONE.
func (f *retentionFixture) runBackup(t *testing.T, taskID uuid.UUID) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	prev, _, err := f.m.RunProgress(ctx, f.id, taskID, "latest")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.m.StartTask(ctx, f.id, taskID, true); err != nil {
		t.Fatal(err)
	}
	for {
		run, _, err := f.m.RunProgress(ctx, f.id, taskID, "latest")
		if err == nil && run.ID != prev.ID && run.Status.Final() && run.Status != store.StatusAborted {
			if run.Status != store.StatusDone {
				t.Fatalf("backup run of task %s: %s: %s", taskID, run.Status, run.Cause)
			}
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("backup run of task %s: not done in time (last: %+v, %v)", taskID, run, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// tags returns the snapshot tags in b1 per task, sorted.
func (f *retentionFixture) tags(t *testing.T) map[uuid.UUID][]string {
	t.Helper()
	list, err := f.m.ListBackups(t.Context(), "p", []string{"localstorage:b1"}, backup.ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[uuid.UUID][]string{}
	for _, it := range list {
		for _, s := range it.SnapshotInfo {
			if !slices.Contains(out[it.TaskID], s.SnapshotTag) {
				out[it.TaskID] = append(out[it.TaskID], s.SnapshotTag)
			}
		}
	}
	for _, v := range out {
		sort.Strings(v)
	}
	return out
}

// TestBackupRetentionMapAcrossTasks: task A (retention 1) and task B
// (retention 3, retention_days 50) back up to the same location; B's
// snapshots are 43-45 days old, past the 30 days given to tasks missing
// from the retention map. A's runs (and a direct purge of A) keep B's 3
// snapshots while B is enabled, disabled, and soft-deleted (its policy is
// then max(50, 30) days); 10 days later A's run purges them.
func TestBackupRetentionMapAcrossTasks(t *testing.T) {
	f := newRetentionFixture(t)
	const day = 24 * time.Hour
	a := f.createTask(t, "a", `{"location":["localstorage:b1"],"retention":1}`)
	b := f.createTask(t, "b", `{"location":["localstorage:b1"],"retention":3,"retention_days":50}`)

	for i := range 3 {
		f.setClock(-45*day + time.Duration(i)*day)
		f.runBackup(t, b.ID)
	}
	bTags := f.tags(t)[b.ID]
	if len(bTags) != 3 {
		t.Fatalf("task B: %d snapshots after 3 runs with retention 3, want 3: %v", len(bTags), bTags)
	}

	check := func(step string, wantB []string) {
		t.Helper()
		got := f.tags(t)
		if len(got[a.ID]) != 1 {
			t.Errorf("%s: task A has snapshots %v, want 1 (retention 1)", step, got[a.ID])
		}
		if !slices.Equal(got[b.ID], wantB) {
			t.Errorf("%s: task B has snapshots %v, want %v", step, got[b.ID], wantB)
		}
	}

	// Enabled B: A's runs must keep B's snapshots by B's own policy.
	f.setClock(0)
	f.runBackup(t, a.ID)
	f.setClock(time.Hour)
	f.runBackup(t, a.ID)
	check("A's runs, B enabled", bTags)
	if _, err := f.m.PurgeBackups(t.Context(), "p", a.ID); err != nil {
		t.Fatal(err)
	}
	check("direct purge of A, B enabled", bTags)

	// Disabled B keeps its policy.
	b.Enabled = false
	if _, err := f.m.UpdateTask(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	f.setClock(2 * time.Hour)
	f.runBackup(t, a.ID)
	check("A's run, B disabled", bTags)

	// Soft-deleted B: count retention becomes max(50, 30) = 50 days; its
	// snapshots (43-45 days old) stay...
	if err := f.m.DeleteTask(t.Context(), f.id, b.ID); err != nil {
		t.Fatal(err)
	}
	f.setClock(3 * time.Hour)
	f.runBackup(t, a.ID)
	check("A's run, B deleted", bTags)
	// ...until they are older than 50 days.
	f.setClock(10 * day)
	f.runBackup(t, a.ID)
	check("A's run 10 days later, B deleted", nil)

	reports, err := f.m.ValidateBackup(t.Context(), "p", []string{"localstorage:b1"}, backup.ValidateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reports {
		if r.MissingFiles != 0 || r.OrphanedFiles != 0 {
			t.Errorf("validate %s after purges: %d missing, %d orphaned", r.Host, r.MissingFiles, r.OrphanedFiles)
		}
	}
}

// TestRetentionMap: the policy of every backup task of the cluster,
// disabled and deleted ones included; other types and clusters are left
// out, unparseable properties get the 30-day default.
func TestRetentionMap(t *testing.T) {
	cl, other := uuid.New(), uuid.New()
	id := func(n byte) uuid.UUID { return uuid.UUID{15: n} }
	task := func(n byte, typ string, enabled, deleted bool, props string) *store.Task {
		return &store.Task{ClusterID: cl, ID: id(n), Type: typ, Enabled: enabled, Deleted: deleted, Properties: json.RawMessage(props)}
	}
	tasks := []*store.Task{
		task(1, BackupTaskType, true, false, `{"location":["s3:bkt"],"retention":1}`),
		task(2, BackupTaskType, false, false, `{"location":["s3:bkt"],"retention":12}`),                    // disabled: as is
		task(3, BackupTaskType, false, true, `{"location":["s3:bkt"],"retention":3}`),                      // deleted, count: 30 days
		task(4, BackupTaskType, false, true, `{"location":["s3:bkt"],"retention":3,"retention_days":45}`),  // deleted: max(45, 30)
		task(5, BackupTaskType, false, true, `{"location":["s3:bkt"],"retention_days":7}`),                 // deleted, time-based: as is
		task(6, BackupTaskType, true, false, `{"location":["s3:bkt"]}`),                                    // default: 3
		task(7, BackupTaskType, false, true, `{"location":["s3:bkt"]}`),                                    // deleted default: 30 days
		task(8, BackupTaskType, true, false, `{"location":["s3:bkt"],"retention":"x"}`),                    // unparseable: 30 days
		task(9, BackupTaskType, true, false, `{"retention":5}`),                                            // no location: 30 days
		task(10, BackupTaskType, true, false, `{"location":["s3:bkt"],"retention":2,"retention_days":10}`), // both
		task(11, "repair", true, false, `{}`),
		task(12, ValidateBackupTaskType, true, false, `{"location":["s3:bkt"]}`),
		{ClusterID: other, ID: id(13), Type: BackupTaskType, Properties: json.RawMessage(`{"location":["s3:bkt"]}`)},
	}
	got := retentionMap(t.Context(), slog.New(slog.NewTextHandler(t.Output(), nil)), cl, tasks)
	want := map[uuid.UUID]backupspec.RetentionPolicy{
		id(1): {Retention: 1}, id(2): {Retention: 12}, id(3): {RetentionDays: 30}, id(4): {RetentionDays: 45},
		id(5): {RetentionDays: 7}, id(6): {Retention: 3}, id(7): {RetentionDays: 30}, id(8): {RetentionDays: 30},
		id(9): {RetentionDays: 30}, id(10): {Retention: 2, RetentionDays: 10},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("retention map (-want +got):\n%s", d)
	}
}

// recordingRunner records the properties of its runs.
type recordingRunner struct{ got json.RawMessage }

func (r *recordingRunner) Run(_ context.Context, _, _, _ uuid.UUID, p json.RawMessage) error {
	r.got = p
	return nil
}

type progressRunner struct{ recordingRunner }

func (progressRunner) Progress(context.Context, uuid.UUID, uuid.UUID, uuid.UUID) (json.RawMessage, error) {
	return json.RawMessage(`{"p":1}`), nil
}

// TestDecoratedRunner: the Runner gets the decorated properties, a
// decorate error fails the run before the Runner is called, the
// ProgressReader of the wrapped Runner stays visible, and reserved
// properties are refused before the wrapped validator is asked.
func TestDecoratedRunner(t *testing.T) {
	ctx := t.Context()
	fail := errors.New("boom")
	d := decoratedRunner{reserved: []string{"x"}, decorate: func(_ context.Context, _, _ uuid.UUID, p json.RawMessage) (json.RawMessage, error) {
		if string(p) == "fail" {
			return nil, fail
		}
		return json.RawMessage(`{"decorated":true}`), nil
	}}
	rec := &recordingRunner{}
	r := decorateRunner(rec, d)
	if err := r.Run(ctx, uuid.Nil, uuid.Nil, uuid.Nil, json.RawMessage(`{}`)); err != nil || string(rec.got) != `{"decorated":true}` {
		t.Errorf("Run: %v, runner got %s, want the decorated properties", err, rec.got)
	}
	rec.got = nil
	if err := r.Run(ctx, uuid.Nil, uuid.Nil, uuid.Nil, json.RawMessage("fail")); !errors.Is(err, fail) || rec.got != nil {
		t.Errorf("Run with a failing decorator: %v (runner got %s), want %v and no call", err, rec.got, fail)
	}
	if _, ok := r.(scheduler.ProgressReader); ok {
		t.Error("decorated runner without Progress implements scheduler.ProgressReader")
	}
	pr, ok := decorateRunner(&progressRunner{}, d).(scheduler.ProgressReader)
	if !ok {
		t.Fatal("decorated runner with Progress does not implement scheduler.ProgressReader")
	}
	if p, err := pr.Progress(ctx, uuid.Nil, uuid.Nil, uuid.Nil); err != nil || string(p) != `{"p":1}` {
		t.Errorf("Progress = %s, %v", p, err)
	}
	v := r.(scheduler.PropertiesValidator)
	var ie *store.InvalidError
	if err := v.ValidateProperties(json.RawMessage(`{"x":1}`)); !errors.As(err, &ie) || ie.Field != "properties.x" {
		t.Errorf("ValidateProperties with reserved x = %v, want an InvalidError naming properties.x", err)
	}
	if err := v.ValidateProperties(json.RawMessage(`{"y":1}`)); err != nil {
		t.Errorf("ValidateProperties without reserved keys = %v", err)
	}
}

// TestBackupRetentionMapNotUserSettable: a task may not set
// retention_map (create and update refuse it naming the field); one
// stored anyway (written to the store directly) is replaced at run time
// by the map the Manager computes.
func TestBackupRetentionMapNotUserSettable(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	m, err := New(st, nil, Options{SkipConnectivityCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	c, err := m.CreateCluster(ctx, Cluster{Name: "p", Host: "10.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	const withMap = `{"location":["s3:bkt"],"retention_map":{"00000000-0000-0000-0000-000000000001":{"retention":0,"retention_days":1}}}`
	isRefused := func(op string, err error) {
		t.Helper()
		var ie *store.InvalidError
		if !errors.Is(err, ErrInvalid) || !errors.As(err, &ie) || ie.Field != "properties.retention_map" {
			t.Errorf("%s with retention_map: %v, want ErrInvalid naming properties.retention_map", op, err)
		}
	}
	_, err = m.CreateTask(ctx, store.Task{ClusterID: c.ID, Type: BackupTaskType, Name: "a", Enabled: true,
		Schedule: store.Schedule{Cron: "0 3 * * *"}, Properties: json.RawMessage(withMap)})
	isRefused("CreateTask", err)
	a, err := m.CreateTask(ctx, store.Task{ClusterID: c.ID, Type: BackupTaskType, Name: "a", Enabled: true,
		Schedule: store.Schedule{Cron: "0 3 * * *"}, Properties: json.RawMessage(`{"location":["s3:bkt"],"retention":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	upd := a
	upd.Properties = json.RawMessage(withMap)
	_, err = m.UpdateTask(ctx, upd)
	isRefused("UpdateTask", err)
	if got, err := m.GetTask(ctx, c.ID, a.ID); err != nil || string(got.Properties) != `{"location":["s3:bkt"],"retention":1}` {
		t.Errorf("task after refused update: %s, %v; want it unchanged", got.Properties, err)
	}

	// A task stored with a retention_map before it was refused.
	b := &store.Task{ClusterID: c.ID, ID: uuid.New(), Type: BackupTaskType, Name: "b", Enabled: true,
		Schedule: store.Schedule{Cron: "0 3 * * *"}, Properties: json.RawMessage(withMap)}
	if err := st.CreateTask(ctx, b); err != nil {
		t.Fatal(err)
	}
	props, err := m.withRetentionMap(ctx, c.ID, b.Properties)
	if err != nil {
		t.Fatal(err)
	}
	p, err := backup.ParseProperties(props)
	if err != nil {
		t.Fatal(err)
	}
	want := map[uuid.UUID]backupspec.RetentionPolicy{a.ID: {Retention: 1}, b.ID: {Retention: backup.DefaultRetention}}
	if d := cmp.Diff(want, p.RetentionMap); d != "" {
		t.Errorf("run properties' retention_map (-want +got):\n%s", d)
	}
	if len(p.Location) != 1 || p.Location[0] != "s3:bkt" {
		t.Errorf("run properties lost the location: %s", props)
	}
}
