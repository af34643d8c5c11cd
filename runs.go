package scyllaops

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/scheduler"
	"github.com/scyllaops/scyllaops/store"
)

// DefaultHistoryLimit is the number of runs TaskHistory returns when
// limit <= 0, as Scylla Manager's default.
const DefaultHistoryLimit = 10

// TaskHistory returns the last runs of a task, newest first (limit <= 0:
// DefaultHistoryLimit). A task without runs gives an empty, non-nil slice.
func (m *Manager) TaskHistory(ctx context.Context, clusterID, taskID uuid.UUID, limit int) ([]store.Run, error) {
	if err := m.check(ctx); err != nil {
		return nil, err
	}
	if _, err := m.st.GetTask(ctx, clusterID, taskID); err != nil {
		return nil, fmt.Errorf("scyllaops: task %s: %w", taskID, err)
	}
	if limit <= 0 {
		limit = DefaultHistoryLimit
	}
	runs, err := m.st.ListRuns(ctx, taskID, 0)
	if err != nil {
		return nil, fmt.Errorf("scyllaops: runs of task %s: %w", taskID, err)
	}
	runs = orderRuns(taskID, runs)
	out := make([]store.Run, 0, min(limit, len(runs)))
	for _, r := range runs {
		if len(out) == limit {
			break
		}
		out = append(out, *r)
	}
	return out, nil
}

// orderRuns puts a reused run record (scheduler.FixedRunID, whose ID time
// is the epoch) where its start time belongs among the newest-first runs.
func orderRuns(taskID uuid.UUID, runs []*store.Run) []*store.Run {
	fixed := scheduler.FixedRunID(taskID)
	for i, r := range runs {
		if r.ID != fixed {
			continue
		}
		rest := append(append([]*store.Run(nil), runs[:i]...), runs[i+1:]...)
		j := 0
		for j < len(rest) && store.UUIDTime(rest[j].ID).After(r.StartTime) {
			j++
		}
		return append(rest[:j], append([]*store.Run{r}, rest[j:]...)...)
	}
	return runs
}

// RunProgress returns a run of a task and its progress as JSON. ref is a
// run ID, "latest" (or "") for the newest run, or "~N" for the Nth-last
// (~0 = latest). The progress comes from the type's runner if it
// implements scheduler.ProgressReader; otherwise it is an object of the
// run's progress rows by key. A task that never ran gives a synthetic
// NEW run and "{}", as Scylla Manager does.
func (m *Manager) RunProgress(ctx context.Context, clusterID, taskID uuid.UUID, ref string) (store.Run, json.RawMessage, error) {
	if err := m.check(ctx); err != nil {
		return store.Run{}, nil, err
	}
	t, err := m.st.GetTask(ctx, clusterID, taskID)
	if err != nil {
		return store.Run{}, nil, fmt.Errorf("scyllaops: task %s: %w", taskID, err)
	}
	var run *store.Run
	switch {
	case ref == "" || ref == "latest" || strings.HasPrefix(ref, "~"):
		n := 0
		if ref != "" && ref != "latest" {
			n, err = strconv.Atoi(ref[1:])
			if err != nil || n < 0 {
				return store.Run{}, nil, fmt.Errorf("scyllaops: %w", store.Invalid("run_id", `a run UUID, "latest" or "~N" (the Nth-last run), e.g. "~1"`, ref))
			}
		}
		runs, err := m.st.ListRuns(ctx, taskID, 0)
		if err != nil {
			return store.Run{}, nil, fmt.Errorf("scyllaops: runs of task %s: %w", taskID, err)
		}
		runs = orderRuns(taskID, runs)
		if len(runs) == 0 && n == 0 {
			return store.Run{ClusterID: clusterID, TaskID: taskID, Type: t.Type, Status: store.StatusNew}, json.RawMessage(`{}`), nil
		}
		if n >= len(runs) {
			return store.Run{}, nil, fmt.Errorf("scyllaops: run %s of task %s: %w", ref, taskID, store.ErrNotFound)
		}
		run = runs[n]
	default:
		id, perr := uuid.Parse(ref)
		if perr != nil {
			return store.Run{}, nil, fmt.Errorf("scyllaops: %w", store.Invalid("run_id", `a run UUID, "latest" or "~N" (the Nth-last run), e.g. "~1"`, ref))
		}
		if run, err = m.st.GetRun(ctx, taskID, id); err != nil {
			return store.Run{}, nil, fmt.Errorf("scyllaops: run %s: %w", id, err)
		}
	}
	if r, ok := m.sched.Runner(t.Type); ok {
		if pr, ok := r.(scheduler.ProgressReader); ok {
			p, err := pr.Progress(ctx, clusterID, taskID, run.ID)
			if err != nil {
				return *run, nil, fmt.Errorf("scyllaops: progress of run %s: %w", run.ID, err)
			}
			return *run, p, nil
		}
	}
	rows, err := m.st.ListProgress(ctx, run.ID)
	if err != nil {
		return *run, nil, fmt.Errorf("scyllaops: progress of run %s: %w", run.ID, err)
	}
	obj := make(map[string]json.RawMessage, len(rows))
	for _, p := range rows {
		if p.Key == scheduler.RunCountsKey {
			continue // counts of a reused record, not progress
		}
		obj[p.Key] = p.Data
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return *run, nil, fmt.Errorf("scyllaops: progress of run %s: %w", run.ID, err)
	}
	return *run, b, nil
}
