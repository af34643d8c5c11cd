package repair_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/repair"
	"github.com/scyllaops/scyllaops/scyllatest"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/memstore"
)

type resolver struct{ c *scyllatest.Cluster }

func (r resolver) Client(context.Context, uuid.UUID) (*agentclient.Client, string, error) {
	return r.c.Client(), r.c.ContactHost(), nil
}

type env struct {
	t         *testing.T
	st        store.Store
	c         *scyllatest.Cluster
	svc       *repair.Service
	clusterID uuid.UUID
	taskID    uuid.UUID
}

func newEnv(t *testing.T, so scyllatest.Options, ro repair.Options) *env {
	t.Helper()
	e := &env{t: t, st: memstore.New(), clusterID: uuid.New(), taskID: uuid.New()}
	if so.TokensPerNode == 0 {
		so.TokensPerNode = 8
	}
	e.c = scyllatest.New(t, so)
	if ro.Logger == nil {
		ro.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if ro.BackPressureCheck == 0 {
		ro.BackPressureCheck = 20 * time.Millisecond
	}
	svc, err := repair.New(e.st, resolver{e.c}, ro)
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	ctx := t.Context()
	if err := e.st.CreateCluster(ctx, &store.Cluster{ID: e.clusterID, Name: "c1", Host: e.c.ContactHost()}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.CreateTask(ctx, &store.Task{ClusterID: e.clusterID, ID: e.taskID, Type: repair.TaskType, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.st.Close() })
	return e
}

func (e *env) newRun() uuid.UUID {
	e.t.Helper()
	id, err := uuid.NewUUID()
	if err != nil {
		e.t.Fatal(err)
	}
	r := &store.Run{ClusterID: e.clusterID, TaskID: e.taskID, ID: id, Type: repair.TaskType, Status: store.StatusRunning, StartTime: time.Now()}
	if err := e.st.CreateRun(e.t.Context(), r); err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *env) finish(runID uuid.UUID, err error, status store.Status) {
	e.t.Helper()
	r, gerr := e.st.GetRun(context.Background(), e.taskID, runID)
	if gerr != nil {
		e.t.Fatal(gerr)
	}
	r.Status = status
	if err != nil {
		r.Cause = err.Error()
	}
	r.EndTime = time.Now()
	if uerr := e.st.UpdateRun(context.Background(), r); uerr != nil {
		e.t.Fatal(uerr)
	}
}

// run runs a repair run to its end and records its status.
func (e *env) run(ctx context.Context, runID uuid.UUID, props string) error {
	e.t.Helper()
	err := e.svc.Run(ctx, e.clusterID, e.taskID, runID, json.RawMessage(props))
	st := store.StatusDone
	switch {
	case ctx.Err() != nil:
		st = store.StatusStopped
	case err != nil:
		st = store.StatusError
	}
	e.finish(runID, err, st)
	return err
}

func (e *env) progress(runID uuid.UUID) *repair.RunProgress {
	e.t.Helper()
	b, err := e.svc.Progress(context.Background(), e.clusterID, e.taskID, runID)
	if err != nil {
		e.t.Fatal(err)
	}
	var p repair.RunProgress
	if err := json.Unmarshal(b, &p); err != nil {
		e.t.Fatal(err)
	}
	return &p
}

type rangeKey struct {
	table      string
	start, end int64
}

// ringPieces returns every range of ks's ring as repair covers it (the
// wrap-around range split) with its sorted replicas.
func (e *env) ringPieces(ks string) map[[2]int64][]string {
	e.t.Helper()
	rs, err := e.c.Client().DescribeRing(e.t.Context(), e.c.ContactHost(), ks, "")
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[[2]int64][]string{}
	for _, r := range rs {
		var s, en int64
		fmt.Sscan(r.StartToken, &s)
		fmt.Sscan(r.EndToken, &en)
		reps := append([]string(nil), r.Endpoints...)
		sort.Strings(reps)
		if s >= en {
			out[[2]int64{s, repair.MaxToken}] = reps
			out[[2]int64{repair.MinToken, en}] = reps
			continue
		}
		out[[2]int64{s, en}] = reps
	}
	return out
}

// repairedCount counts the simulator's repairs per (table, range).
func (e *env) repairedCount() map[rangeKey]int {
	out := map[rangeKey]int{}
	for _, r := range e.c.RepairedRanges() {
		for _, t := range r.Tables {
			out[rangeKey{r.Keyspace + "." + t, r.Start, r.End}]++
		}
	}
	return out
}

// waitFor polls cond until it holds or a generous limit passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
