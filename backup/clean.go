package backup

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
)

// Clean deletes the snapshots on the nodes of run runID, a run that ended
// before DONE, so that nothing is left to continue from: the scheduler
// calls it (scheduler.Cleaner) for the runs stopped by a cluster suspended
// with no_continue, and gives the task's next run "continue": false, which
// takes a new snapshot. A run without a snapshot yet, a DONE or purge-only
// run, and snapshots already gone are no error.
func (s *Service) Clean(ctx context.Context, clusterID, _, runID uuid.UUID) error {
	rows, err := s.st.ListProgress(ctx, runID)
	if err != nil {
		return fmt.Errorf("backup: clean run %s: %w", runID, err)
	}
	var rr runRow
	found := false
	for _, p := range rows {
		if p.Key == runRowKey {
			if err := json.Unmarshal(p.Data, &rr); err != nil {
				return fmt.Errorf("backup: clean run %s: run row: %w", runID, err)
			}
			found = true
		}
	}
	if !found || rr.Plan == nil || rr.Plan.PurgeOnly || rr.SnapshotTag == "" || rr.Stage == StageDone || rr.Stage.index() < StageSnapshot.index() {
		return nil
	}
	c, _, err := s.client(ctx, clusterID)
	if err != nil {
		return err
	}
	tag := rr.SnapshotTag
	return forEachHost(ctx, rr.Plan.Hosts, nil, func(ctx context.Context, h Host) error {
		if err := c.DeleteSnapshot(ctx, h.IP, tag, ""); err != nil && !isNotFound(err) {
			return fmt.Errorf("backup: clean run %s: delete snapshot %s on node %s: %w", runID, tag, h.IP, err)
		}
		return nil
	})
}
