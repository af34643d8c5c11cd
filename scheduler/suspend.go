package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
)

// SuspendKey is the per-cluster record under which the suspended state is
// persisted. The store has no generic per-cluster key/value table, so it
// lives in the cluster's SecretStore (deleted with the cluster, never
// listed with the cluster record); its value is the JSON of SuspendState.
const SuspendKey = "scheduler_suspended"

// SuspendState is a cluster's persisted suspension.
type SuspendState struct {
	StartedAt time.Time `json:"started_at"`
	// AllowTaskType is a task type, or a comma-separated list of them,
	// that keeps running while suspended (health checks always do).
	// Empty = none.
	AllowTaskType string `json:"allow_task_type,omitempty"`
	// RunningTasks are the tasks stopped by the suspension.
	RunningTasks []uuid.UUID `json:"running_tasks,omitempty"`
}

// Allows reports whether tasks of type typ run under the suspension st
// (nil = not suspended: every type runs).
func (st *SuspendState) Allows(typ string) bool {
	if st == nil || typ == TypeHealthcheck {
		return true
	}
	for a := range strings.SplitSeq(st.AllowTaskType, ",") {
		if strings.TrimSpace(a) == typ {
			return true
		}
	}
	return false
}

func (s *Scheduler) loadSuspend(ctx context.Context, clusterID uuid.UUID) (*SuspendState, error) {
	b, err := s.st.GetSecret(ctx, clusterID, SuspendKey)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("scheduler: load suspension of %s: %w", clusterID, err)
	}
	var st SuspendState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("scheduler: decode suspension of %s: %w", clusterID, err)
	}
	return &st, nil
}

func (s *Scheduler) setSuspendedLocked(clusterID uuid.UUID, st *SuspendState) {
	if st == nil {
		delete(s.suspended, clusterID)
		s.m.suspended.WithLabelValues(clusterID.String()).Set(0)
		return
	}
	s.suspended[clusterID] = st
	s.m.suspended.WithLabelValues(clusterID.String()).Set(1)
}

// allowedLocked reports whether t may run given its cluster's suspension.
func (s *Scheduler) allowedLocked(t *store.Task) bool {
	return s.suspended[t.ClusterID].Allows(t.Type)
}

// Suspended returns the cluster's suspension, or nil if it is not
// suspended. It reads the store, so it sees suspensions made by other
// managers.
func (s *Scheduler) Suspended(ctx context.Context, clusterID uuid.UUID) (*SuspendState, error) {
	return s.loadSuspend(ctx, clusterID)
}

// Suspend suspends a cluster: no task of it starts, except health checks
// and allowTaskType, until Resume. With failIfRunning it refuses
// (store.ErrConflict) while a task of another type runs on this
// scheduler; otherwise such runs are stopped with ErrSuspended (STOPPED).
// Runs on other managers stop at their next sync. Suspending a suspended
// cluster updates allowTaskType.
func (s *Scheduler) Suspend(ctx context.Context, clusterID uuid.UUID, allowTaskType string, failIfRunning bool) error {
	if _, err := s.st.GetCluster(ctx, clusterID); err != nil {
		return fmt.Errorf("scheduler: suspend: %w", err)
	}
	st := &SuspendState{StartedAt: time.Now().UTC(), AllowTaskType: allowTaskType}
	s.mu.Lock()
	var stop []*activeRun
	for id, a := range s.active {
		if a.task.ClusterID == clusterID && !st.Allows(a.task.Type) {
			stop = append(stop, a)
			st.RunningTasks = append(st.RunningTasks, id)
		}
	}
	s.mu.Unlock()
	if failIfRunning && len(stop) > 0 {
		return fmt.Errorf("scheduler: suspend: %d tasks are running: %w", len(stop), store.ErrConflict)
	}
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("scheduler: suspend: %w", err)
	}
	if err := s.st.PutSecret(ctx, clusterID, SuspendKey, b); err != nil {
		return fmt.Errorf("scheduler: suspend: %w", err)
	}
	s.mu.Lock()
	s.suspendGen++
	s.setSuspendedLocked(clusterID, st)
	s.mu.Unlock()
	for _, a := range stop {
		s.stopLocal(ctx, a, ErrSuspended)
	}
	s.clusterEvent(ctx, clusterID, "suspend", "cluster suspended", map[string]string{"allow_task_type": allowTaskType})
	s.poke()
	return nil
}

// Resume lifts a cluster's suspension. With startTasks, the tasks whose
// runs the suspension stopped are started again (continuing their work).
// Resuming a cluster that is not suspended is a no-op.
func (s *Scheduler) Resume(ctx context.Context, clusterID uuid.UUID, startTasks bool) error {
	st, err := s.loadSuspend(ctx, clusterID)
	if err != nil {
		return err
	}
	if st == nil {
		return nil
	}
	if err := s.st.DeleteSecret(ctx, clusterID, SuspendKey); err != nil {
		return fmt.Errorf("scheduler: resume: %w", err)
	}
	s.mu.Lock()
	s.suspendGen++
	s.setSuspendedLocked(clusterID, nil)
	s.mu.Unlock()
	s.clusterEvent(ctx, clusterID, "resume", "cluster resumed", nil)
	if startTasks {
		for _, id := range st.RunningTasks {
			if err := s.Trigger(ctx, clusterID, id, true); err != nil {
				s.log.Warn("resume: start task", "task", id, "err", err)
			}
		}
	}
	s.poke()
	return nil
}

func (s *Scheduler) clusterEvent(ctx context.Context, clusterID uuid.UUID, kind, msg string, attrs map[string]string) {
	id, err := uuid.NewUUID()
	if err != nil {
		return
	}
	if attrs == nil {
		attrs = map[string]string{}
	}
	attrs["owner"] = s.opts.OwnerID
	e := &store.Event{ID: id, ClusterID: clusterID, Time: time.Now(), Kind: kind, Severity: "info", Message: msg, Attributes: attrs, TTL: s.opts.EventTTL}
	if err := s.st.AppendEvent(ctx, e); err != nil {
		s.log.Warn("append event", "kind", kind, "err", err)
	}
}
