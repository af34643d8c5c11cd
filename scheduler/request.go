package scheduler

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
)

// requestOwner is the Owner of a run that a Manager without a scheduler
// (an API-only server) stored as a start request: status NEW, no lease.
// The first scheduler that sees it at a sync takes the task's lease and
// runs it as it is (same run ID, same properties).
const requestOwner = ""

// isRequest reports whether r is a start request stored by Request.
func isRequest(r *store.Run) bool {
	return r != nil && r.Status == store.StatusNew && r.Owner == requestOwner
}

// Request asks the schedulers sharing the store to start a run of the
// task now: it stores the run as NEW with no owner, and a Scheduler whose
// Run loop is running (here or in another process) starts it at its next
// sync (within Options.SyncInterval). It is what a Manager that does not
// run tasks itself (an API-only server) uses instead of Trigger; the
// checks are Trigger's: the task exists and has a registered runner, has
// no run in progress, and its cluster is not suspended. cont=false starts
// from scratch ("continue": false). Two requests racing from two API
// servers may both be stored; the schedulers run the newer one.
func (s *Scheduler) Request(ctx context.Context, clusterID, taskID uuid.UUID, cont bool) (*store.Run, error) {
	t, err := s.st.GetTask(ctx, clusterID, taskID)
	if err != nil {
		return nil, fmt.Errorf("scheduler: request: %w", err)
	}
	if t.Deleted {
		return nil, fmt.Errorf("scheduler: request: task %s: %w", taskID, store.ErrNotFound)
	}
	if _, ok := s.Runner(t.Type); !ok {
		return nil, fmt.Errorf("scheduler: request: %w", s.unknownType(t.Type))
	}
	last, err := s.lastRun(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("scheduler: request: %w", err)
	}
	if last != nil && !last.Status.Final() && last.Status != store.StatusWaiting {
		return nil, fmt.Errorf("scheduler: request: task %s is running: %w", taskID, store.ErrConflict)
	}
	susp, err := s.Suspended(ctx, clusterID)
	if err != nil {
		return nil, fmt.Errorf("scheduler: request: %w", err)
	}
	if !susp.Allows(t.Type) {
		return nil, fmt.Errorf("scheduler: request: cluster %s: %w", clusterID, ErrSuspended)
	}
	id, err := uuid.NewUUID()
	if err != nil {
		return nil, fmt.Errorf("scheduler: request: run id: %w", err)
	}
	props := t.Properties
	if !cont || noContinueAfter(last) {
		props = withContinue(props, false)
	}
	now := time.Now()
	r := &store.Run{ClusterID: clusterID, TaskID: taskID, ID: id, Type: t.Type, Status: store.StatusNew,
		Owner: requestOwner, Activation: now, Properties: props}
	create := s.st.CreateRun
	if s.reuseRunID(t) {
		r.ID = FixedRunID(t.ID)
		if last != nil {
			create = s.forceRequest
		}
	}
	if err := create(ctx, r); err != nil {
		return nil, fmt.Errorf("scheduler: request: %w", err)
	}
	s.event(ctx, r, "run_status", "info", "run requested", map[string]string{"status": string(r.Status)})
	return r, nil
}

// forceRequest overwrites the one run record of a task whose runs reuse
// their ID. UpdateRun refuses a write with a fence lower than the stored
// one, so the request takes the stored fence: the scheduler that starts
// it takes a newer one from the task's lease.
func (s *Scheduler) forceRequest(ctx context.Context, r *store.Run) error {
	old, err := s.st.GetRun(ctx, r.TaskID, r.ID)
	if err != nil {
		return err
	}
	r.Fence = old.Fence
	return s.st.UpdateRun(ctx, r)
}

// startRequest turns the stored request last into a running run under
// fence: the run the API server asked for, unchanged but for its holder.
func (s *Scheduler) startRequest(ctx context.Context, last *store.Run, fence int64) (*store.Run, error) {
	run := cloneRun(last)
	run.Status, run.Owner, run.Fence, run.StartTime = store.StatusRunning, s.opts.OwnerID, fence, time.Now()
	if err := s.st.UpdateRun(ctx, run); err != nil {
		return nil, err
	}
	return run, nil
}
