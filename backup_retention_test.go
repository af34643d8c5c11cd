package scyllaops

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"

	"github.com/scyllaops/scyllaops/backup"
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
	task, err := f.m.CreateTask(t.Context(), store.Task{ClusterID: f.id, Type: backup.TaskType, Name: name, Enabled: true,
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
	list, err := f.m.Backup().List(t.Context(), "p", []string{"localstorage:b1"}, backup.ListFilter{})
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
	if _, err := f.m.Backup().Purge(t.Context(), "p", a.ID); err != nil {
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

	reports, err := f.m.Backup().Validate(t.Context(), "p", []string{"localstorage:b1"}, backup.ValidateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reports {
		if r.MissingFiles != 0 || r.OrphanedFiles != 0 {
			t.Errorf("validate %s after purges: %d missing, %d orphaned", r.Host, r.MissingFiles, r.OrphanedFiles)
		}
	}
}

// TestBackupRetentionMapNotUserSettable: a task may not set
// retention_map (create and update refuse it naming the field); one
// stored anyway is replaced at run time (backup's
// TestRetentionMapReplacesStored).
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
	const withMap = `{"location":["s3:b"],"retention_map":{"00000000-0000-0000-0000-000000000001":{"retention":0,"retention_days":1}}}`
	isRefused := func(op string, err error) {
		t.Helper()
		var ie *store.InvalidError
		if !errors.Is(err, ErrInvalid) || !errors.As(err, &ie) || ie.Field != "properties.retention_map" {
			t.Errorf("%s with retention_map: %v, want ErrInvalid naming properties.retention_map", op, err)
		}
	}
	_, err = m.CreateTask(ctx, store.Task{ClusterID: c.ID, Type: backup.TaskType, Name: "a", Enabled: true,
		Schedule: store.Schedule{Cron: "0 3 * * *"}, Properties: json.RawMessage(withMap)})
	isRefused("CreateTask", err)
	a, err := m.CreateTask(ctx, store.Task{ClusterID: c.ID, Type: backup.TaskType, Name: "a", Enabled: true,
		Schedule: store.Schedule{Cron: "0 3 * * *"}, Properties: json.RawMessage(`{"location":["s3:b"],"retention":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	upd := a
	upd.Properties = json.RawMessage(withMap)
	_, err = m.UpdateTask(ctx, upd)
	isRefused("UpdateTask", err)
	if got, err := m.GetTask(ctx, c.ID, a.ID); err != nil || string(got.Properties) != `{"location":["s3:b"],"retention":1}` {
		t.Errorf("task after refused update: %s, %v; want it unchanged", got.Properties, err)
	}

}
