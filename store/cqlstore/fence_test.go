package cqlstore_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
)

// TestFenceTakeoverRace: an old lease holder (fence 1) keeps writing its
// run and progress rows while a new holder (fence 2) takes the run over.
// Once the new holder's UpdateRun has returned, no write of the old holder
// that starts later may succeed, and the final state is the new holder's.
// This exercises the optimistic IF fence = ? loops that stand in for
// IF fence <= ?, which Cassandra 2.1.0 lacks.
func TestFenceTakeoverRace(t *testing.T) {
	s := openStore(t, testOptions(t))
	ctx := t.Context()
	c := &store.Cluster{ID: uuid.New(), Name: "race"}
	if err := s.CreateCluster(ctx, c); err != nil {
		t.Fatal(err)
	}
	tk := &store.Task{ClusterID: c.ID, ID: uuid.New(), Type: "repair"}
	if err := s.CreateTask(ctx, tk); err != nil {
		t.Fatal(err)
	}
	id, err := uuid.NewUUID()
	if err != nil {
		t.Fatal(err)
	}
	old := &store.Run{ClusterID: c.ID, TaskID: tk.ID, ID: id, Type: "repair", Status: store.StatusRunning,
		Owner: "old", Fence: 1}
	if err := s.CreateRun(ctx, old); err != nil {
		t.Fatal(err)
	}

	var takenOver atomic.Bool
	var lateOK, lateLost atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			after := takenOver.Load()
			var err error
			if i%2 == 0 {
				r := *old
				r.Cause = fmt.Sprint(i)
				err = s.UpdateRun(ctx, &r)
			} else {
				err = s.PutProgress(ctx, &store.Progress{ClusterID: c.ID, TaskID: tk.ID, RunID: id,
					Key: fmt.Sprintf("k%d", i%4), Data: json.RawMessage(`"old"`), Fence: 1})
			}
			switch {
			case err == nil && after:
				lateOK.Add(1)
			case errors.Is(err, store.ErrLeaseLost):
				if after {
					lateLost.Add(1)
				}
			case err != nil:
				t.Errorf("old holder: %v", err)
				return
			}
		}
	})

	// Let the old holder write for a while, then take over.
	select {
	case <-time.After(500 * time.Millisecond):
	case <-ctx.Done():
	}
	nu := *old
	nu.Owner, nu.Fence = "new", 2
	if err := s.UpdateRun(ctx, &nu); err != nil {
		t.Fatalf("takeover UpdateRun: %v", err)
	}
	takenOver.Store(true)
	for i := range 4 {
		if err := s.PutProgress(ctx, &store.Progress{ClusterID: c.ID, TaskID: tk.ID, RunID: id,
			Key: fmt.Sprintf("k%d", i), Data: json.RawMessage(`"new"`), Fence: 2}); err != nil {
			t.Fatalf("new holder PutProgress: %v", err)
		}
	}
	// Let the old holder try a few more times.
	for lateLost.Load() < 4 && !t.Failed() {
		select {
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
	close(stop)
	wg.Wait()

	if n := lateOK.Load(); n != 0 {
		t.Errorf("%d writes of the old holder succeeded after the takeover", n)
	}
	got, err := s.GetRun(ctx, tk.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Owner != "new" || got.Fence != 2 {
		t.Errorf("run owner/fence = %s/%d, want new/2", got.Owner, got.Fence)
	}
	rows, err := s.ListProgress(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 {
		t.Errorf("ListProgress = %d rows, want 4", len(rows))
	}
	for _, p := range rows {
		if string(p.Data) != `"new"` || p.Fence != 2 {
			t.Errorf("row %s = %s fence %d, want the new holder's", p.Key, p.Data, p.Fence)
		}
	}
}
