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
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
)

func services(t *testing.T, args ...string) {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "services.sh"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, script, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("services.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("services.sh %s: %s", strings.Join(args, " "), strings.TrimSpace(string(out)))
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
		if err == nil || (op.unsure && errors.Is(err, store.ErrConflict)) {
			op.created = true
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
	if os.Getenv("SCYLLAOPS_CI_DIR") == "" {
		t.Skip("SCYLLAOPS_CI_DIR is not set: this test stops and starts the Cassandra of scripts/services.sh")
	}
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

	const before, during, after = 10, 10, 10
	var ops []*outageOp
	for i := range before + during + after {
		ops = append(ops, newOutageOp(t, tk, i))
	}
	for _, op := range ops[:before] {
		for !op.done() {
			if err := op.step(ctx, s); err != nil {
				t.Fatalf("before the outage: %v", err)
			}
		}
	}

	services(t, "stop", "cassandra")
	for i, op := range ops[before : before+during] {
		start := time.Now()
		err := op.step(ctx, s)
		if err == nil {
			t.Fatalf("op %d succeeded while Cassandra was down", before+i)
		}
		for _, sentinel := range []error{store.ErrConflict, store.ErrNotFound, store.ErrLeaseLost, store.ErrClosed} {
			if errors.Is(err, sentinel) {
				t.Errorf("op %d during the outage: %v; want a database error, not %v", before+i, err, sentinel)
			}
		}
		if !strings.HasPrefix(err.Error(), "cqlstore: ") {
			t.Errorf("op %d during the outage: error %q lacks the cqlstore prefix", before+i, err)
		}
		if i == 0 || i == during-1 {
			t.Logf("during the outage, after %s: %v", time.Since(start).Round(time.Millisecond), err)
		}
	}

	services(t, "start", "cassandra")
	restarted := time.Now()
	deadline := restarted.Add(3 * time.Minute)
	var lastErr error
	for i, op := range ops[before:] {
		for !op.done() {
			if time.Now().After(deadline) {
				t.Fatalf("op %d not done 3 minutes after the restart; last error: %v", before+i, lastErr)
			}
			if err := op.step(ctx, s); err != nil {
				lastErr = err
				select {
				case <-time.After(500 * time.Millisecond):
				case <-ctx.Done():
					t.Fatal(ctx.Err())
				}
			}
		}
	}
	t.Logf("all writes done %s after the restart (last error seen: %v)", time.Since(restarted).Round(time.Millisecond), lastErr)

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
