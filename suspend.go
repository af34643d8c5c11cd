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

// SuspendOptions tune SuspendCluster (Scylla Manager's query parameters).
type SuspendOptions struct {
	// AllowTaskType keeps tasks of this type (or these comma-separated
	// types) running; health checks always run. "" = none.
	AllowTaskType string
	// FailIfRunning refuses (ErrConflict) while a task of another type
	// runs on this Manager, instead of stopping it (the default policy
	// stop_running_tasks).
	FailIfRunning bool
	// NoContinue (Scylla Manager's no_continue) cleans up after the runs
	// the suspension stops, and their tasks' next runs start from
	// scratch ("continue": false): for backup, the stopped runs' snapshots
	// are deleted from the nodes and the next run takes a new one.
	// SuspendCluster returns after the runs stopped on this Manager were
	// cleaned; runs on other Managers are cleaned there when they stop.
	NoContinue bool
}

// ResumeOptions tune ResumeCluster.
type ResumeOptions struct {
	// StartTasks starts again, continuing their work, the tasks whose
	// runs the suspension stopped.
	StartTasks bool
	// StartTasksMissedActivation starts now the tasks whose activation
	// fell in the suspension. Without it they wait for their next
	// activation (missed activations are skipped, as in Scylla Manager).
	StartTasksMissedActivation bool
	// NoContinue starts the tasks above from scratch ("continue": false).
	NoContinue bool
}

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
	so := scheduler.SuspendOptions{AllowTaskType: o.AllowTaskType, FailIfRunning: o.FailIfRunning, NoContinue: o.NoContinue}
	if err := m.sched.SuspendWithOptions(ctx, clusterID, so); err != nil {
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
	ro := scheduler.ResumeOptions{StartTasks: o.StartTasks, StartTasksMissedActivation: o.StartTasksMissedActivation, NoContinue: o.NoContinue}
	if err := m.sched.ResumeWithOptions(ctx, clusterID, ro); err != nil {
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
