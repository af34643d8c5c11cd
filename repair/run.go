package repair

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
)

// Run implements scheduler.Runner: it plans the repair, continues the
// ranges left by an unfinished earlier run of the task (or by this run,
// taken over after a crash) unless properties say continue=false, and
// executes the plan. The stop cause of ctx (stop, window end, suspension)
// stops it gracefully; its ranges left are repaired by the next run.
func (s *Service) Run(ctx context.Context, clusterID, taskID, runID uuid.UUID, properties json.RawMessage) error {
	p, err := ParseProperties(properties)
	if err != nil {
		return err
	}
	client, _, err := s.cluster.Client(ctx, clusterID)
	if err != nil {
		return err
	}
	plan, err := s.plan(ctx, clusterID, p)
	if err != nil {
		return err
	}
	fence := store.FenceFrom(ctx)
	done, prev, rows, err := s.resume(ctx, taskID, runID, p.ContinueRun())
	if err != nil {
		return err
	}
	row := newRunRow(plan, p, s.opts.Now())
	if prev != nil {
		// Settings changed while the earlier run went on carry over.
		row.Intensity, row.Parallel, row.StartedAt = prev.Intensity, prev.Parallel, prev.StartedAt
		v := prev.Intensity
		p.Intensity = &v
		p.Parallel = prev.Parallel
	}
	// The rows kept: the successful jobs of the run continued, renumbered.
	if err := s.st.DeleteProgress(ctx, runID); err != nil {
		return fmt.Errorf("repair: reset progress: %w", err)
	}
	rec := newStoreRecorder(s, s.st, clusterID, taskID, runID, fence, plan, row, 0)
	var batch []*store.Progress
	for _, j := range rows {
		rec.seq++
		b, err := json.Marshal(j)
		if err != nil {
			return fmt.Errorf("repair: copy progress: %w", err)
		}
		batch = append(batch, &store.Progress{ClusterID: clusterID, TaskID: taskID, RunID: runID, Key: fmt.Sprintf("%s%09d", jobRowPrefix, rec.seq), Data: b, Fence: fence, UpdatedAt: s.opts.Now()})
		for _, h := range j.Hosts {
			if c := rec.counts[[3]string{j.Keyspace, j.Table, h}]; c != nil {
				c[0] += len(j.Ranges)
			}
		}
	}
	if len(batch) > 0 {
		if err := store.PutProgressBatch(ctx, s.st, batch); err != nil {
			return fmt.Errorf("repair: copy progress: %w", err)
		}
	}
	if err := rec.put(ctx, runRowKey, row); err != nil {
		return err
	}
	e := newExecutor(s, clusterID, client, plan, p, rec, done)
	if prev != nil {
		// Repairs the interrupted run left on the nodes (its Manager died
		// or was stopped before they ended) would hold nodes the new jobs
		// need: abort them first.
		e.abortAll(ctx)
	}
	s.mu.Lock()
	if s.running[clusterID] != nil {
		s.mu.Unlock()
		return fmt.Errorf("repair: a repair is already running on cluster %s", clusterID)
	}
	s.running[clusterID] = e
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.running, clusterID)
		s.mu.Unlock()
	}()
	s.log.Info("repair: start", "cluster", clusterID, "task", taskID, "run", runID, "tables", plan.Tables(), "hosts", len(plan.Hosts),
		"max_parallel", plan.MaxParallel, "continued_ranges", countRanges(rows))
	runErr := e.run(ctx)
	// Only a run that repaired everything is complete; the ranges left
	// by a stopped or failed run are continued by the next one.
	if err := rec.finish(context.WithoutCancel(ctx), runErr == nil); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

func countRanges(rows []jobRow) int {
	n := 0
	for _, r := range rows {
		n += len(r.Ranges)
	}
	return n
}

// resume finds the run to continue: this run's own rows (a takeover or a
// window reopening) or the newest earlier run of the task that did not
// complete. It returns the ranges repaired per table, that run's row and
// its successful job rows.
func (s *Service) resume(ctx context.Context, taskID, runID uuid.UUID, try bool) (map[string]map[[2]int64]bool, *runRow, []jobRow, error) {
	done := map[string]map[[2]int64]bool{}
	runs, err := s.st.ListRuns(ctx, taskID, DefaultRunsToScan)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("repair: list runs: %w", err)
	}
	for _, x := range runs {
		own := x.ID == runID
		if !own && (!try || x.Status == store.StatusDone) {
			break
		}
		if !own && !try {
			break
		}
		rows, err := s.st.ListProgress(ctx, x.ID)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("repair: progress of run %s: %w", x.ID, err)
		}
		var rr *runRow
		var jobs []jobRow
		for _, p := range rows {
			switch {
			case p.Key == runRowKey:
				rr = &runRow{}
				if err := json.Unmarshal(p.Data, rr); err != nil {
					return nil, nil, nil, fmt.Errorf("repair: run row of %s: %w", x.ID, err)
				}
			case strings.HasPrefix(p.Key, jobRowPrefix):
				var j jobRow
				if err := json.Unmarshal(p.Data, &j); err != nil {
					return nil, nil, nil, fmt.Errorf("repair: row %s of %s: %w", p.Key, x.ID, err)
				}
				if j.Error == "" {
					jobs = append(jobs, j)
				}
			}
		}
		if rr == nil {
			continue // never got to plan
		}
		if rr.CompletedAt != nil || (own && !try) {
			break
		}
		for _, j := range jobs {
			k := j.Keyspace + "." + j.Table
			if done[k] == nil {
				done[k] = map[[2]int64]bool{}
			}
			for _, r := range j.Ranges {
				done[k][r] = true
			}
		}
		return done, rr, jobs, nil
	}
	return done, nil, nil, nil
}

// Progress implements scheduler.ProgressReader.
func (s *Service) Progress(ctx context.Context, _, _, runID uuid.UUID) (json.RawMessage, error) {
	rows, err := s.st.ListProgress(ctx, runID)
	if err != nil {
		return nil, fmt.Errorf("repair: progress: %w", err)
	}
	p, err := aggregate(rows, s.opts.Now())
	if err != nil {
		return nil, err
	}
	return json.Marshal(p)
}

// TablesOptions tune Repair.
type TablesOptions struct {
	// Properties as a repair task's; Keyspace is replaced by the tables.
	Properties Properties
}

// Repair repairs the given tables ("ks.table" or "ks") of a cluster now,
// outside the scheduler and without persisted progress (restore ends
// with it). It returns when every range is repaired, or the error.
func (s *Service) Repair(ctx context.Context, clusterID uuid.UUID, keyspaceTables []string, o TablesOptions) error {
	if len(keyspaceTables) == 0 {
		return store.Invalid("tables", `"keyspace.table" names (at least one)`, "")
	}
	p := o.Properties
	p.Keyspace = keyspaceTables
	client, _, err := s.cluster.Client(ctx, clusterID)
	if err != nil {
		return err
	}
	plan, err := s.plan(ctx, clusterID, p)
	if err != nil {
		return err
	}
	rec := newStoreRecorder(s, nil, clusterID, uuid.Nil, uuid.Nil, 0, plan, newRunRow(plan, p, s.opts.Now()), 0)
	e := newExecutor(s, clusterID, client, plan, p, rec, nil)
	err = e.run(ctx)
	if err != nil && errors.Is(err, context.Canceled) {
		return fmt.Errorf("repair: %w", err)
	}
	return err
}
