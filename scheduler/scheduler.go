package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
)

// Scheduler runs the tasks of a store: it plans their activations,
// starts runs through the registered Runners under leases, persists run
// states and events, and applies exclusion, limits and suspension.
//
// Lock order: Scheduler.mu only; it is never held during store I/O or a
// Runner call.
type Scheduler struct {
	st   store.Store
	opts Options
	log  *slog.Logger
	m    *metrics
	wake chan struct{}

	running atomic.Bool // Run was called
	stopped atomic.Bool // Run returned
	crash   atomic.Bool // test hook: die without cleanup

	mu         sync.Mutex
	runners    map[string]Runner
	tasks      map[uuid.UUID]*entry        // by task ID
	active     map[uuid.UUID]*activeRun    // by task ID
	locks      map[string]uuid.UUID        // lock name -> task ID, local runs
	suspended  map[uuid.UUID]*SuspendState // by cluster ID
	skipped    map[uuid.UUID][]Skipped     // by cluster ID: past suspensions
	clusters   map[uuid.UUID]bool          // seen at the last sync
	forgotten  map[uuid.UUID]bool          // deleted clusters (ForgetCluster)
	suspendGen uint64                      // bumped by local Suspend/Resume
	triggers   map[uuid.UUID]trigger       // manual starts, by task ID
	perCluster map[uuid.UUID]int           // local runs per cluster
	wg         sync.WaitGroup              // run goroutines
}

// entry is what the scheduler knows about one task.
type entry struct {
	task    *store.Task
	plan    *Plan
	last    *store.Run // nil: never ran
	dec     Decision
	blocked time.Time // a lease is held elsewhere: retry after this
}

// trigger is a pending manual start.
type trigger struct {
	at   time.Time
	cont bool
}

// New returns a Scheduler over st. Register runners, then call Run.
func New(st store.Store, opts Options) (*Scheduler, error) {
	if st == nil {
		return nil, errors.New("scheduler: nil store")
	}
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	opts = opts.withDefaults()
	return &Scheduler{
		st:         st,
		opts:       opts,
		log:        opts.Logger.With("component", "scheduler"),
		m:          newMetrics(opts.Registerer),
		wake:       make(chan struct{}, 1),
		runners:    make(map[string]Runner),
		tasks:      make(map[uuid.UUID]*entry),
		active:     make(map[uuid.UUID]*activeRun),
		locks:      make(map[string]uuid.UUID),
		suspended:  make(map[uuid.UUID]*SuspendState),
		forgotten:  make(map[uuid.UUID]bool),
		skipped:    make(map[uuid.UUID][]Skipped),
		triggers:   make(map[uuid.UUID]trigger),
		perCluster: make(map[uuid.UUID]int),
	}, nil
}

// OwnerID is the owner name this scheduler uses in leases and runs.
func (s *Scheduler) OwnerID() string { return s.opts.OwnerID }

// Register sets the Runner of a task type, replacing any previous one.
func (s *Scheduler) Register(taskType string, r Runner) {
	s.mu.Lock()
	s.runners[taskType] = r
	s.mu.Unlock()
	s.poke()
}

// Runner returns the Runner of a task type.
func (s *Scheduler) Runner(taskType string) (Runner, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.runners[taskType]
	return r, ok
}

// Types lists the task types with a Runner, sorted.
func (s *Scheduler) Types() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for t := range s.runners {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run loads the tasks of the store and runs them until ctx is done. On
// return every run was stopped with ErrClosed (marked ABORTED, to be
// resumed later) and every goroutine Run started has exited. Run returns
// nil after ctx is done, or an error if it cannot start.
func (s *Scheduler) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("scheduler: Run called twice")
	}
	// Runs end with cause ErrClosed, not the caller's cause, so they are
	// recorded ABORTED; the context still carries ctx's values.
	loopCtx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer func() {
		s.stopped.Store(true)
		cancel(ErrClosed)
		s.mu.Lock()
		for _, a := range s.active {
			a.cancel(ErrClosed)
		}
		s.mu.Unlock()
		s.wg.Wait()
	}()
	if err := s.sync(loopCtx); err != nil && ctx.Err() == nil {
		s.log.Warn("initial sync failed", "err", err)
	}
	tick := time.NewTicker(s.opts.SyncInterval)
	defer tick.Stop()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := s.dispatch(loopCtx)
		d := time.Hour
		if !next.IsZero() {
			d = max(time.Until(next), 0)
		}
		timer.Reset(d)
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		case <-timer.C:
		case <-tick.C:
			if err := s.sync(loopCtx); err != nil && ctx.Err() == nil {
				s.log.Warn("sync failed", "err", err)
			}
		}
	}
}

// sync reloads tasks, last runs and suspensions from the store.
func (s *Scheduler) sync(ctx context.Context) error {
	s.mu.Lock()
	gen := s.suspendGen
	s.mu.Unlock()
	clusters, err := s.st.ListClusters(ctx)
	if err != nil {
		return fmt.Errorf("scheduler: list clusters: %w", err)
	}
	susp := make(map[uuid.UUID]*SuspendState)
	skipped := make(map[uuid.UUID][]Skipped)
	for _, c := range clusters {
		st, err := s.loadSuspend(ctx, c.ID)
		if err != nil {
			return err
		}
		if st != nil {
			susp[c.ID] = st
		}
		// After the suspension: Resume writes this one first.
		if skipped[c.ID], err = s.loadSkipped(ctx, c.ID); err != nil {
			return err
		}
	}
	tasks, err := s.st.ListTasks(ctx, uuid.Nil)
	if err != nil {
		return fmt.Errorf("scheduler: list tasks: %w", err)
	}
	lasts := make(map[uuid.UUID]*store.Run, len(tasks))
	for _, t := range tasks {
		last, err := s.lastRun(ctx, t)
		if err != nil {
			return err
		}
		lasts[t.ID] = last
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen == s.suspendGen { // else a local Suspend/Resume is newer
		for _, c := range clusters {
			s.setSuspendedLocked(c.ID, susp[c.ID])
			if len(skipped[c.ID]) > 0 {
				s.skipped[c.ID] = skipped[c.ID]
			} else {
				delete(s.skipped, c.ID)
			}
		}
	}
	live := make(map[uuid.UUID]bool, len(clusters))
	for _, c := range clusters {
		live[c.ID] = true
	}
	for id := range s.clusters {
		if !live[id] { // deleted: drop its series
			delete(s.suspended, id)
			delete(s.skipped, id)
			s.m.forgetCluster(id)
		}
	}
	s.clusters = live
	for id := range s.forgotten {
		if !live[id] && !s.activeInLocked(id) {
			delete(s.forgotten, id)
		}
	}
	seen := make(map[uuid.UUID]bool, len(tasks))
	for _, t := range tasks {
		seen[t.ID] = true
		if _, ok := s.active[t.ID]; ok {
			continue
		}
		s.setTaskLocked(t, lasts[t.ID], now)
	}
	for id, e := range s.tasks {
		if !seen[id] {
			s.dropTaskLocked(e.task)
		}
	}
	// Runs of a cluster suspended elsewhere stop here too.
	for _, a := range s.active {
		if !s.allowedLocked(a.task) && a.stopCause == nil {
			a.stopCause = s.suspended[a.task.ClusterID].cause()
			a.cancel(a.stopCause)
		}
	}
	return nil
}

// setTaskLocked (re)computes the entry of t.
func (s *Scheduler) setTaskLocked(t *store.Task, last *store.Run, now time.Time) {
	p, err := ParseSchedule(t.Schedule)
	if err != nil {
		s.log.Warn("task has a bad schedule, not scheduled", "task", t.ID, "err", err)
		delete(s.tasks, t.ID)
		return
	}
	e := &entry{task: t, plan: p, last: last}
	if old, ok := s.tasks[t.ID]; ok {
		e.blocked = old.blocked
	}
	e.dec = s.decideLocked(t, p, last, now)
	s.tasks[t.ID] = e
	if last != nil && last.Status == store.StatusDone && !last.EndTime.IsZero() {
		s.m.lastSuccess.WithLabelValues(t.ClusterID.String(), t.Type, t.ID.String()).Set(float64(last.EndTime.Unix()))
	}
}

func (s *Scheduler) dropTaskLocked(t *store.Task) {
	delete(s.tasks, t.ID)
	delete(s.triggers, t.ID)
	l := []string{t.ClusterID.String(), t.Type, t.ID.String()}
	s.m.indicator.DeleteLabelValues(l...)
	s.m.lastSuccess.DeleteLabelValues(l...)
}

// Schedule tells the scheduler that task t was created or changed, so it
// does not wait for the next sync. It reads the task's last run.
func (s *Scheduler) Schedule(ctx context.Context, t *store.Task) error {
	if _, err := ParseSchedule(t.Schedule); err != nil {
		return err
	}
	last, err := s.lastRun(ctx, t)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if a, ok := s.active[t.ID]; ok {
		a.task = t
	} else {
		s.setTaskLocked(t, last, time.Now())
	}
	s.mu.Unlock()
	s.poke()
	return nil
}

// ForgetCluster drops the metric series of a deleted cluster at once
// (a sync would drop them later): run indicators, run totals, last
// successes, takeovers and the suspension gauge. Runs of the cluster that
// are still stopping add no series when they end. Call it after stopping
// and unscheduling the cluster's tasks.
func (s *Scheduler) ForgetCluster(clusterID uuid.UUID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forgotten[clusterID] = true
	s.m.forgetCluster(clusterID)
}

// activeInLocked tells whether a run of the cluster is active.
func (s *Scheduler) activeInLocked(clusterID uuid.UUID) bool {
	for _, a := range s.active {
		if a.task.ClusterID == clusterID {
			return true
		}
	}
	return false
}

// Unschedule forgets a task (deleted or disabled elsewhere). A running
// run of it is not stopped; use Stop.
func (s *Scheduler) Unschedule(t *store.Task) {
	s.mu.Lock()
	s.dropTaskLocked(t)
	s.mu.Unlock()
	s.poke()
}

// NextActivation returns when the task will next start or resume, or the
// zero time if nothing is planned (or the task is running).
func (s *Scheduler) NextActivation(taskID uuid.UUID) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.tasks[taskID]
	if !ok || e.dec.Action == ActNone || e.dec.Action == ActRecover {
		return time.Time{}
	}
	if _, ok := s.active[taskID]; ok {
		return time.Time{}
	}
	if st := s.suspended[e.task.ClusterID]; st != nil && !st.Allows(e.task.Type) {
		return time.Time{}
	}
	return e.dec.At
}

// Running reports the run of the task that executes on this scheduler.
func (s *Scheduler) Running(taskID uuid.UUID) (store.Run, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.active[taskID]
	if !ok {
		return store.Run{}, false
	}
	return *a.run, true
}

// Trigger starts a run of the task now (a disabled or one-shot task too),
// as a new run. cont=false passes "continue": false in the properties
// (start from scratch). It fails with store.ErrConflict if the task has a
// run in progress, with ErrSuspended if its cluster is suspended, and with
// ErrClosed once Run returned. The run may still wait for a lease, a
// concurrency slot, or for Run to start.
func (s *Scheduler) Trigger(ctx context.Context, clusterID, taskID uuid.UUID, cont bool) error {
	if s.stopped.Load() {
		return fmt.Errorf("scheduler: trigger: %w", ErrClosed)
	}
	t, err := s.st.GetTask(ctx, clusterID, taskID)
	if err != nil {
		return fmt.Errorf("scheduler: trigger: %w", err)
	}
	if t.Deleted {
		return fmt.Errorf("scheduler: trigger: task %s: %w", taskID, store.ErrNotFound)
	}
	if _, ok := s.Runner(t.Type); !ok {
		return fmt.Errorf("scheduler: trigger: %w", s.unknownType(t.Type))
	}
	last, err := s.lastRun(ctx, t)
	if err != nil {
		return fmt.Errorf("scheduler: trigger: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.active[taskID]; ok || last != nil && !last.Status.Final() && last.Status != store.StatusWaiting {
		return fmt.Errorf("scheduler: trigger: task %s is running: %w", taskID, store.ErrConflict)
	}
	if !s.allowedLocked(t) {
		return fmt.Errorf("scheduler: trigger: cluster %s: %w", clusterID, ErrSuspended)
	}
	s.triggers[taskID] = trigger{at: time.Now(), cont: cont}
	if _, ok := s.tasks[taskID]; !ok {
		s.setTaskLocked(t, nil, time.Now())
	}
	s.poke()
	return nil
}

func (s *Scheduler) unknownType(typ string) error {
	types := s.Types()
	return store.Invalid("task.type", "a task type with a registered runner: "+strings.Join(types, ", "), typ)
}

// candidate is due work found by dispatch.
type candidate struct {
	task   *store.Task
	dec    Decision
	manual *trigger
	at     time.Time
}

// dispatch starts due work within the limits and returns the earliest
// future time at which something becomes due (zero: nothing planned).
func (s *Scheduler) dispatch(ctx context.Context) time.Time {
	if ctx.Err() != nil {
		return time.Time{}
	}
	now := time.Now()
	var due []candidate
	var next time.Time
	later := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	s.mu.Lock()
	for id, e := range s.tasks {
		if _, ok := s.active[id]; ok {
			continue
		}
		if _, ok := s.runners[e.task.Type]; !ok {
			continue
		}
		if e.blocked.After(now) {
			later(e.blocked)
			continue
		}
		if tr, ok := s.triggers[id]; ok {
			if !s.allowedLocked(e.task) {
				delete(s.triggers, id)
			} else {
				due = append(due, candidate{task: e.task, dec: e.dec, manual: &tr, at: tr.at})
				continue
			}
		}
		if e.dec.Action == ActNone {
			continue
		}
		if e.dec.Action != ActRecover && !s.allowedLocked(e.task) {
			continue
		}
		if e.dec.At.After(now) {
			later(e.dec.At)
			continue
		}
		due = append(due, candidate{task: e.task, dec: e.dec, at: e.dec.At})
	}
	s.mu.Unlock()
	// Oldest first: the queue of work over the limits is FIFO.
	slices.SortStableFunc(due, func(a, b candidate) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return strings.Compare(a.task.ID.String(), b.task.ID.String())
	})
	for _, c := range due {
		if ctx.Err() != nil {
			break
		}
		if !s.slotFree(c.task) {
			continue // waits for a run to end (which pokes the loop)
		}
		s.start(ctx, c)
	}
	return next
}

// slotFree reports whether the limits allow one more run for t's cluster.
func (s *Scheduler) slotFree(t *store.Task) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.MaxRuns > 0 && len(s.active) >= s.opts.MaxRuns {
		return false
	}
	if s.opts.MaxRunsPerCluster > 0 && s.perCluster[t.ClusterID] >= s.opts.MaxRunsPerCluster {
		return false
	}
	for _, n := range lockNames(t, s.opts.ParallelTypes) {
		if _, held := s.locks[n]; held {
			return false // an excluding local run; its end pokes the loop
		}
	}
	return true
}

// lockNames returns the lease names a run of t must hold, the primary
// (whose fence the run carries) first: a per-task lease for parallel
// types; else one per (cluster, type), and for restore types also those
// of backup and repair, so a restore never overlaps them.
func lockNames(t *store.Task, parallel []string) []string {
	if slices.Contains(parallel, t.Type) {
		return []string{"task/" + t.ID.String()}
	}
	typeLock := func(typ string) string { return "cluster/" + t.ClusterID.String() + "/type/" + typ }
	names := []string{typeLock(t.Type)}
	if t.Type == TypeRestore || t.Type == "1_1_restore" {
		for _, typ := range []string{"1_1_restore", TypeBackup, TypeRepair, TypeRestore, "tablet_repair"} {
			if typ != t.Type {
				names = append(names, typeLock(typ))
			}
		}
	}
	return names
}

// Stop stops the task's run with cause ErrStopped (STOPPING, then
// STOPPED). A run on another manager is marked STOPPING in the store and
// that manager stops it at its next lease renewal; a WAITING run becomes
// STOPPED at once. With disable the task is also disabled, so it is not
// scheduled again. Stopping a task that is not running is not an error.
func (s *Scheduler) Stop(ctx context.Context, clusterID, taskID uuid.UUID, disable bool) error {
	return s.StopWithCause(ctx, clusterID, taskID, nil, disable)
}

// StopWithCause is Stop with a reason: a local run's context is canceled
// with a cause wrapping both ErrStopped and cause, so the run ends STOPPED
// with "task was stopped: <cause>". A run on another manager gets plain
// ErrStopped (the reason does not travel). A nil cause is ErrStopped.
func (s *Scheduler) StopWithCause(ctx context.Context, clusterID, taskID uuid.UUID, cause error, disable bool) error {
	stopCause := ErrStopped
	if cause != nil && !errors.Is(cause, ErrStopped) {
		stopCause = fmt.Errorf("%w: %w", ErrStopped, cause)
	}
	t, err := s.st.GetTask(ctx, clusterID, taskID)
	if err != nil {
		return fmt.Errorf("scheduler: stop: %w", err)
	}
	if disable && t.Enabled {
		t.Enabled = false
		t.UpdatedAt = time.Now().UTC()
		if err := s.st.UpdateTask(ctx, t); err != nil {
			return fmt.Errorf("scheduler: stop: disable: %w", err)
		}
	}
	s.mu.Lock()
	delete(s.triggers, taskID)
	a, local := s.active[taskID]
	if local {
		a.task = t
	} else if _, ok := s.tasks[taskID]; ok {
		s.setTaskLocked(t, s.tasks[taskID].last, time.Now())
	}
	s.mu.Unlock()
	if local {
		s.stopLocal(ctx, a, stopCause)
		return nil
	}
	r, err := s.lastRun(ctx, t)
	if err != nil || r == nil {
		return nil
	}
	switch r.Status {
	case store.StatusRunning, store.StatusNew:
		r.Status = store.StatusStopping
	case store.StatusWaiting:
		r.Status, r.Cause, r.EndTime = store.StatusStopped, ErrStopped.Error(), time.Now()
	default:
		return nil
	}
	// Written with the run's own fence: the holder's later writes
	// (STOPPED) still pass.
	if err := s.st.UpdateRun(ctx, r); err != nil {
		return fmt.Errorf("scheduler: stop: %w", err)
	}
	s.event(ctx, r, "run_status", "info", "run "+string(r.Status), map[string]string{"status": string(r.Status)})
	s.refresh(ctx, t)
	s.poke()
	return nil
}
