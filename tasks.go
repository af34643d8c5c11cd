package scyllaops

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/scheduler"
	"github.com/scyllaops/scyllaops/store"
)

// RegisterRunner makes tasks of taskType runnable: the scheduler calls r
// for their runs. r may implement scheduler.ProgressReader (RunProgress)
// and scheduler.PropertiesValidator (checked by CreateTask/UpdateTask).
// Registering a "healthcheck" or "repair" runner enables the matching
// default tasks of clusters added afterwards.
func (m *Manager) RegisterRunner(taskType string, r scheduler.Runner) {
	m.sched.Register(taskType, r)
}

// TaskTypes lists the task types with a registered runner, sorted.
func (m *Manager) TaskTypes() []string { return m.sched.Types() }

// TaskFilter selects the tasks ListTasks returns. The zero value selects
// the enabled tasks of every type.
type TaskFilter struct {
	// All includes disabled tasks.
	All bool
	// Type keeps only tasks of this type ("" = any).
	Type string
	// Status keeps only tasks whose last run has this status ("" = any;
	// NEW = never ran).
	Status store.Status
	// TaskID keeps only this task (uuid.Nil = any).
	TaskID uuid.UUID
}

// TaskListItem is a task with a summary of its runs, as Scylla Manager's
// TaskListItem.
type TaskListItem struct {
	store.Task
	// Status is the status of the last run; NEW if it never ran.
	Status store.Status
	// Cause is the last run's cause (error text, stop reason).
	Cause                    string
	SuccessCount, ErrorCount int
	// LastSuccess and LastError are the end times of the last DONE and
	// ERROR runs; nil if none.
	LastSuccess, LastError *time.Time
	// Suspended tells whether the cluster's suspension holds the task.
	Suspended bool
	// NextActivation is when the task next starts or resumes; nil if
	// nothing is planned.
	NextActivation *time.Time
	// Retry is the attempt number of the last run (0 = first try); a
	// failed run with Retry < Schedule.NumRetries will be retried.
	Retry int
}

// checkTask validates a task for CreateTask and UpdateTask: a registered
// type, a valid schedule, and properties the type's runner accepts.
func (m *Manager) checkTask(t *store.Task) error {
	if t.Type == "" {
		return store.Invalid("task.type", "a task type: "+strings.Join(m.sched.Types(), ", "), "")
	}
	r, ok := m.sched.Runner(t.Type)
	if !ok {
		return store.Invalid("task.type", "a task type with a registered runner: "+strings.Join(m.sched.Types(), ", "), t.Type)
	}
	if err := store.CheckName("task.name", t.Name); err != nil {
		return err
	}
	if _, err := scheduler.ParseSchedule(t.Schedule); err != nil {
		return err
	}
	props := bytes.TrimSpace(t.Properties)
	if len(props) == 0 || string(props) == "null" {
		t.Properties = json.RawMessage(`{}`)
	} else if props[0] != '{' || !json.Valid(props) {
		return store.Invalid("task.properties", `a JSON object, e.g. {"keyspace":["ks1"]}`, string(props))
	}
	if v, ok := r.(scheduler.PropertiesValidator); ok {
		if err := v.ValidateProperties(t.Properties); err != nil {
			return err
		}
	}
	return nil
}

// TargetValidator is an optional interface of a Runner: it checks a
// task's properties against its cluster (unknown keyspace, DC or host)
// at CreateTask and UpdateTask. Only errors matching store.ErrInvalid
// reject the task; an unreachable cluster does not.
type TargetValidator interface {
	ValidateTarget(ctx context.Context, clusterID uuid.UUID, properties json.RawMessage) error
}

func (m *Manager) checkTarget(ctx context.Context, t store.Task) error {
	r, ok := m.sched.Runner(t.Type)
	if !ok {
		return nil
	}
	if v, ok := r.(TargetValidator); ok {
		if err := v.ValidateTarget(ctx, t.ClusterID, t.Properties); err != nil && errors.Is(err, store.ErrInvalid) {
			return err
		}
	}
	return nil
}

// CreateTask validates t and stores it (a new ID if t.ID is nil; a zero
// start date becomes now) and schedules it. Bad input (unknown type,
// schedule, properties) gives an error matching ErrInvalid naming the
// field; nothing is stored then. An unknown cluster is ErrNotFound, a
// name taken by another task of the type ErrConflict.
func (m *Manager) CreateTask(ctx context.Context, t store.Task) (store.Task, error) {
	if err := m.check(ctx); err != nil {
		return store.Task{}, err
	}
	if _, err := m.st.GetCluster(ctx, t.ClusterID); err != nil {
		return store.Task{}, fmt.Errorf("scyllaops: cluster %s: %w", t.ClusterID, err)
	}
	if err := m.checkTask(&t); err != nil {
		return store.Task{}, fmt.Errorf("scyllaops: %w", err)
	}
	if err := m.checkTarget(ctx, t); err != nil {
		return store.Task{}, fmt.Errorf("scyllaops: %w", err)
	}
	if t.ID == uuid.Nil {
		t.ID = uuid.New()
	}
	now := time.Now().UTC()
	if t.Schedule.StartDate.IsZero() {
		t.Schedule.StartDate = now
	}
	t.Deleted = false
	t.CreatedAt, t.UpdatedAt = now, now
	if err := m.st.CreateTask(ctx, &t); err != nil {
		return store.Task{}, fmt.Errorf("scyllaops: create task: %w", err)
	}
	if err := m.sched.Schedule(ctx, &t); err != nil {
		m.log.WarnContext(ctx, "schedule task", "task", t.ID, "err", err)
	}
	m.log.InfoContext(ctx, "task created", "cluster", t.ClusterID, "task", t.ID, "type", t.Type, "name", t.Name)
	return t, nil
}

// UpdateTask replaces the task t.ID of t.ClusterID (same validation as
// CreateTask; the type cannot change) and reschedules it. A run in
// progress continues with the properties it started with.
func (m *Manager) UpdateTask(ctx context.Context, t store.Task) (store.Task, error) {
	if err := m.check(ctx); err != nil {
		return store.Task{}, err
	}
	old, err := m.getTask(ctx, t.ClusterID, t.ID)
	if err != nil {
		return store.Task{}, err
	}
	if t.Type != old.Type {
		return store.Task{}, fmt.Errorf("scyllaops: %w", store.Invalid("task.type", fmt.Sprintf("the task's type %q (it cannot change)", old.Type), t.Type))
	}
	if err := m.checkTask(&t); err != nil {
		return store.Task{}, fmt.Errorf("scyllaops: %w", err)
	}
	if err := m.checkTarget(ctx, t); err != nil {
		return store.Task{}, fmt.Errorf("scyllaops: %w", err)
	}
	if t.Schedule.StartDate.IsZero() {
		t.Schedule.StartDate = time.Now().UTC()
	}
	t.CreatedAt, t.UpdatedAt, t.Deleted = old.CreatedAt, time.Now().UTC(), false
	if err := m.st.UpdateTask(ctx, &t); err != nil {
		return store.Task{}, fmt.Errorf("scyllaops: update task: %w", err)
	}
	if err := m.sched.Schedule(ctx, &t); err != nil {
		m.log.WarnContext(ctx, "schedule task", "task", t.ID, "err", err)
	}
	return t, nil
}

// DeleteTask deletes a task softly, as Scylla Manager: it is marked
// deleted and disabled, its name is cleared, its run is stopped and it is
// never scheduled again. Its runs stay (backup retention counts them).
func (m *Manager) DeleteTask(ctx context.Context, clusterID, taskID uuid.UUID) error {
	if err := m.check(ctx); err != nil {
		return err
	}
	t, err := m.getTask(ctx, clusterID, taskID)
	if err != nil {
		return err
	}
	t.Deleted, t.Enabled, t.Name, t.UpdatedAt = true, false, "", time.Now().UTC()
	if err := m.st.UpdateTask(ctx, t); err != nil {
		return fmt.Errorf("scyllaops: delete task: %w", err)
	}
	if err := m.sched.Stop(ctx, clusterID, taskID, false); err != nil {
		m.log.WarnContext(ctx, "stop deleted task", "task", taskID, "err", err)
	}
	m.sched.Unschedule(t)
	return nil
}

// GetTask returns a task; a deleted task is ErrNotFound.
func (m *Manager) GetTask(ctx context.Context, clusterID, taskID uuid.UUID) (store.Task, error) {
	if err := m.check(ctx); err != nil {
		return store.Task{}, err
	}
	t, err := m.getTask(ctx, clusterID, taskID)
	if err != nil {
		return store.Task{}, err
	}
	return *t, nil
}

func (m *Manager) getTask(ctx context.Context, clusterID, taskID uuid.UUID) (*store.Task, error) {
	t, err := m.st.GetTask(ctx, clusterID, taskID)
	if err == nil && t.Deleted {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("scyllaops: task %s: %w", taskID, err)
	}
	return t, nil
}

// ListTasks returns the tasks of a cluster (not deleted ones) matching f,
// each with its run summary, ordered by type, name and ID.
func (m *Manager) ListTasks(ctx context.Context, clusterID uuid.UUID, f TaskFilter) ([]TaskListItem, error) {
	if err := m.check(ctx); err != nil {
		return nil, err
	}
	if _, err := m.st.GetCluster(ctx, clusterID); err != nil {
		return nil, fmt.Errorf("scyllaops: cluster %s: %w", clusterID, err)
	}
	tasks, err := m.st.ListTasks(ctx, clusterID)
	if err != nil {
		return nil, fmt.Errorf("scyllaops: list tasks: %w", err)
	}
	susp, err := m.sched.Suspended(ctx, clusterID)
	if err != nil {
		return nil, err
	}
	out := make([]TaskListItem, 0, len(tasks))
	for _, t := range tasks {
		if t.Deleted || !f.All && !t.Enabled || f.Type != "" && t.Type != f.Type || f.TaskID != uuid.Nil && t.ID != f.TaskID {
			continue
		}
		item, err := m.taskItem(ctx, t, susp)
		if err != nil {
			return nil, err
		}
		if f.Status != "" && item.Status != f.Status {
			continue
		}
		out = append(out, item)
	}
	return out, nil
}

func (m *Manager) taskItem(ctx context.Context, t *store.Task, susp *scheduler.SuspendState) (TaskListItem, error) {
	item := TaskListItem{Task: *t, Status: store.StatusNew}
	runs, err := m.st.ListRuns(ctx, t.ID, 0)
	if err != nil {
		return item, fmt.Errorf("scyllaops: runs of task %s: %w", t.ID, err)
	}
	// Runs are newest first; a task whose runs reuse one record (health
	// checks) has its current state there.
	var last *store.Run
	if len(runs) > 0 {
		last = runs[0]
	}
	fixed := scheduler.FixedRunID(t.ID)
	for _, r := range runs {
		if r.ID == fixed {
			last = r
		}
	}
	for _, r := range runs {
		end := r.EndTime
		switch r.Status {
		case store.StatusDone:
			item.SuccessCount++
			if item.LastSuccess == nil || end.After(*item.LastSuccess) {
				item.LastSuccess = &end
			}
		case store.StatusError:
			item.ErrorCount++
			if item.LastError == nil || end.After(*item.LastError) {
				item.LastError = &end
			}
		}
	}
	if last != nil && last.ID == fixed {
		// A reused record stands for many runs: its counts row says how
		// many ended DONE or ERROR.
		c, ok, err := scheduler.ReadRunCounts(ctx, m.st, fixed)
		if err != nil {
			return item, err
		}
		if ok {
			item.SuccessCount, item.ErrorCount = c.Done, c.Error
			if !c.LastDone.IsZero() {
				item.LastSuccess = &c.LastDone
			}
			if !c.LastError.IsZero() {
				item.LastError = &c.LastError
			}
		}
	}
	if last != nil {
		item.Status, item.Cause, item.Retry = last.Status, last.Cause, last.Attempt
	}
	item.Suspended = !susp.Allows(t.Type)
	if next := m.sched.NextActivation(t.ID); !next.IsZero() {
		item.NextActivation = &next
	}
	return item, nil
}

// StartTask starts a run of the task now (also a disabled or one-shot
// task). cont=false starts from scratch ("continue": false in the run's
// properties). It fails with ErrConflict while the task runs, and while
// the cluster is suspended (scheduler.ErrSuspended). With
// Options.DisableScheduler the run is stored as a request (status NEW) that
// a Manager running the scheduler on the same store starts.
func (m *Manager) StartTask(ctx context.Context, clusterID, taskID uuid.UUID, cont bool) error {
	if err := m.check(ctx); err != nil {
		return err
	}
	if _, err := m.getTask(ctx, clusterID, taskID); err != nil {
		return err
	}
	if m.opts.DisableScheduler {
		if _, err := m.sched.Request(ctx, clusterID, taskID, cont); err != nil {
			return fmt.Errorf("scyllaops: start task: %w", err)
		}
		return nil
	}
	if err := m.sched.Trigger(ctx, clusterID, taskID, cont); err != nil {
		return fmt.Errorf("scyllaops: start task: %w", err)
	}
	return nil
}

// StopTask stops the task's run (STOPPING, then STOPPED), on this Manager
// or another one sharing the store; with disable the task is also
// disabled. Stopping an idle task is not an error.
func (m *Manager) StopTask(ctx context.Context, clusterID, taskID uuid.UUID, disable bool) error {
	if err := m.check(ctx); err != nil {
		return err
	}
	if _, err := m.getTask(ctx, clusterID, taskID); err != nil {
		return err
	}
	if err := m.sched.Stop(ctx, clusterID, taskID, disable); err != nil {
		return fmt.Errorf("scyllaops: stop task: %w", err)
	}
	return nil
}

// Default task settings, as Scylla Manager's.
const (
	// DefaultHealthcheckCron is the schedule of the health-check tasks
	// created with a cluster.
	DefaultHealthcheckCron = "* * * * *"
	// DefaultRepairCron is the schedule of the weekly repair created
	// with a cluster (unless Cluster.WithoutRepair).
	DefaultRepairCron = "0 23 * * SAT"
	// DefaultRepairRetries is that repair's num_retries.
	DefaultRepairRetries = 3
)

// defaultTasks are the tasks a new cluster gets for the registered
// runners: healthcheck cql, rest and alternator every minute; a weekly
// repair unless withoutRepair.
func (m *Manager) defaultTasks(c *store.Cluster, withoutRepair bool) []store.Task {
	var out []store.Task
	if _, ok := m.sched.Runner(scheduler.TypeHealthcheck); ok {
		for _, mode := range []string{"cql", "rest", "alternator"} {
			out = append(out, store.Task{ClusterID: c.ID, Type: scheduler.TypeHealthcheck, Name: mode, Enabled: true,
				Schedule: store.Schedule{Cron: DefaultHealthcheckCron, Timezone: "UTC"}, Properties: json.RawMessage(`{"mode":"` + mode + `"}`)})
		}
	}
	if _, ok := m.sched.Runner(scheduler.TypeRepair); ok && !withoutRepair {
		out = append(out, store.Task{ClusterID: c.ID, Type: scheduler.TypeRepair, Name: "all-weekly", Enabled: true,
			Schedule: store.Schedule{Cron: DefaultRepairCron, NumRetries: DefaultRepairRetries, Timezone: "UTC"}, Properties: json.RawMessage(`{}`)})
	}
	return out
}

func (m *Manager) createDefaultTasks(ctx context.Context, c *store.Cluster, withoutRepair bool) error {
	for _, t := range m.defaultTasks(c, withoutRepair) {
		if _, err := m.CreateTask(ctx, t); err != nil {
			return fmt.Errorf("scyllaops: default task %s/%s: %w", t.Type, t.Name, err)
		}
	}
	return nil
}

// stopClusterTasks stops the runs of a cluster that is being deleted and
// forgets its tasks.
func (m *Manager) stopClusterTasks(ctx context.Context, clusterID uuid.UUID) {
	tasks, err := m.st.ListTasks(ctx, clusterID)
	if err != nil {
		return
	}
	for _, t := range tasks {
		if err := m.sched.Stop(ctx, clusterID, t.ID, false); err != nil {
			m.log.WarnContext(ctx, "stop task of deleted cluster", "task", t.ID, "err", err)
		}
		m.sched.Unschedule(t)
	}
}

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
