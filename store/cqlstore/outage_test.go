//go:build outage

package cqlstore_test

// The outage test stops and restarts the shared Cassandra, so it must not
// run alongside other tests: it has the build tag "outage", and
// scripts/test.sh runs it in its own phase after the main `go test`.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/internal/testenv"
	"github.com/scyllaops/scyllaops/store"
)

func services(t *testing.T, args ...string) {
	t.Helper()
	testenv.Services(t, args...)
}

// outageOp is one unit of work: create a run, put a progress row, append
// an event. Each part is retried until it is known to be done.
type outageOp struct {
	run      *store.Run
	progress *store.Progress
	event    *store.Event
	// created etc. record what is known to be stored; unsure records that
	// an attempt failed with an error after which the write may or may
	// not have been applied.
	created, put, appended bool
	unsure                 bool
	// conflicts counts retried creates that found their earlier attempt
	// applied.
	conflicts int
}

func newOutageOp(t *testing.T, tk *store.Task, i int) *outageOp {
	t.Helper()
	id, err := uuid.NewUUID()
	if err != nil {
		t.Fatal(err)
	}
	eid, err := uuid.NewUUID()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	r := &store.Run{ClusterID: tk.ClusterID, TaskID: tk.ID, ID: id, Type: tk.Type, Status: store.StatusRunning,
		Owner: "outage-test", Fence: 1, Activation: now, StartTime: now}
	return &outageOp{
		run: r,
		progress: &store.Progress{ClusterID: tk.ClusterID, TaskID: tk.ID, RunID: id, Key: fmt.Sprintf("host/ks/t%d", i),
			Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)), Fence: 1, UpdatedAt: now},
		event: &store.Event{ID: eid, ClusterID: tk.ClusterID, TaskID: tk.ID, RunID: id, Time: now, Kind: "run_status",
			Severity: "info", Message: fmt.Sprintf("op %d", i)},
	}
}

// step performs the next missing part of op with a bounded context and
// returns the error of that part (nil when op is complete).
func (op *outageOp) step(ctx context.Context, s store.Store) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	switch {
	case !op.created:
		err := s.CreateRun(ctx, op.run)
		if err == nil {
			op.created = true
			return nil
		}
		if op.unsure && errors.Is(err, store.ErrConflict) {
			// An earlier attempt was applied after all: it must be ours.
			got, gerr := s.GetRun(ctx, op.run.TaskID, op.run.ID)
			if gerr != nil {
				return gerr
			}
			if got.Owner != op.run.Owner || got.StartTime != op.run.StartTime {
				return fmt.Errorf("conflicting run %s is not ours: %+v", op.run.ID, got)
			}
			op.created = true
			op.conflicts++
			return nil
		}
		op.unsure = true
		return err
	case !op.put:
		// PutProgress and AppendEvent are upserts: retrying is safe.
		if err := s.PutProgress(ctx, op.progress); err != nil {
			return err
		}
		op.put = true
		return nil
	case !op.appended:
		if err := s.AppendEvent(ctx, op.event); err != nil {
			return err
		}
		op.appended = true
	}
	return nil
}

func (op *outageOp) done() bool { return op.created && op.put && op.appended }

func TestOutage(t *testing.T) {
	testenv.Need(t, "SCYLLAOPS_CI_DIR") // it stops and starts the Cassandra of scripts/services.sh
	o := testOptions(t)
	o.Timeout = 3 * time.Second
	o.ConnectTimeout = 3 * time.Second
	s := openStore(t, o)
	ctx := t.Context()
	// Whatever happens, leave Cassandra running for the next tests.
	t.Cleanup(func() { services(t, "start", "cassandra") })

	c := &store.Cluster{ID: uuid.New(), Name: "outage"}
	if err := s.CreateCluster(ctx, c); err != nil {
		t.Fatal(err)
	}
	tk := &store.Task{ClusterID: c.ID, ID: uuid.New(), Type: "backup", Name: "nightly", Enabled: true}
	if err := s.CreateTask(ctx, tk); err != nil {
		t.Fatal(err)
	}

	const n = 40
	var ops []*outageOp
	for i := range n {
		ops = append(ops, newOutageOp(t, tk, i))
	}

	// A writer works through the ops, retrying each part until it is
	// done, while the main goroutine stops Cassandra under it and starts
	// it again: writes are in flight when the server goes away.
	var (
		mu        sync.Mutex
		errs      []error
		doneCount int
	)
	progress := func() (int, int) {
		mu.Lock()
		defer mu.Unlock()
		return doneCount, len(errs)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		for i, op := range ops {
			for !op.done() {
				err := op.step(wctx, s)
				if err == nil {
					continue
				}
				if wctx.Err() != nil {
					t.Errorf("op %d not done in time; last error: %v", i, err)
					return
				}
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				select {
				case <-time.After(200 * time.Millisecond):
				case <-wctx.Done():
				}
			}
			mu.Lock()
			doneCount++
			mu.Unlock()
		}
	})
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			select {
			case <-time.After(50 * time.Millisecond):
			case <-wctx.Done():
				t.Fatalf("waiting for %s: %v", what, wctx.Err())
			}
		}
	}

	waitFor("10 ops before the outage", func() bool { d, _ := progress(); return d >= 10 })
	services(t, "stop", "cassandra")
	waitFor("5 errors during the outage", func() bool { _, e := progress(); return e >= 5 })
	doneDown, _ := progress()
	services(t, "start", "cassandra")
	restarted := time.Now()
	wg.Wait()
	if t.Failed() {
		return
	}
	t.Logf("all ops done %s after the restart; %d ops were done when it went down",
		time.Since(restarted).Round(time.Millisecond), doneDown)

	// Every error is a clear database error from cqlstore, never a
	// sentinel that would make a caller give up or misbehave.
	for _, err := range errs {
		for _, sentinel := range []error{store.ErrNotFound, store.ErrLeaseLost, store.ErrClosed, store.ErrInvalid} {
			if errors.Is(err, sentinel) {
				t.Errorf("error during the outage matches %v: %v", sentinel, err)
			}
		}
		if !strings.HasPrefix(err.Error(), "cqlstore: ") {
			t.Errorf("error %q lacks the cqlstore prefix", err)
		}
		// Callers (and the REST API: 503) can tell "retry later".
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("error during the outage is not store.ErrUnavailable: %v", err)
		}
	}
	if len(errs) > 0 {
		t.Logf("%d errors, first: %v; last: %v", len(errs), errs[0], errs[len(errs)-1])
	}
	conflicts := 0
	for _, op := range ops {
		conflicts += op.conflicts
	}
	t.Logf("%d creates were retried after an unknown outcome and found applied", conflicts)

	// Everything is stored exactly once, the writes from before the outage
	// included.
	runs, err := s.ListRuns(ctx, tk.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uuid.UUID]int{}
	for _, r := range runs {
		seen[r.ID]++
	}
	if len(runs) != len(ops) {
		t.Errorf("ListRuns = %d runs, want %d", len(runs), len(ops))
	}
	for i, op := range ops {
		if seen[op.run.ID] != 1 {
			t.Errorf("run of op %d stored %d times", i, seen[op.run.ID])
		}
		ps, err := s.ListProgress(ctx, op.run.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != 1 || ps[0].Key != op.progress.Key || string(ps[0].Data) != string(op.progress.Data) {
			t.Errorf("progress of op %d = %+v, want the one row %q", i, ps, op.progress.Key)
		}
	}
	evs, err := s.QueryEvents(ctx, store.EventQuery{ClusterID: c.ID})
	if err != nil {
		t.Fatal(err)
	}
	evSeen := map[uuid.UUID]int{}
	for _, e := range evs {
		evSeen[e.ID]++
	}
	if len(evs) != len(ops) {
		t.Errorf("QueryEvents = %d events, want %d", len(evs), len(ops))
	}
	for i, op := range ops {
		if evSeen[op.event.ID] != 1 {
			t.Errorf("event of op %d stored %d times", i, evSeen[op.event.ID])
		}
	}
	unfinished, err := s.ListUnfinishedRuns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(unfinished) != len(ops) {
		t.Errorf("ListUnfinishedRuns = %d runs, want %d", len(unfinished), len(ops))
	}
}
