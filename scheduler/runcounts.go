package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
)

// RunCountsKey is the progress row of a reused run record (FixedRunID)
// that counts the runs the record stood for: one record cannot show how
// many health checks succeeded, this row does. It is not progress:
// readers of a run's progress skip it.
const RunCountsKey = "_run_counts"

// RunCounts counts the ended runs of a task whose runs reuse one record.
type RunCounts struct {
	Done      int       `json:"done"`
	Error     int       `json:"error"`
	LastDone  time.Time `json:"last_done,omitzero"`
	LastError time.Time `json:"last_error,omitzero"`
}

// ReadRunCounts returns the counts kept on the reused run record runID;
// ok is false when there are none.
func ReadRunCounts(ctx context.Context, st store.ProgressStore, runID uuid.UUID) (c RunCounts, ok bool, err error) {
	rows, err := st.ListProgress(ctx, runID)
	if err != nil {
		return c, false, fmt.Errorf("scheduler: run counts of %s: %w", runID, err)
	}
	for _, p := range rows {
		if p.Key != RunCountsKey {
			continue
		}
		if err := json.Unmarshal(p.Data, &c); err != nil {
			return c, false, fmt.Errorf("scheduler: decode run counts of %s: %w", runID, err)
		}
		return c, true, nil
	}
	return c, false, nil
}

// countRun adds the end of a run of a reused record to its counts.
func (s *Scheduler) countRun(ctx context.Context, end *store.Run) {
	if end.Status != store.StatusDone && end.Status != store.StatusError {
		return
	}
	c, _, err := ReadRunCounts(ctx, s.st, end.ID)
	if err != nil {
		s.log.Warn("read run counts", "task", end.TaskID, "err", err)
		return
	}
	if end.Status == store.StatusDone {
		c.Done++
		c.LastDone = end.EndTime.UTC()
	} else {
		c.Error++
		c.LastError = end.EndTime.UTC()
	}
	b, err := json.Marshal(c)
	if err != nil {
		s.log.Warn("encode run counts", "task", end.TaskID, "err", err)
		return
	}
	p := &store.Progress{ClusterID: end.ClusterID, TaskID: end.TaskID, RunID: end.ID, Key: RunCountsKey, Data: b, Fence: end.Fence, UpdatedAt: time.Now().UTC()}
	if err := s.st.PutProgress(ctx, p); err != nil {
		s.log.Warn("store run counts", "task", end.TaskID, "err", err)
	}
}
