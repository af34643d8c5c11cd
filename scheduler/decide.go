package scheduler

import (
	"crypto/sha256"
	"encoding/binary"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
)

// Action is what Decide asks the run loop to do for a task.
type Action int

// Actions.
const (
	// ActNone: nothing is planned (disabled task, one-shot done).
	ActNone Action = iota
	// ActStart: create and start a new run (a scheduled activation or a
	// retry).
	ActStart
	// ActResume: resume Decision.Run (WAITING after a window end, or
	// ABORTED by a shutdown) with "continue": true.
	ActResume
	// ActRecover: Decision.Run is not final; if its lease expired, its
	// holder is dead: take the run over (ABORTED, then resumed).
	ActRecover
)

// String names the action.
func (a Action) String() string {
	return [...]string{"none", "start", "resume", "recover"}[a]
}

// Decision is the next thing to do for a task.
type Decision struct {
	Action Action
	// At is when to act (already moved into the window).
	At time.Time
	// RunID is the ID of the run to create (ActStart) or resume.
	RunID uuid.UUID
	// Activation is the planned activation the run serves.
	Activation time.Time
	// Attempt is the retry number of the new run (0 = first try).
	Attempt int
	// Run is the run to resume or recover (ActResume, ActRecover).
	Run *store.Run
}

// permanentPrefix marks the Cause of a run that failed with a Permanent
// error: such a run is not retried.
const permanentPrefix = "permanent error: "

// Decide computes what to do next for task t with plan p, given the task's
// last run (nil if none) and the current time. It is a pure function:
// every manager sharing a store computes the same decision from the same
// records (up to now), which is what makes derived run IDs collide.
//
// Rules (reference §8):
//   - a non-final last run (NEW, RUNNING, STOPPING) is recovered;
//   - a WAITING run is resumed at the next window start; an ABORTED one
//     (shutdown, lost holder) at once;
//   - a disabled or deleted task gets nothing else;
//   - a failed run (ERROR) with retries left is retried Backoff(attempt)
//     after its end, unless a regular activation comes first;
//   - otherwise the next activation after the last run's activation and
//     start time; if it is already past (downtime, a long run) it runs
//     once now: one catch-up run, not a burst;
//   - a start outside the window waits for the next window start.
func Decide(t *store.Task, p *Plan, last *store.Run, now time.Time) Decision {
	if last != nil {
		switch last.Status {
		case store.StatusNew, store.StatusRunning, store.StatusStopping:
			return Decision{Action: ActRecover, At: now, RunID: last.ID, Activation: last.Activation, Attempt: last.Attempt, Run: last}
		case store.StatusWaiting:
			if !t.Enabled || t.Deleted {
				return Decision{Action: ActRecover, At: now, RunID: last.ID, Activation: last.Activation, Attempt: last.Attempt, Run: last}
			}
			return Decision{Action: ActResume, At: inWindow(p, now), RunID: last.ID, Activation: last.Activation, Attempt: last.Attempt, Run: last}
		case store.StatusAborted:
			if t.Enabled && !t.Deleted {
				return Decision{Action: ActResume, At: inWindow(p, now), RunID: last.ID, Activation: last.Activation, Attempt: last.Attempt, Run: last}
			}
		}
	}
	if !t.Enabled || t.Deleted {
		return Decision{}
	}
	var next time.Time
	if last == nil {
		start := t.Schedule.StartDate
		if start.IsZero() {
			start = t.CreatedAt
		}
		next = p.Next(start.Add(-time.Nanosecond))
	} else {
		base := last.Activation
		if last.StartTime.After(base) {
			base = last.StartTime
		}
		next = p.Next(base)
	}
	d := Decision{Action: ActStart, Activation: next}
	if last != nil && last.Status == store.StatusError && last.Attempt < p.NumRetries() && !strings.HasPrefix(last.Cause, permanentPrefix) {
		end := last.EndTime
		if end.IsZero() {
			end = last.StartTime
		}
		retryAt := end.Add(p.Backoff(last.Attempt))
		if next.IsZero() || !next.Before(retryAt) {
			d = Decision{Action: ActStart, Activation: last.Activation, Attempt: last.Attempt + 1}
			next = retryAt
		}
	}
	if next.IsZero() {
		return Decision{}
	}
	d.RunID = DeriveRunID(t.ID, d.Activation, d.Attempt)
	if d.Attempt > 0 {
		// Retries of one activation differ by attempt and are ordered
		// after the first try by their planned time.
		d.RunID = DeriveRunID(t.ID, next, d.Attempt)
	}
	if next.Before(now) {
		next = now
	}
	d.At = inWindow(p, next)
	return d
}

// inWindow moves t to the next window start if it is outside the window.
func inWindow(p *Plan, t time.Time) time.Time {
	if w := p.Window(); w != nil {
		return w.NextStart(t)
	}
	return t
}

// uuidEpochOffset is the number of 100 ns intervals between the start of
// the version-1 UUID clock (1582-10-15) and the Unix epoch.
const uuidEpochOffset = 0x01B21DD213814000

// DeriveRunID returns the version-1 UUID of the run of task taskID that
// serves activation at (attempt 0) or retry attempt planned at at. Its
// time is at (in 100 ns units); its clock sequence and node are a hash of
// taskID and attempt. Managers that plan the same activation derive the
// same ID, so store.CreateRun lets only one of them create the run.
func DeriveRunID(taskID uuid.UUID, at time.Time, attempt int) uuid.UUID {
	ts := uint64(at.UnixNano()/100 + uuidEpochOffset)
	h := sha256.New()
	h.Write(taskID[:])
	var a [8]byte
	binary.BigEndian.PutUint64(a[:], uint64(attempt))
	h.Write(a[:])
	sum := h.Sum(nil)
	var u uuid.UUID
	binary.BigEndian.PutUint32(u[0:4], uint32(ts))
	binary.BigEndian.PutUint16(u[4:6], uint16(ts>>32))
	binary.BigEndian.PutUint16(u[6:8], uint16(ts>>48)&0x0fff|0x1000)
	u[8] = sum[0]&0x3f | 0x80
	u[9] = sum[1]
	copy(u[10:16], sum[2:8])
	return u
}
