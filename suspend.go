package scyllaops

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/scheduler"
	"github.com/scyllaops/scyllaops/store"
)

// SuspendOptions tune SuspendCluster (Scylla Manager's query parameters
// allow_task_type, suspend_policy and no_continue).
type SuspendOptions = scheduler.SuspendOptions

// ResumeOptions tune ResumeCluster (Scylla Manager's start_tasks,
// start_tasks_missed_activation and no_continue).
type ResumeOptions = scheduler.ResumeOptions

// SuspendDetails is a cluster's suspension state.
type SuspendDetails struct {
	Suspended     bool
	AllowTaskType string
	// StartedAt is when the suspension began; zero if not suspended.
	StartedAt time.Time
	// NoContinue: the suspension was made with SuspendOptions.NoContinue.
	NoContinue bool
}

// SuspendCluster suspends a cluster: its tasks (but health checks and
// o.AllowTaskType) do not start until ResumeCluster, and its running ones
// are stopped. The state is kept in the store, so every Manager sharing it
// honors it. It sets scylla_manager_scheduler_suspended{cluster} to 1.
func (m *Manager) SuspendCluster(ctx context.Context, clusterID uuid.UUID, o SuspendOptions) error {
	if err := m.check(ctx); err != nil {
		return err
	}
	if o.AllowTaskType != "" {
		for typ := range strings.SplitSeq(o.AllowTaskType, ",") {
			if _, ok := m.sched.Runner(strings.TrimSpace(typ)); !ok {
				return fmt.Errorf("scyllaops: %w", store.Invalid("allow_task_type", "task types with a registered runner, comma-separated: "+strings.Join(m.sched.Types(), ", "), o.AllowTaskType))
			}
		}
	}
	if err := m.sched.SuspendWithOptions(ctx, clusterID, o); err != nil {
		return fmt.Errorf("scyllaops: suspend cluster: %w", err)
	}
	return nil
}

// ResumeCluster lifts a cluster's suspension; resuming a cluster that is
// not suspended is a no-op. Activations missed during the suspension are
// skipped unless o.StartTasksMissedActivation.
func (m *Manager) ResumeCluster(ctx context.Context, clusterID uuid.UUID, o ResumeOptions) error {
	if err := m.check(ctx); err != nil {
		return err
	}
	if _, err := m.st.GetCluster(ctx, clusterID); err != nil {
		return fmt.Errorf("scyllaops: cluster %s: %w", clusterID, err)
	}
	if err := m.sched.ResumeWithOptions(ctx, clusterID, o); err != nil {
		return fmt.Errorf("scyllaops: resume cluster: %w", err)
	}
	return nil
}

// ClusterSuspended returns a cluster's suspension state.
func (m *Manager) ClusterSuspended(ctx context.Context, clusterID uuid.UUID) (SuspendDetails, error) {
	if err := m.check(ctx); err != nil {
		return SuspendDetails{}, err
	}
	if _, err := m.st.GetCluster(ctx, clusterID); err != nil {
		return SuspendDetails{}, fmt.Errorf("scyllaops: cluster %s: %w", clusterID, err)
	}
	st, err := m.sched.Suspended(ctx, clusterID)
	if err != nil || st == nil {
		return SuspendDetails{}, err
	}
	return SuspendDetails{Suspended: true, AllowTaskType: st.AllowTaskType, StartedAt: st.StartedAt, NoContinue: st.NoContinue}, nil
}
