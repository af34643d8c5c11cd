package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
)

// activeRun is a run executing on this scheduler.
type activeRun struct {
	task   *store.Task
	run    *store.Run // owned by the run goroutine; copies handed out under mu
	plan   *Plan
	leases []store.Lease
	cancel context.CancelCauseFunc
	done   chan struct{} // closed by finish
	// stopCause is the cause of the first local stop (stopLocal, or a
	// suspension seen at sync), under mu: the lease keeper that sees the
	// STOPPING written by stopLocal uses it too, and later stops neither
	// write STOPPING (over the run's end) nor change the cause.
	stopCause error
}

// start takes the leases of c, re-checks the decision against the store
// and launches the run. Failures leave the task to the next dispatch.
func (s *Scheduler) start(ctx context.Context, c candidate) {
	t := c.task
	runID := c.dec.RunID
	if c.manual != nil {
		var err error
		if runID, err = uuid.NewUUID(); err != nil {
			s.log.Error("run id", "err", err)
			return
		}
	}
	names := lockNames(t, s.opts.ParallelTypes)
	owner := s.opts.OwnerID + "/" + runID.String()
	if c.dec.Run != nil && c.manual == nil {
		// Resume/recover keep the run ID; the previous holder's owner
		// string differs unless it was this manager (restart).
		owner = s.opts.OwnerID + "/" + c.dec.Run.ID.String()
	}
	leases, err := s.acquire(ctx, names, owner)
	if err != nil {
		if errors.Is(err, store.ErrLeaseHeld) {
			s.setBlocked(t.ID, time.Now().Add(min(s.opts.SyncInterval, s.opts.LeaseTTL)))
		} else if ctx.Err() == nil {
			s.log.Warn("acquire lease", "task", t.ID, "err", err)
			s.setBlocked(t.ID, time.Now().Add(s.opts.SyncInterval))
		}
		return
	}
	launched := false
	defer func() {
		if !launched {
			s.release(context.WithoutCancel(ctx), leases)
		}
	}()
	fence := leases[0].Fence

	// Re-read under the lease: another manager may have acted already.
	t, err = s.st.GetTask(ctx, t.ClusterID, t.ID)
	if err != nil {
		s.refreshAfterError(ctx, c.task, err)
		return
	}
	last, err := s.lastRun(ctx, t)
	if err != nil {
		s.log.Warn("list runs", "task", t.ID, "err", err)
		return
	}
	plan, err := ParseSchedule(t.Schedule)
	if err != nil {
		s.refreshAfterError(ctx, t, err)
		return
	}
	now := time.Now()

	var run *store.Run
	if c.manual == nil && isRequest(last) {
		// A start request of an API-only Manager: run it as stored.
		if !s.allowed(t) { // suspended since the request
			r := cloneRun(last)
			r.Status, r.Cause, r.Fence, r.EndTime = store.StatusStopped, ErrSuspended.Error(), fence, now
			if err := s.st.UpdateRun(ctx, r); err != nil {
				s.log.Warn("stop requested run", "task", t.ID, "run", r.ID, "err", err)
			}
			s.refresh(ctx, t)
			return
		}
		if run, err = s.startRequest(ctx, last, fence); err != nil {
			s.log.Warn("start requested run", "task", t.ID, "run", last.ID, "err", err)
			s.refresh(ctx, t)
			return
		}
	} else if last != nil && (!last.Status.Final() && last.Status != store.StatusWaiting || c.manual != nil && last.Status == store.StatusWaiting) {
		if last, err = s.recover(ctx, t, last, fence, c.manual != nil); err != nil {
			s.log.Warn("recover run", "task", t.ID, "run", last.ID, "err", err)
			s.refresh(ctx, t)
			return
		}
		if c.manual == nil && last.Status.Final() && last.Status != store.StatusAborted {
			s.refresh(ctx, t)
			return
		}
	}

	switch {
	case run != nil: // a requested run, started above
	case c.manual != nil:
		s.mu.Lock()
		delete(s.triggers, t.ID)
		s.mu.Unlock()
		props := t.Properties
		if !c.manual.cont || noContinueAfter(last) {
			props = withContinue(props, false)
		}
		run = &store.Run{ClusterID: t.ClusterID, TaskID: t.ID, ID: runID, Type: t.Type, Status: store.StatusRunning,
			Owner: s.opts.OwnerID, Fence: fence, Activation: now, Properties: props, StartTime: now}
		create := s.st.CreateRun
		if s.reuseRunID(t) {
			run.ID = FixedRunID(t.ID)
			if last != nil {
				create = s.st.UpdateRun
			}
		}
		if err := create(ctx, run); err != nil {
			s.log.Warn("create run", "task", t.ID, "err", err)
			return
		}
	default:
		dec := s.decide(t, plan, last, now)
		if dec.Action == ActNone || dec.At.After(now) || dec.RunID != c.dec.RunID || !s.allowed(t) {
			s.refresh(ctx, t) // someone else did it, or things changed
			return
		}
		switch dec.Action {
		case ActStart:
			run = &store.Run{ClusterID: t.ClusterID, TaskID: t.ID, ID: dec.RunID, Type: t.Type, Status: store.StatusRunning,
				Owner: s.opts.OwnerID, Fence: fence, Attempt: dec.Attempt, Activation: dec.Activation,
				Properties: nextProperties(t.Properties, last), StartTime: now}
			create := s.st.CreateRun
			if s.reuseRunID(t) {
				// The lease and the re-check above make this
				// activation ours; overwrite the one run record.
				run.ID = FixedRunID(t.ID)
				if last != nil {
					create = s.st.UpdateRun
				}
			}
			if err := create(ctx, run); err != nil {
				if !errors.Is(err, store.ErrConflict) {
					s.log.Warn("create run", "task", t.ID, "err", err)
				}
				s.refresh(ctx, t)
				return
			}
		case ActResume:
			run = cloneRun(dec.Run)
			run.Status, run.Cause, run.Owner, run.Fence = store.StatusRunning, "", s.opts.OwnerID, fence
			run.Properties = withContinue(t.Properties, true)
			run.EndTime = time.Time{}
			if run.StartTime.IsZero() {
				run.StartTime = now
			}
			if err := s.st.UpdateRun(ctx, run); err != nil {
				s.log.Warn("resume run", "task", t.ID, "run", run.ID, "err", err)
				s.refresh(ctx, t)
				return
			}
		default:
			s.refresh(ctx, t)
			return
		}
	}
	s.event(ctx, run, "run_status", "info", "run "+string(run.Status), map[string]string{"status": string(run.Status), "attempt": strconv.Itoa(run.Attempt)})

	s.mu.Lock()
	runner, ok := s.runners[t.Type]
	if !ok || ctx.Err() != nil {
		s.mu.Unlock()
		run.Status, run.Cause, run.EndTime = store.StatusAborted, ErrClosed.Error(), time.Now()
		s.writeEnd(ctx, t, run, nil)
		return
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	a := &activeRun{task: t, run: run, plan: plan, leases: leases, cancel: cancel, done: make(chan struct{})}
	s.active[t.ID] = a
	s.perCluster[t.ClusterID]++
	for _, n := range names {
		s.locks[n] = t.ID
	}
	s.m.indicator.WithLabelValues(t.ClusterID.String(), t.Type, t.ID.String()).Set(1)
	launched = true
	s.wg.Go(func() { s.execute(runCtx, ctx, a, runner) })
	s.mu.Unlock()
}

// recover takes over last, a run whose holder lost its leases: a
// STOPPING run becomes STOPPED; any other becomes ABORTED (to be resumed).
func (s *Scheduler) recover(ctx context.Context, t *store.Task, last *store.Run, fence int64, manual bool) (*store.Run, error) {
	r := cloneRun(last)
	prev := r.Owner
	r.Fence, r.EndTime = fence, time.Now()
	switch {
	case r.Status == store.StatusStopping:
		r.Status, r.Cause = store.StatusStopped, ErrStopped.Error()
	case r.Status == store.StatusWaiting:
		r.Status, r.Cause = store.StatusStopped, "superseded by a manual start"
	case !t.Enabled || t.Deleted:
		r.Status, r.Cause = store.StatusAborted, "holder "+prev+" lost its lease; task disabled"
	default:
		r.Status, r.Cause = store.StatusAborted, "holder "+prev+" lost its lease"
	}
	if err := s.st.UpdateRun(ctx, r); err != nil {
		return last, err
	}
	s.m.takeovers.WithLabelValues(t.ClusterID.String(), t.Type, string(r.Status)).Inc()
	s.log.Info("took over run", "task", t.ID, "run", r.ID, "from", prev, "status", r.Status)
	s.event(ctx, r, "run_status", "warning", "run "+string(r.Status)+": "+r.Cause, map[string]string{"status": string(r.Status), "previous_owner": prev})
	return r, nil
}

// execute runs a on its runner and records the outcome. parent is the
// scheduler loop's context (used, without its cancellation, for the final
// writes).
func (s *Scheduler) execute(ctx, parent context.Context, a *activeRun, runner Runner) {
	run := a.run
	ctx = store.WithFence(ctx, run.Fence)
	if w := a.plan.Window(); w != nil {
		if end := w.End(time.Now()); !end.IsZero() {
			tm := time.AfterFunc(time.Until(end), func() { a.cancel(ErrOutOfWindow) })
			defer tm.Stop()
		}
	}
	done := make(chan struct{})
	var rg sync.WaitGroup
	rg.Go(func() { s.keepLeases(ctx, a, done) })

	err := s.callRunner(ctx, runner, run)
	cause := context.Cause(ctx)
	close(done)
	rg.Wait()

	end := cloneRun(run)
	end.EndTime = time.Now()
	switch {
	case err == nil:
		end.Status, end.Cause = store.StatusDone, ""
	case errors.Is(cause, store.ErrLeaseLost):
		s.log.Warn("run lost its lease; leaving it to the new holder", "task", run.TaskID, "run", run.ID)
		s.finish(parent, a, nil)
		return
	case errors.Is(cause, ErrStopped), errors.Is(cause, ErrSuspended):
		end.Status, end.Cause = store.StatusStopped, cause.Error()
	case errors.Is(cause, ErrOutOfWindow):
		end.Status, end.Cause = store.StatusWaiting, cause.Error()
	case errors.Is(cause, ErrClosed):
		end.Status, end.Cause = store.StatusAborted, cause.Error()
	default:
		end.Status, end.Cause = store.StatusError, err.Error()
		if pe := (permanentError{}); errors.As(err, &pe) {
			end.Cause = permanentPrefix + err.Error()
		}
	}
	if s.crash.Load() {
		s.finish(parent, a, nil)
		return
	}
	s.writeEnd(context.WithoutCancel(parent), a.task, end, a.plan)
	s.cleanStopped(parent, runner, end, cause) // under the run's leases
	s.finish(parent, a, end)
}

// callRunner calls the runner, turning a panic into an error.
func (s *Scheduler) callRunner(ctx context.Context, r Runner, run *store.Run) (err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("runner panicked", "task", run.TaskID, "run", run.ID, "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("scheduler: runner of %s panicked: %v", run.Type, p)
		}
	}()
	return r.Run(ctx, run.ClusterID, run.TaskID, run.ID, run.Properties)
}

// keepLeases renews a's leases every LeaseTTL/3 until done. It cancels the
// run with store.ErrLeaseLost when a lease is lost or cannot be renewed
// before it expires, and with ErrStopped when another manager marked the
// run STOPPING.
func (s *Scheduler) keepLeases(ctx context.Context, a *activeRun, done <-chan struct{}) {
	tick := time.NewTicker(s.opts.LeaseTTL / 3)
	defer tick.Stop()
	expires := time.Now().Add(s.opts.LeaseTTL)
	bg := context.WithoutCancel(ctx)
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			// Keep renewing until the runner returns: a graceful stop
			// may take a while and the leases must outlive it.
			ctx = bg
			continue
		case <-tick.C:
		}
		if s.crash.Load() {
			return
		}
		for i, l := range a.leases {
			nl, err := s.st.RenewLease(bg, l, s.opts.LeaseTTL)
			if err != nil {
				if errors.Is(err, store.ErrLeaseLost) || time.Now().After(expires) {
					a.cancel(fmt.Errorf("scheduler: renew %s: %w", l.Name, store.ErrLeaseLost))
					return
				}
				s.log.Warn("renew lease", "lease", l.Name, "err", err)
				continue
			}
			a.leases[i] = nl
		}
		expires = time.Now().Add(s.opts.LeaseTTL)
		// A stop requested through another manager.
		if r, err := s.st.GetRun(bg, a.run.TaskID, a.run.ID); err == nil && r.Status == store.StatusStopping {
			s.mu.Lock()
			cause := a.stopCause
			s.mu.Unlock()
			if cause == nil {
				cause = ErrStopped
			}
			a.cancel(cause)
		}
	}
}

// writeEnd persists the end of a run, its events and metrics.
func (s *Scheduler) writeEnd(ctx context.Context, t *store.Task, end *store.Run, plan *Plan) {
	if err := s.st.UpdateRun(ctx, end); err != nil {
		s.log.Warn("record run end", "task", t.ID, "run", end.ID, "status", end.Status, "err", err)
		return
	}
	if s.reuseRunID(t) {
		s.countRun(ctx, end)
	}
	if end.Status == store.StatusError && s.reuseRunID(t) {
		// The one record is overwritten by the next run: keep the
		// failure in the history under a fresh ID.
		if id, err := uuid.NewUUID(); err == nil {
			cp := cloneRun(end)
			cp.ID = id
			if err := s.st.CreateRun(ctx, cp); err != nil {
				s.log.Warn("record failed run", "task", t.ID, "err", err)
			}
		}
	}
	final := true
	attrs := map[string]string{"status": string(end.Status), "attempt": strconv.Itoa(end.Attempt)}
	sev := "info"
	switch end.Status {
	case store.StatusWaiting, store.StatusAborted:
		final = false
		sev = "warning"
	case store.StatusError:
		sev = "warning"
		if plan != nil {
			if d := Decide(t, plan, end, time.Now()); d.Action == ActStart && d.Attempt == end.Attempt+1 {
				final = false
				a2 := map[string]string{"attempt": strconv.Itoa(d.Attempt), "retry_at": d.At.Format(time.RFC3339)}
				s.event(ctx, end, "retry", "warning", fmt.Sprintf("retry %d/%d at %s after: %s", d.Attempt, plan.NumRetries(), d.At.Format(time.RFC3339), end.Cause), a2)
			}
		}
	}
	msg := "run " + string(end.Status)
	if end.Cause != "" {
		msg += ": " + end.Cause
	}
	s.event(ctx, end, "run_status", sev, msg, attrs)
	if end.Status == store.StatusError && final {
		s.event(ctx, end, "run_failed", "error", "run failed: "+end.Cause, attrs)
	}
	l := []string{t.ClusterID.String(), t.Type, t.ID.String()}
	s.mu.Lock()
	if !s.forgotten[t.ClusterID] { // a deleted cluster keeps no series
		s.m.total.WithLabelValues(append(l, string(end.Status))...).Inc()
		if end.Status == store.StatusDone {
			s.m.lastSuccess.WithLabelValues(l...).Set(float64(end.EndTime.Unix()))
		}
	}
	s.mu.Unlock()
	if s.opts.OnRunEnd != nil {
		s.opts.OnRunEnd(RunEnd{Run: *cloneRun(end), TaskName: t.Name, Final: final})
	}
}

// finish releases a's leases and slots, and replans its task.
func (s *Scheduler) finish(ctx context.Context, a *activeRun, end *store.Run) {
	t := a.task
	if !s.crash.Load() {
		s.release(context.WithoutCancel(ctx), a.leases)
	}
	s.mu.Lock()
	delete(s.active, t.ID)
	s.perCluster[t.ClusterID]--
	for _, n := range lockNames(t, s.opts.ParallelTypes) {
		if s.locks[n] == t.ID {
			delete(s.locks, n)
		}
	}
	if s.forgotten[t.ClusterID] {
		s.m.indicator.DeleteLabelValues(t.ClusterID.String(), t.Type, t.ID.String())
		end = nil // not replanned: its cluster is gone
	} else {
		s.m.indicator.WithLabelValues(t.ClusterID.String(), t.Type, t.ID.String()).Set(0)
	}
	if end != nil {
		if e, ok := s.tasks[t.ID]; ok {
			s.setTaskLocked(e.task, end, time.Now())
		} else if !t.Deleted {
			s.setTaskLocked(t, end, time.Now())
		}
	}
	s.mu.Unlock()
	close(a.done)
	s.poke()
}

// acquire takes all leases or none.
func (s *Scheduler) acquire(ctx context.Context, names []string, owner string) ([]store.Lease, error) {
	var got []store.Lease
	for _, n := range names {
		l, err := s.st.AcquireLease(ctx, n, owner, s.opts.LeaseTTL)
		if err != nil {
			s.release(context.WithoutCancel(ctx), got)
			return nil, fmt.Errorf("scheduler: lease %s: %w", n, err)
		}
		got = append(got, l)
	}
	return got, nil
}

func (s *Scheduler) release(ctx context.Context, leases []store.Lease) {
	for _, l := range leases {
		if err := s.st.ReleaseLease(ctx, l); err != nil && !errors.Is(err, store.ErrLeaseLost) {
			s.log.Warn("release lease", "lease", l.Name, "err", err)
		}
	}
}

func (s *Scheduler) setBlocked(taskID uuid.UUID, until time.Time) {
	s.mu.Lock()
	if e, ok := s.tasks[taskID]; ok {
		e.blocked = until
	}
	s.mu.Unlock()
}

// refresh replans t from the store's current last run.
func (s *Scheduler) refresh(ctx context.Context, t *store.Task) {
	last, err := s.lastRun(ctx, t)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.active[t.ID]; !ok {
		if _, known := s.tasks[t.ID]; known {
			s.setTaskLocked(t, last, time.Now())
		}
	}
}

func (s *Scheduler) refreshAfterError(ctx context.Context, t *store.Task, err error) {
	if errors.Is(err, store.ErrNotFound) {
		s.mu.Lock()
		s.dropTaskLocked(t)
		s.mu.Unlock()
		return
	}
	if ctx.Err() == nil {
		s.log.Warn("task", "task", t.ID, "err", err)
		s.setBlocked(t.ID, time.Now().Add(s.opts.SyncInterval))
	}
}

func (s *Scheduler) allowed(t *store.Task) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.allowedLocked(t)
}

// event appends an event about run r; failures are logged only.
func (s *Scheduler) event(ctx context.Context, r *store.Run, kind, severity, msg string, attrs map[string]string) {
	id, err := uuid.NewUUID()
	if err != nil {
		return
	}
	if attrs == nil {
		attrs = map[string]string{}
	}
	attrs["type"] = r.Type
	attrs["owner"] = s.opts.OwnerID
	e := &store.Event{ID: id, ClusterID: r.ClusterID, TaskID: r.TaskID, RunID: r.ID, Time: time.Now(),
		Kind: kind, Severity: severity, Message: msg, Attributes: attrs, TTL: s.opts.EventTTL}
	if err := s.st.AppendEvent(ctx, e); err != nil && ctx.Err() == nil {
		s.log.Warn("append event", "kind", kind, "err", err)
	}
}

// withContinue returns props (a JSON object; empty = {}) with "continue"
// set to v. Non-object properties are returned unchanged.
func withContinue(props json.RawMessage, v bool) json.RawMessage {
	m := map[string]json.RawMessage{}
	if len(props) > 0 && string(props) != "null" {
		if err := json.Unmarshal(props, &m); err != nil {
			return props
		}
	}
	m["continue"] = json.RawMessage(strconv.FormatBool(v))
	out, err := json.Marshal(m)
	if err != nil {
		return props
	}
	return out
}

func cloneRun(r *store.Run) *store.Run {
	c := *r
	c.Properties = append(json.RawMessage(nil), r.Properties...)
	return &c
}

// stopLocal persists STOPPING for a local run, then cancels it with cause.
// The STOPPING write precedes the cancellation, so it precedes the run's
// final write.
func (s *Scheduler) stopLocal(ctx context.Context, a *activeRun, cause error) {
	s.mu.Lock()
	r := cloneRun(a.run)
	first := a.stopCause == nil
	if first {
		a.stopCause = cause
	}
	s.mu.Unlock()
	if first { // else already stopping: the run may have ended, do not overwrite its end
		r.Status = store.StatusStopping
		if err := s.st.UpdateRun(ctx, r); err == nil {
			s.event(ctx, r, "run_status", "info", "run STOPPING", map[string]string{"status": string(r.Status)})
		}
	}
	a.cancel(cause)
}

// reuseRunID reports whether runs of t reuse one record (health checks,
// which run every minute: Scylla Manager keeps one run row for them too).
func (s *Scheduler) reuseRunID(t *store.Task) bool {
	return slices.Contains(s.opts.ReuseRunTypes, t.Type)
}

// FixedRunID is the run ID reused by every run of a task whose type is in
// Options.ReuseRunTypes: a version-1 UUID with the Unix epoch as its time.
func FixedRunID(taskID uuid.UUID) uuid.UUID {
	return DeriveRunID(taskID, time.Unix(0, 0), 0)
}

// lastRun returns the task's latest run, or nil.
func (s *Scheduler) lastRun(ctx context.Context, t *store.Task) (*store.Run, error) {
	if s.reuseRunID(t) {
		r, err := s.st.GetRun(ctx, t.ID, FixedRunID(t.ID))
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("scheduler: get run of task %s: %w", t.ID, err)
		}
		return r, nil
	}
	runs, err := s.st.ListRuns(ctx, t.ID, 1)
	if err != nil {
		return nil, fmt.Errorf("scheduler: list runs of task %s: %w", t.ID, err)
	}
	if len(runs) == 0 {
		return nil, nil
	}
	return runs[0], nil
}
