package cqlstore_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/gocql/gocql"
	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
)

// TestProgressBatchRestoresMissingFence: a run whose progress partition
// lost its fence row (CreateRun stopped between the run and the fence
// row) gets it back from the run on the first PutProgressBatch, as
// PutProgress does, and stale batches are refused from then on.
func TestProgressBatchRestoresMissingFence(t *testing.T) {
	o := testOptions(t)
	s := openStore(t, o)
	ctx := t.Context()
	r := createRun(t, s, "nofence", "", 3)
	id := r.ID
	admin := adminSession(t, o)
	defer admin.Close()
	if err := admin.Query(fmt.Sprintf("DELETE FROM %q.run_progress WHERE run_id = ?", o.Keyspace), gocql.UUID(id)).Exec(); err != nil {
		t.Fatal(err)
	}
	batch := func(fence int64, keys ...string) []*store.Progress {
		var out []*store.Progress
		for _, k := range keys {
			out = append(out, &store.Progress{ClusterID: r.ClusterID, TaskID: r.TaskID, RunID: id, Key: k,
				Data: json.RawMessage(fmt.Sprintf(`{"fence":%d}`, fence)), Fence: fence})
		}
		return out
	}
	if err := s.PutProgressBatch(ctx, batch(3, "a", "b", "c")); err != nil {
		t.Fatalf("PutProgressBatch without a fence row: %v", err)
	}
	if err := s.PutProgressBatch(ctx, batch(2, "a", "d")); !errorsIsLeaseLost(err) {
		t.Errorf("PutProgressBatch(fence 2 < restored 3) = %v, want ErrLeaseLost", err)
	}
	// Without the fence row again, a stale batch is refused by the run's
	// fence, not written under it.
	if err := admin.Query(fmt.Sprintf("DELETE fence FROM %q.run_progress WHERE run_id = ?", o.Keyspace), gocql.UUID(id)).Exec(); err != nil {
		t.Fatal(err)
	}
	if err := s.PutProgressBatch(ctx, batch(2, "a", "d")); !errorsIsLeaseLost(err) {
		t.Errorf("PutProgressBatch(fence 2 < run's 3, no fence row) = %v, want ErrLeaseLost", err)
	}
	if err := s.PutProgress(ctx, batch(2, "a")[0]); !errorsIsLeaseLost(err) {
		t.Errorf("PutProgress(fence 2 < run's 3, no fence row) = %v, want ErrLeaseLost", err)
	}
	rows, err := s.ListProgress(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range rows {
		got = append(got, fmt.Sprintf("%s=%s", p.Key, p.Data))
	}
	if want := `[a={"fence":3} b={"fence":3} c={"fence":3}]`; fmt.Sprint(got) != want {
		t.Errorf("rows = %v, want %s", got, want)
	}
}

// TestProgressBatchTakeover: a new lease holder's UpdateRun raises the
// partition's fence, after which the old holder's batches are refused
// whole, and the new holder's batch (its fence above the stored one until
// its UpdateRun, equal after) passes.
func TestProgressBatchTakeover(t *testing.T) {
	s := openStore(t, testOptions(t))
	ctx := t.Context()
	r := createRun(t, s, "takeover", "old", 1)
	id := r.ID
	batch := func(fence int64, keys ...string) []*store.Progress {
		var out []*store.Progress
		for _, k := range keys {
			out = append(out, &store.Progress{ClusterID: r.ClusterID, TaskID: r.TaskID, RunID: id, Key: k,
				Data: json.RawMessage(fmt.Sprintf(`"holder %d"`, fence)), Fence: fence})
		}
		return out
	}
	if err := s.PutProgressBatch(ctx, batch(1, "a", "b")); err != nil {
		t.Fatal(err)
	}
	// The new holder writes before its UpdateRun: fence 2 > stored 1.
	if err := s.PutProgressBatch(ctx, batch(2, "b", "c")); err != nil {
		t.Fatalf("PutProgressBatch(fence 2 > stored 1): %v", err)
	}
	nu := *r
	nu.Owner, nu.Fence = "new", 2
	if err := s.UpdateRun(ctx, &nu); err != nil {
		t.Fatal(err)
	}
	if err := s.PutProgressBatch(ctx, batch(1, "a", "d")); !errorsIsLeaseLost(err) {
		t.Errorf("old holder's PutProgressBatch after the takeover = %v, want ErrLeaseLost", err)
	}
	if err := s.PutProgressBatch(ctx, batch(2, "a", "d")); err != nil {
		t.Fatalf("new holder's PutProgressBatch: %v", err)
	}
	rows, err := s.ListProgress(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range rows {
		got = append(got, fmt.Sprintf("%s=%s/%d", p.Key, p.Data, p.Fence))
	}
	if want := `[a="holder 2"/2 b="holder 2"/2 c="holder 2"/2 d="holder 2"/2]`; fmt.Sprint(got) != want {
		t.Errorf("rows = %v, want %s", got, want)
	}
}

func errorsIsLeaseLost(err error) bool { return errors.Is(err, store.ErrLeaseLost) }

// createRun stores a cluster named name, a backup task of it and a
// RUNNING run of the task held by owner with fence.
func createRun(t *testing.T, s store.Store, name, owner string, fence int64) *store.Run {
	t.Helper()
	ctx := t.Context()
	c := &store.Cluster{ID: uuid.New(), Name: name}
	if err := s.CreateCluster(ctx, c); err != nil {
		t.Fatal(err)
	}
	tk := &store.Task{ClusterID: c.ID, ID: uuid.New(), Type: "backup"}
	if err := s.CreateTask(ctx, tk); err != nil {
		t.Fatal(err)
	}
	id, err := uuid.NewUUID()
	if err != nil {
		t.Fatal(err)
	}
	r := &store.Run{ClusterID: c.ID, TaskID: tk.ID, ID: id, Type: "backup", Status: store.StatusRunning, Owner: owner, Fence: fence}
	if err := s.CreateRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	return r
}
