package agent

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/scyllaops/scyllaops/internal/agentapi"
)

// errJobStopped is the cancel cause of job/stop.
var errJobStopped = errors.New("job stopped")

// maxTransferred bounds the finished-transfer records kept per job; the
// byte and file counters are exact regardless.
const maxTransferred = 1000

// job is one rc call: asynchronous ones are kept in the registry, sync
// ones use a throwaway job for their counters.
type job struct {
	id int64
	// key identifies the work of a sync job (call and locations); a
	// second request for the same work while it runs joins it.
	key     string
	started time.Time
	cancel  context.CancelCauseFunc
	done    chan struct{}

	bytes     atomic.Int64 // streamed so far, including unfinished files
	uploaded  atomic.Int64
	skipped   atomic.Int64
	failed    atomic.Int64
	transfers atomic.Int64
	checks    atomic.Int64
	deletes   atomic.Int64
	errs      atomic.Int64
	// limiter, when set, replaces the agent-wide limit (bandwidth_rate).
	limiter atomic.Pointer[rate.Limiter]

	mu           sync.Mutex
	finished     time.Time
	err          error
	output       any
	transferred  []agentapi.Transfer
	transferring map[string]*transferState
}

type transferState struct {
	size  int64
	bytes atomic.Int64
	start time.Time
}

func newJob(id int64, cancel context.CancelCauseFunc) *job {
	return &job{id: id, started: time.Now(), cancel: cancel, done: make(chan struct{}), transferring: make(map[string]*transferState)}
}

func (j *job) finish(out any, err error) {
	j.mu.Lock()
	j.finished = time.Now()
	j.output, j.err = out, err
	j.mu.Unlock()
	close(j.done)
}

// startTransfer registers a file transfer; the returned func records its
// end.
func (j *job) startTransfer(name string, size int64) (*transferState, func(checked bool, err error)) {
	ts := &transferState{size: size, start: time.Now()}
	j.mu.Lock()
	j.transferring[name] = ts
	j.mu.Unlock()
	return ts, func(checked bool, err error) {
		t := agentapi.Transfer{Name: name, Size: size, Bytes: ts.bytes.Load(), Checked: checked, StartedAt: ts.start, CompletedAt: time.Now()}
		switch {
		case err != nil:
			t.Error = err.Error()
			j.failed.Add(size)
			j.errs.Add(1)
		case checked:
			j.skipped.Add(size)
			j.checks.Add(1)
		default:
			j.uploaded.Add(size)
			j.transfers.Add(1)
		}
		j.mu.Lock()
		delete(j.transferring, name)
		if len(j.transferred) < maxTransferred {
			j.transferred = append(j.transferred, t)
		}
		j.mu.Unlock()
	}
}

func (j *job) progress() agentapi.JobProgress {
	j.mu.Lock()
	defer j.mu.Unlock()
	st := j.started
	p := agentapi.JobProgress{Status: agentapi.JobRunning, StartedAt: &st,
		Uploaded: j.uploaded.Load(), Skipped: j.skipped.Load(), Failed: j.failed.Load()}
	if !j.finished.IsZero() {
		f := j.finished
		p.CompletedAt = &f
		p.Status = agentapi.JobSuccess
		if j.err != nil {
			p.Status = agentapi.JobError
			p.Error = j.err.Error()
		}
	}
	return p
}

func (j *job) info() agentapi.JobInfo {
	j.mu.Lock()
	defer j.mu.Unlock()
	now := time.Now()
	end := now
	if !j.finished.IsZero() {
		end = j.finished
	}
	elapsed := end.Sub(j.started).Seconds()
	in := agentapi.JobInfo{
		Job: agentapi.Job{ID: j.id, StartTime: j.started, EndTime: j.finished, Duration: elapsed,
			Finished: !j.finished.IsZero(), Success: !j.finished.IsZero() && j.err == nil, Output: j.output},
		Stats: agentapi.Stats{Bytes: j.bytes.Load(), Errors: j.errs.Load(), Checks: j.checks.Load(),
			Transfers: j.transfers.Load(), Deletes: j.deletes.Load(), ElapsedTime: elapsed},
		Transferred: append([]agentapi.Transfer(nil), j.transferred...),
	}
	if elapsed > 0 {
		in.Stats.Speed = float64(in.Stats.Bytes) / elapsed
	}
	if j.err != nil {
		in.Job.Error = j.err.Error()
		in.Stats.LastError = in.Job.Error
		in.Stats.FatalError = true
	}
	for name, ts := range j.transferring {
		b := ts.bytes.Load()
		t := agentapi.Transferring{Name: name, Size: ts.size, Bytes: b}
		if ts.size > 0 {
			t.Percentage = float64(b) * 100 / float64(ts.size)
		}
		if d := now.Sub(ts.start).Seconds(); d > 0 {
			t.Speed = float64(b) / d
			t.SpeedAvg = t.Speed
			if t.Speed > 0 {
				t.ETA = float64(ts.size-b) / t.Speed
			}
		}
		in.Stats.Transferring = append(in.Stats.Transferring, t)
	}
	return in
}

// resetStats zeroes the counters and drops the transfer records.
func (j *job) resetStats() {
	j.mu.Lock()
	j.transferred = nil
	j.mu.Unlock()
	for _, c := range []*atomic.Int64{&j.bytes, &j.uploaded, &j.skipped, &j.failed, &j.transfers, &j.checks, &j.deletes, &j.errs} {
		c.Store(0)
	}
}

// jobs is the registry of asynchronous jobs. It owns their goroutines.
type jobs struct {
	ttl    time.Duration
	nextID atomic.Int64
	wg     sync.WaitGroup

	mu     sync.Mutex
	m      map[int64]*job
	closed bool
}

func newJobs(ttl time.Duration) *jobs {
	js := &jobs{ttl: ttl, m: make(map[int64]*job)}
	// Upstream seeds job ids with the start time, so ids from a restarted
	// agent do not collide with old ones.
	js.nextID.Store(time.Now().Unix())
	return js
}

// start runs fn as a new job on a goroutine derived from parent (which
// must outlive the request: the agent's lifetime context).
//
// A non-empty key makes the start idempotent: while a job with the same
// key runs, start returns that job instead of starting a second one. Two
// jobs moving the same directory would race for its files (a manager that
// died leaves its job running; the manager that resumes the run asks
// again).
func (js *jobs) start(parent context.Context, key string, fn func(ctx context.Context, j *job) (any, error)) (*job, error) {
	js.mu.Lock()
	if key != "" {
		for _, o := range js.m {
			if o.key != key {
				continue
			}
			select {
			case <-o.done:
			default:
				js.mu.Unlock()
				return o, nil
			}
		}
	}
	js.mu.Unlock()
	ctx, cancel := context.WithCancelCause(parent)
	j := newJob(js.nextID.Add(1), cancel)
	j.key = key
	js.mu.Lock()
	if js.closed {
		js.mu.Unlock()
		cancel(ErrClosed)
		return nil, ErrClosed
	}
	js.pruneLocked()
	js.m[j.id] = j
	js.wg.Add(1)
	js.mu.Unlock()
	go func() {
		defer js.wg.Done()
		defer cancel(nil)
		out, err := fn(ctx, j)
		if err != nil {
			if c := context.Cause(ctx); c != nil && errors.Is(err, context.Canceled) {
				err = c
			}
		}
		j.finish(out, err)
	}()
	return j, nil
}

func (js *jobs) pruneLocked() {
	now := time.Now()
	for id, j := range js.m {
		j.mu.Lock()
		expired := !j.finished.IsZero() && now.Sub(j.finished) > js.ttl
		j.mu.Unlock()
		if expired {
			delete(js.m, id)
		}
	}
}

func (js *jobs) get(id int64) *job {
	js.mu.Lock()
	defer js.mu.Unlock()
	js.pruneLocked()
	return js.m[id]
}

func (js *jobs) all() []*job {
	js.mu.Lock()
	defer js.mu.Unlock()
	out := make([]*job, 0, len(js.m))
	for _, j := range js.m {
		out = append(out, j)
	}
	return out
}

// wait blocks until j finishes, d elapses or ctx ends.
func wait(ctx context.Context, j *job, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-j.done:
	case <-t.C:
	case <-ctx.Done():
	}
}

// close cancels every job and waits for their goroutines.
func (js *jobs) close() {
	js.mu.Lock()
	js.closed = true
	for _, j := range js.m {
		j.cancel(ErrClosed)
	}
	js.mu.Unlock()
	js.wg.Wait()
}
