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

// SkippedKey is the per-cluster record (next to SuspendKey) of the past
// suspensions whose missed activations are skipped: the JSON of
// []Skipped, newest last. Every manager sharing the store reads it, so
// they all plan the same next activation after a resume.
const SkippedKey = "scheduler_skipped_activations"

// maxSkipped bounds the Skipped windows kept per cluster; the oldest go
// first (a task that has not run since then is rare: disabled, or its
// runner missing).
const maxSkipped = 8

// errSuspendedNoContinue stops the runs of a cluster suspended with
// no_continue. It matches ErrSuspended (the run ends STOPPED); its text
// is the run's Cause, by which the next run of the task is told to start
// from scratch ("continue": false), whichever manager starts it.
var errSuspendedNoContinue = fmt.Errorf("%w; the next run starts from scratch (no_continue)", ErrSuspended)

// SuspendState is a cluster's persisted suspension.
type SuspendState struct {
	StartedAt time.Time `json:"started_at"`
	// AllowTaskType is a task type, or a comma-separated list of them,
	// that keeps running while suspended (health checks always do).
	// Empty = none.
	AllowTaskType string `json:"allow_task_type,omitempty"`
	// RunningTasks are the tasks stopped by the suspension.
	RunningTasks []uuid.UUID `json:"running_tasks,omitempty"`
	// NoContinue: the runs stopped by the suspension were cleaned
	// (Cleaner) and their tasks' next runs start from scratch.
	NoContinue bool `json:"no_continue,omitempty"`
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

// cause is the stop cause of the runs st stops.
func (st *SuspendState) cause() error {
	if st != nil && st.NoContinue {
		return errSuspendedNoContinue
	}
	return ErrSuspended
}

// Skipped is a past suspension, from its start to its resume: a task of
// a type it did not allow whose next activation fell in [From, To) waits
// for its first activation from To on, as in Scylla Manager, unless the
// resume started it (ResumeOptions.StartTasksMissedActivation).
type Skipped struct {
	From          time.Time `json:"from"`
	To            time.Time `json:"to"`
	AllowTaskType string    `json:"allow_task_type,omitempty"`
}

// SkipMissed returns d with a scheduled first try (ActStart, attempt 0)
// of a recurring plan moved past the suspensions in skips that did not
// allow t's type: an activation in [From, To) becomes p's first one at or
// after To. Other decisions are returned as they are. Pure, like Decide.
func SkipMissed(t *store.Task, p *Plan, d Decision, skips []Skipped, now time.Time) Decision {
	if d.Action != ActStart || d.Attempt != 0 || !p.Recurring() || len(skips) == 0 {
		return d
	}
	act := d.Activation
	for moved := true; moved; {
		moved = false
		for _, w := range skips {
			if (&SuspendState{AllowTaskType: w.AllowTaskType}).Allows(t.Type) || act.Before(w.From) || !act.Before(w.To) {
				continue
			}
			act, moved = p.Next(w.To.Add(-time.Nanosecond)), true
			if act.IsZero() {
				return Decision{}
			}
		}
	}
	if act.Equal(d.Activation) {
		return d
	}
	next := act
	if next.Before(now) {
		next = now
	}
	return Decision{Action: ActStart, At: inWindow(p, next), RunID: DeriveRunID(t.ID, act, 0), Activation: act}
}

// decide is Decide followed by SkipMissed with the task's cluster's
// skipped windows.
func (s *Scheduler) decide(t *store.Task, p *Plan, last *store.Run, now time.Time) Decision {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.decideLocked(t, p, last, now)
}

func (s *Scheduler) decideLocked(t *store.Task, p *Plan, last *store.Run, now time.Time) Decision {
	return SkipMissed(t, p, Decide(t, p, last, now), s.skipped[t.ClusterID], now)
}

// noContinueAfter reports whether the run after last must start from
// scratch: last was stopped by a suspension with no_continue.
func noContinueAfter(last *store.Run) bool {
	return last != nil && last.Status == store.StatusStopped && last.Cause == errSuspendedNoContinue.Error()
}

// nextProperties are the properties of a new scheduled run of a task
// whose last run is last.
func nextProperties(props json.RawMessage, last *store.Run) json.RawMessage {
	if noContinueAfter(last) {
		return withContinue(props, false)
	}
	return props
}

// Cleaner is an optional interface of a Runner: Clean removes what a run
// left behind for a later run to continue from (for backup, the run's
// snapshots on the nodes). The scheduler calls it, after the run ended,
// for the runs stopped by a suspension with no_continue; the task's next
// run gets "continue": false. It must tolerate state already gone.
type Cleaner interface {
	Clean(ctx context.Context, clusterID, taskID, runID uuid.UUID) error
}

// cleanStopped calls the runner's Cleaner for a run that ended STOPPED by
// a suspension with no_continue.
func (s *Scheduler) cleanStopped(ctx context.Context, runner Runner, end *store.Run, cause error) {
	if end.Status != store.StatusStopped || !errors.Is(cause, errSuspendedNoContinue) {
		return
	}
	c, ok := runner.(Cleaner)
	if !ok {
		return
	}
	if err := c.Clean(ctx, end.ClusterID, end.TaskID, end.ID); err != nil {
		s.log.Warn("clean stopped run", "task", end.TaskID, "run", end.ID, "err", err)
		s.event(ctx, end, "run_clean", "warning", "cleanup after suspend failed: "+err.Error(), nil)
		return
	}
	s.event(ctx, end, "run_clean", "info", "cleaned up after suspend (no_continue)", nil)
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

func (s *Scheduler) loadSkipped(ctx context.Context, clusterID uuid.UUID) ([]Skipped, error) {
	b, err := s.st.GetSecret(ctx, clusterID, SkippedKey)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("scheduler: load skipped activations of %s: %w", clusterID, err)
	}
	var sk []Skipped
	if err := json.Unmarshal(b, &sk); err != nil {
		return nil, fmt.Errorf("scheduler: decode skipped activations of %s: %w", clusterID, err)
	}
	return sk, nil
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

// setSkippedLocked sets a cluster's skipped windows and replans its
// tasks that are not running.
func (s *Scheduler) setSkippedLocked(clusterID uuid.UUID, sk []Skipped, now time.Time) {
	if len(sk) == 0 {
		delete(s.skipped, clusterID)
	} else {
		s.skipped[clusterID] = sk
	}
	for id, e := range s.tasks {
		if _, ok := s.active[id]; !ok && e.task.ClusterID == clusterID {
			e.dec = s.decideLocked(e.task, e.plan, e.last, now)
		}
	}
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

// SuspendOptions tune SuspendWithOptions.
type SuspendOptions struct {
	// AllowTaskType keeps tasks of this type (or these comma-separated
	// types) running; health checks always run. "" = none.
	AllowTaskType string
	// FailIfRunning refuses (store.ErrConflict) while a task of another
	// type runs on this scheduler, instead of stopping it (the default
	// policy stop_running_tasks).
	FailIfRunning bool
	// NoContinue (Scylla Manager's no_continue) cleans up after the runs
	// the suspension stops (see Cleaner), and their tasks' next runs start
	// from scratch ("continue": false): for backup, the stopped runs'
	// snapshots are deleted from the nodes and the next run takes a new
	// one. The suspension returns after the runs stopped on this scheduler
	// were cleaned; runs on other managers are cleaned there when they
	// stop.
	NoContinue bool
}

// ResumeOptions tune ResumeWithOptions.
type ResumeOptions struct {
	// StartTasks starts again, continuing their work, the tasks whose runs
	// the suspension stopped.
	StartTasks bool
	// StartTasksMissedActivation starts now the tasks whose activation
	// fell in the suspension. Without it they wait for their next
	// activation (missed activations are skipped, as in Scylla Manager).
	StartTasksMissedActivation bool
	// NoContinue starts the tasks above from scratch ("continue": false).
	NoContinue bool
}

// Suspend is SuspendWithOptions with AllowTaskType and FailIfRunning.
func (s *Scheduler) Suspend(ctx context.Context, clusterID uuid.UUID, allowTaskType string, failIfRunning bool) error {
	return s.SuspendWithOptions(ctx, clusterID, SuspendOptions{AllowTaskType: allowTaskType, FailIfRunning: failIfRunning})
}

// SuspendWithOptions suspends a cluster: no task of it starts, except
// health checks and o.AllowTaskType, until Resume. With o.FailIfRunning
// it refuses (store.ErrConflict) while a task of another type runs on
// this scheduler; otherwise such runs are stopped with ErrSuspended
// (STOPPED). Runs on other managers stop at their next sync. Suspending a
// suspended cluster updates the options.
//
// With o.NoContinue it waits (until ctx is done) for the local runs it
// stops to end and their runners' Clean (see Cleaner) to return; runs on
// other managers are cleaned by them when they stop.
func (s *Scheduler) SuspendWithOptions(ctx context.Context, clusterID uuid.UUID, o SuspendOptions) error {
	if _, err := s.st.GetCluster(ctx, clusterID); err != nil {
		return fmt.Errorf("scheduler: suspend: %w", err)
	}
	st := &SuspendState{StartedAt: time.Now().UTC(), AllowTaskType: o.AllowTaskType, NoContinue: o.NoContinue}
	s.mu.Lock()
	var stop []*activeRun
	for id, a := range s.active {
		if a.task.ClusterID == clusterID && !st.Allows(a.task.Type) {
			stop = append(stop, a)
			st.RunningTasks = append(st.RunningTasks, id)
		}
	}
	s.mu.Unlock()
	if o.FailIfRunning && len(stop) > 0 {
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
		s.stopLocal(ctx, a, st.cause())
	}
	s.clusterEvent(ctx, clusterID, "suspend", "cluster suspended", map[string]string{"allow_task_type": o.AllowTaskType, "no_continue": fmt.Sprint(o.NoContinue)})
	s.poke()
	if o.NoContinue {
		for _, a := range stop {
			select {
			case <-a.done:
			case <-ctx.Done():
				return fmt.Errorf("scheduler: suspend: waiting for stopped runs: %w", context.Cause(ctx))
			}
		}
	}
	return nil
}

// Resume is ResumeWithOptions with StartTasks.
func (s *Scheduler) Resume(ctx context.Context, clusterID uuid.UUID, startTasks bool) error {
	return s.ResumeWithOptions(ctx, clusterID, ResumeOptions{StartTasks: startTasks})
}

// ResumeWithOptions lifts a cluster's suspension. The activations the
// suspension missed are skipped: those tasks wait for their next
// activation (see Skipped), unless o.StartTasksMissedActivation starts
// them now. With o.StartTasks, the tasks whose runs the suspension
// stopped are started again (continuing their work unless o.NoContinue
// or the suspension's NoContinue). Resuming a cluster that is not
// suspended is a no-op.
func (s *Scheduler) ResumeWithOptions(ctx context.Context, clusterID uuid.UUID, o ResumeOptions) error {
	st, err := s.loadSuspend(ctx, clusterID)
	if err != nil {
		return err
	}
	if st == nil {
		return nil
	}
	sk, err := s.loadSkipped(ctx, clusterID)
	if err != nil {
		return err
	}
	now := time.Now()
	// The tasks whose next activation fell in the suspension, planned
	// as if it had not been.
	var missed []uuid.UUID
	s.mu.Lock()
	for id, e := range s.tasks {
		if e.task.ClusterID != clusterID || st.Allows(e.task.Type) {
			continue
		}
		if d := s.decideLocked(e.task, e.plan, e.last, now); d.Action == ActStart && d.Attempt == 0 &&
			!d.Activation.Before(st.StartedAt) && d.Activation.Before(now) {
			missed = append(missed, id)
		}
	}
	s.mu.Unlock()
	sk = append(sk, Skipped{From: st.StartedAt, To: now.UTC(), AllowTaskType: st.AllowTaskType})
	if len(sk) > maxSkipped {
		sk = sk[len(sk)-maxSkipped:]
	}
	b, err := json.Marshal(sk)
	if err != nil {
		return fmt.Errorf("scheduler: resume: %w", err)
	}
	// Written before the suspension is lifted: a manager that sees the
	// cluster resumed also sees the window (sync reads them in the
	// other order).
	if err := s.st.PutSecret(ctx, clusterID, SkippedKey, b); err != nil {
		return fmt.Errorf("scheduler: resume: %w", err)
	}
	if err := s.st.DeleteSecret(ctx, clusterID, SuspendKey); err != nil {
		return fmt.Errorf("scheduler: resume: %w", err)
	}
	s.mu.Lock()
	s.suspendGen++
	s.setSuspendedLocked(clusterID, nil)
	s.setSkippedLocked(clusterID, sk, now)
	s.mu.Unlock()
	s.clusterEvent(ctx, clusterID, "resume", "cluster resumed", nil)
	var start []uuid.UUID
	if o.StartTasks {
		start = append(start, st.RunningTasks...)
	}
	if o.StartTasksMissedActivation {
		start = append(start, missed...)
	}
	seen := map[uuid.UUID]bool{}
	for _, id := range start {
		if seen[id] {
			continue
		}
		seen[id] = true
		if err := s.Trigger(ctx, clusterID, id, !o.NoContinue); err != nil {
			s.log.Warn("resume: start task", "task", id, "err", err)
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
