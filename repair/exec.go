package repair

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/scyllaops/scyllaops/agentclient"
)

// tableState is the executor's view of one planned table.
type tableState struct {
	ks       *KeyspacePlan
	t        TablePlan
	todo     [][]TokenRange // per replica set, the ranges left
	inflight []bool         // per replica set
	attempts []int          // per replica set, timed-out attempts
	small    bool           // one small-table job left to run
	dropped  bool
}

func (ts *tableState) name() string { return ts.ks.Keyspace + "." + ts.t.Table }

// left counts the ranges left (not in flight).
func (ts *tableState) left() int {
	n := 0
	for _, r := range ts.todo {
		n += len(r)
	}
	return n
}

// lease is a job in the controller's sense: it holds its hosts (a
// replica set, or every host of a table for a small-table job) from its
// start until its last call ends, and runs one or more repair_async calls
// (job) on its coordinator, one per table, whose ranges_parallelism sum
// to at most its intensity.
type lease struct {
	hosts       []string
	coordinator string
	intensity   int // the slots of the hosts it holds (ShareSlots: takes)
	calls       []*job
	running     int           // calls not ended
	aborted     bool          // a call timed out and the coordinator's repairs were aborted
	start       time.Duration // SimulateSchedule: virtual start
}

// tables counts the distinct tables of l's calls.
func (l *lease) tables() int {
	var seen []*tableState
	for _, c := range l.calls {
		if !slices.Contains(seen, c.ts) {
			seen = append(seen, c.ts)
		}
	}
	return len(seen)
}

// job is one repair_async call of a lease.
type job struct {
	l           *lease
	ts          *tableState
	rs          int // replica set index; -1 for a small-table job
	hosts       []string
	coordinator string
	ranges      []TokenRange
	intensity   int
	small       bool
	why         string // set when the job is failed without a call
}

func (j *job) waves() int {
	if j.small || j.intensity <= 0 {
		return max(len(j.ranges), 1)
	}
	return (len(j.ranges) + j.intensity - 1) / j.intensity
}

// hold is a node held back by back-pressure.
type hold struct {
	since  time.Time
	reason string
	down   bool // the ping failed
}

// executor runs one plan.
type executor struct {
	s         *Service
	clusterID uuid.UUID
	client    *agentclient.Client
	plan      *Plan
	props     Properties
	rec       recorder
	log       *slog.Logger

	mu        sync.Mutex
	intensity float64
	parallel  int
	tables    []*tableState
	busy      map[string]bool
	used      map[string]int // ShareSlots: ranges in flight per host
	slotsUsed int            // ShareSlots: sum of the running jobs' intensities
	hostLeft  map[string]int
	running   int
	held      map[string]hold
	downHosts map[string]bool
	failures  []string
	perRange  time.Duration
	stopGen   bool // fail_fast or stop: generate no more jobs
	wake      chan struct{}
}

func newExecutor(s *Service, clusterID uuid.UUID, client *agentclient.Client, plan *Plan, props Properties, rec recorder, done map[string]map[[2]int64]bool) *executor {
	e := &executor{s: s, clusterID: clusterID, client: client, plan: plan, props: props, rec: rec,
		log: s.log.With("cluster", clusterID), intensity: props.IntensityValue(), parallel: props.Parallel,
		busy: map[string]bool{}, used: map[string]int{}, hostLeft: map[string]int{}, held: map[string]hold{}, downHosts: map[string]bool{},
		wake: make(chan struct{}, 1)}
	if s.opts.NoBatching {
		e.props.FailFast = props.FailFast
	}
	for i := range plan.Keyspaces {
		k := &plan.Keyspaces[i]
		for _, t := range k.Tables {
			ts := &tableState{ks: k, t: t, todo: make([][]TokenRange, len(k.ReplicaSets)), inflight: make([]bool, len(k.ReplicaSets)), attempts: make([]int, len(k.ReplicaSets))}
			d := done[ts.name()]
			for r, rs := range k.ReplicaSets {
				for _, rg := range rs.Ranges {
					if !d[[2]int64{rg.Start, rg.End}] {
						ts.todo[r] = append(ts.todo[r], rg)
						for _, h := range rs.Hosts {
							e.hostLeft[h]++
						}
					}
				}
			}
			ts.small = t.Small && ts.left() == k.Ranges
			e.tables = append(e.tables, ts)
		}
	}
	return e
}

func (e *executor) setIntensity(v float64) {
	e.mu.Lock()
	e.intensity = v
	e.mu.Unlock()
	e.rec.tuned(v, -1)
	e.poke()
}

func (e *executor) setParallel(v int) {
	e.mu.Lock()
	e.parallel = v
	e.mu.Unlock()
	e.rec.tuned(-1, v)
	e.poke()
}

func (e *executor) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// limit is the number of jobs allowed at once.
func (e *executor) limitLocked() int {
	if e.parallel <= 0 || e.parallel > e.plan.MaxParallel {
		return e.plan.MaxParallel
	}
	return e.parallel
}

// roomLocked tells whether another job may start: fewer than limit jobs
// run, or with ShareSlots, the running jobs' intensities sum to less
// than limit jobs of the plan's max intensity.
func (e *executor) roomLocked() bool {
	if e.s.opts.ShareSlots {
		return e.slotsUsed < e.limitLocked()*max(e.plan.MaxIntensity, 1)
	}
	return e.running < e.limitLocked()
}

// takeLocked and giveLocked account for l's hosts while it runs.
func (e *executor) takeLocked(l *lease) {
	e.running++
	l.running = len(l.calls)
	if e.s.opts.ShareSlots {
		e.slotsUsed += max(l.intensity, 1)
	}
	for _, h := range l.hosts {
		if e.s.opts.ShareSlots {
			e.used[h] += max(l.intensity, 1)
		} else {
			e.busy[h] = true
		}
	}
}

func (e *executor) giveLocked(l *lease) {
	e.running--
	if e.s.opts.ShareSlots {
		e.slotsUsed -= max(l.intensity, 1)
	}
	for _, h := range l.hosts {
		if e.s.opts.ShareSlots {
			e.used[h] -= max(l.intensity, 1)
		} else {
			e.busy[h] = false
		}
	}
}

// callEndedLocked accounts for the end of j; it tells whether j was the
// last call of its lease, whose hosts are then given back.
func (e *executor) callEndedLocked(j *job) bool {
	j.l.running--
	if j.l.running > 0 {
		return false
	}
	e.giveLocked(j.l)
	return true
}

// slots is host's max ranges in parallel.
func (e *executor) slots(host string) int { return max(e.plan.HostIntensity[host], 1) }

// freeLocked tells whether no host is busy (ShareSlots: has no free slot)
// or held.
func (e *executor) freeLocked(hosts []string) bool {
	for _, h := range hosts {
		if e.busy[h] || (e.s.opts.ShareSlots && e.used[h] >= e.slots(h)) {
			return false
		}
		if _, ok := e.held[h]; ok {
			return false
		}
	}
	return true
}

// nextJobLocked picks the next job by the controller rule: the first
// table (plan order) with a replica set whose hosts are all free; among
// its replica sets the one whose hosts have the most work left. Unless
// NoBatching or ShareSlots is set, the job then fills the slots its first
// call leaves free over the same number of waves with calls on the same
// replica set for later tables of the keyspace (fillLocked).
func (e *executor) nextJobLocked() *lease {
	for _, ts := range e.tables {
		if ts.dropped || e.baseBusyLocked(ts) {
			continue
		}
		if ts.small {
			hosts := e.tableHosts(ts)
			if slices.Contains(ts.inflight, true) || !e.freeLocked(hosts) {
				continue
			}
			var all []TokenRange
			for r := range ts.todo {
				all = append(all, ts.todo[r]...)
				ts.todo[r] = nil
				ts.inflight[r] = true
			}
			ts.small = false
			l := &lease{hosts: hosts, coordinator: ts.ks.ReplicaSets[0].Coordinator, intensity: 1}
			l.calls = []*job{{l: l, ts: ts, rs: -1, hosts: hosts, coordinator: l.coordinator, ranges: all, small: true}}
			return l
		}
		if r := e.bestReplicaSetLocked(ts); r >= 0 {
			return e.newLeaseLocked(ts, r)
		}
	}
	return nil
}

// bestReplicaSetLocked is the replica set of ts with ranges left, none in
// flight and all hosts free whose hosts have the most work left (-1 if
// none).
func (e *executor) bestReplicaSetLocked(ts *tableState) int {
	best, bestScore := -1, -1
	for r, todo := range ts.todo {
		if len(todo) == 0 || ts.inflight[r] || !e.freeLocked(ts.ks.ReplicaSets[r].Hosts) {
			continue
		}
		score := 0
		for _, h := range ts.ks.ReplicaSets[r].Hosts {
			score = max(score, e.hostLeft[h])
		}
		if score > bestScore {
			best, bestScore = r, score
		}
	}
	return best
}

// newLeaseLocked makes the job of replica set r starting with the ranges
// left of ts.
func (e *executor) newLeaseLocked(ts *tableState, r int) *lease {
	rs := ts.ks.ReplicaSets[r]
	in := max(effIntensity(e.intensity, rs.MaxIntensity), 1)
	left := len(ts.todo[r])
	l := &lease{hosts: rs.Hosts, coordinator: rs.Coordinator, intensity: in}
	switch {
	case e.s.opts.ShareSlots:
		// As many ranges at once as every host has free slots, and
		// whole waves: the ranges of a last, partial wave go in a
		// later job, which may share its hosts' slots with others.
		for _, h := range rs.Hosts {
			in = min(in, e.slots(h)-e.used[h])
		}
		in = max(min(in, left), 1)
		l.intensity = in
		n := maxBatchRanges
		if e.s.opts.NoBatching {
			n = in
		}
		n = min(n, left)
		if n > in {
			n -= n % in
		}
		e.addCallLocked(l, ts, r, n, in)
	case e.s.opts.NoBatching:
		e.addCallLocked(l, ts, r, min(in, left), in)
	default:
		// The first call: the ranges left (capped) in the fewest waves,
		// on the fewest slots that hold them in that many waves.
		n := min(maxBatchRanges, left)
		waves := (n + in - 1) / in
		rp := (n + waves - 1) / waves
		e.addCallLocked(l, ts, r, n, rp)
		e.fillLocked(l, r, in-rp, waves)
	}
	return l
}

// addCallLocked adds to l a call on the first n ranges left of ts on
// replica set rs, with ranges_parallelism rp.
func (e *executor) addCallLocked(l *lease, ts *tableState, rs, n, rp int) {
	j := &job{l: l, ts: ts, rs: rs, hosts: l.hosts, coordinator: l.coordinator, ranges: ts.todo[rs][:n:n], intensity: rp}
	ts.todo[rs] = ts.todo[rs][n:]
	ts.inflight[rs] = true
	l.calls = append(l.calls, j)
}

// fillLocked gives the free slots of l, for waves waves, to calls on the
// same replica set rs for the tables of its keyspace in plan order (each
// table at most once, at most ranges_parallelism × waves ranges, with the
// fewest slots that hold them), so that the job's slots are busy for its
// whole length instead of idling through a partial last wave. A table
// repaired by a small-table job, a view whose base table has ranges left
// or running, and a dropped table are skipped.
func (e *executor) fillLocked(l *lease, rs, free, waves int) {
	ks := l.calls[0].ts.ks
	for _, ts := range e.tables {
		if free <= 0 {
			return
		}
		if ts.ks != ks || ts.dropped || ts.small || len(ts.todo[rs]) == 0 || ts.inflight[rs] || e.baseBusyLocked(ts) {
			continue
		}
		c := len(ts.todo[rs])
		rp := min(free, (c+waves-1)/waves)
		e.addCallLocked(l, ts, rs, min(c, rp*waves), rp)
		free -= rp
	}
}

// baseBusyLocked tells whether ts is a view whose base table still has
// ranges to start or jobs running: views are repaired after their base
// tables.
func (e *executor) baseBusyLocked(ts *tableState) bool {
	if ts.t.BaseTable == "" {
		return false
	}
	for _, b := range e.tables {
		if b.ks != ts.ks || b.t.Table != ts.t.BaseTable || b.dropped {
			continue
		}
		return b.small || b.left() > 0 || slices.Contains(b.inflight, true)
	}
	return false
}

func (e *executor) tableHosts(ts *tableState) []string {
	var out []string
	for _, rs := range ts.ks.ReplicaSets {
		for _, h := range rs.Hosts {
			if !slices.Contains(out, h) {
				out = append(out, h)
			}
		}
	}
	sort.Strings(out)
	return out
}

// doneLocked tells whether nothing is left to start.
func (e *executor) leftLocked() bool {
	for _, ts := range e.tables {
		if !ts.dropped && (ts.small || ts.left() > 0) {
			return true
		}
	}
	return false
}

// run executes the plan until done or ctx ends (graceful stop).
func (e *executor) run(ctx context.Context) error {
	jobCtx, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJobs()
	var wg sync.WaitGroup
	monCtx, stopMon := context.WithCancel(ctx)
	defer stopMon()
	e.checkSignals(monCtx)
	wg.Go(func() { e.monitor(monCtx) })
	finished := make(chan struct{}, 64)
	for {
		e.mu.Lock()
		for !e.stopGen && ctx.Err() == nil && e.roomLocked() {
			l := e.nextJobLocked()
			if l == nil {
				break
			}
			e.takeLocked(l)
			for _, h := range l.hosts {
				e.s.metrics.inflightJobs.WithLabelValues(e.clusterID.String(), h).Inc()
			}
			for _, j := range l.calls {
				for _, h := range j.hosts {
					e.s.metrics.inflightRanges.WithLabelValues(e.clusterID.String(), h).Add(float64(len(j.ranges)))
				}
				wg.Go(func() {
					e.runJob(jobCtx, j)
					select { // a wake-up; one pending is enough
					case finished <- struct{}{}:
					default:
					}
				})
			}
		}
		running, left, stop := e.running, e.leftLocked(), e.stopGen
		e.mu.Unlock()
		if running == 0 && (!left || stop || ctx.Err() != nil) {
			break
		}
		if ctx.Err() != nil {
			// Graceful stop: running jobs get GracefulStopTimeout.
			t := time.NewTimer(e.s.opts.GracefulStopTimeout)
			for running > 0 {
				select {
				case <-finished:
					e.mu.Lock()
					running = e.running
					e.mu.Unlock()
					continue
				case <-t.C:
				}
				break
			}
			t.Stop()
			if running > 0 {
				cancelJobs()
				e.abortAll(context.WithoutCancel(ctx))
			}
			stopMon()
			wg.Wait()
			return context.Cause(ctx)
		}
		select {
		case <-finished:
		case <-e.wake:
		case <-ctx.Done():
		}
	}
	stopMon()
	wg.Wait()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.failures) > 0 {
		return fmt.Errorf("repair: %d job(s) failed: %s", len(e.failures), strings.Join(e.failures, "; "))
	}
	if e.stopGen {
		return errors.New("repair: stopped by fail_fast")
	}
	return nil
}

// abortAll aborts the repairs left running on every plan host.
func (e *executor) abortAll(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(discoverParallelism)
	for _, h := range e.plan.Hosts {
		g.Go(func() error {
			if err := e.abort(gctx, h); err != nil {
				e.log.Warn("repair: abort repairs", "host", h, "err", err)
			}
			return nil
		})
	}
	_ = g.Wait()
}

func (e *executor) abort(ctx context.Context, host string) error {
	return e.client.Raw(ctx, host, "POST", "/storage_service/force_terminate_repair", nil, nil, nil)
}

// jobTimeout is Options.JobTimeout, or derived from the measured time per
// range.
func (e *executor) jobTimeout(j *job) time.Duration {
	if e.s.opts.JobTimeout > 0 {
		return e.s.opts.JobTimeout
	}
	e.mu.Lock()
	pr := e.perRange
	e.mu.Unlock()
	d := time.Duration(math.Min(float64(pr)*float64(j.waves())*e.s.opts.JobTimeoutFactor, float64(math.MaxInt64/2)))
	return max(d, e.s.opts.MinJobTimeout)
}

// runJob runs j and records its outcome.
func (e *executor) runJob(ctx context.Context, j *job) {
	start := e.s.opts.Now()
	status, err := e.call(ctx, j)
	end := e.s.opts.Now()
	e.mu.Lock()
	defer func() {
		last := e.callEndedLocked(j)
		for _, h := range j.hosts {
			if last {
				e.s.metrics.inflightJobs.WithLabelValues(e.clusterID.String(), h).Dec()
			}
			e.s.metrics.inflightRanges.WithLabelValues(e.clusterID.String(), h).Sub(float64(len(j.ranges)))
		}
		e.mu.Unlock()
	}()
	ts := j.ts
	release := func() { e.releaseLocked(j) }
	switch {
	case status == agentclient.RepairSuccessful:
		if w := j.waves(); w > 0 {
			e.perRange = max(e.perRange, end.Sub(start)/time.Duration(w))
		}
		e.doneRangesLocked(j)
		release()
		e.mu.Unlock()
		e.rec.jobDone(context.WithoutCancel(ctx), j, start, end, "")
		e.mu.Lock()
	case !errors.Is(err, errTimedOut) && j.l.aborted && ctx.Err() == nil && !j.small:
		// Another call of the job timed out and the repairs on the
		// coordinator were aborted, this one with them: it is retried
		// without counting as an attempt.
		e.log.Warn("repair: call aborted with a timed-out call of its job, retried", "table", ts.name(), "hosts", j.hosts)
		ts.todo[j.rs] = append(j.ranges, ts.todo[j.rs]...)
		release()
	case errors.Is(err, errTimedOut) && !j.small && ts.attempts[j.rs] < e.s.opts.JobRetries:
		ts.attempts[j.rs]++
		e.log.Warn("repair: job timed out, aborted and retried", "table", ts.name(), "hosts", j.hosts, "attempt", ts.attempts[j.rs])
		ts.todo[j.rs] = append(j.ranges, ts.todo[j.rs]...)
		release()
	case ctx.Err() != nil:
		// Stopped: the ranges stay to do for the next run.
		if j.small {
			ts.small = true
			for _, r := range j.ranges {
				for i, rs := range ts.ks.ReplicaSets {
					if slices.ContainsFunc(rs.Ranges, func(x TokenRange) bool { return x.Start == r.Start && x.End == r.End }) {
						ts.todo[i] = append(ts.todo[i], r)
					}
				}
			}
		} else {
			ts.todo[j.rs] = append(j.ranges, ts.todo[j.rs]...)
		}
		release()
	default:
		e.mu.Unlock()
		dropped := e.tableDropped(context.WithoutCancel(ctx), ts)
		why := e.whyFailed(context.WithoutCancel(ctx), j, status, err)
		e.mu.Lock()
		if dropped {
			e.log.Info("repair: table dropped, counted as done", "table", ts.name())
			ts.dropped = true
			e.doneRangesLocked(j)
			release()
			e.mu.Unlock()
			e.rec.jobDone(context.WithoutCancel(ctx), j, start, end, "")
			e.mu.Lock()
			return
		}
		e.failLocked(j, why)
		release()
		e.mu.Unlock()
		e.rec.jobDone(context.WithoutCancel(ctx), j, start, end, why)
		e.mu.Lock()
		if e.props.FailFast {
			e.stopGen = true
		}
	}
}

// releaseLocked marks j's replica sets (all of them for a small-table
// job) as no longer in flight.
func (e *executor) releaseLocked(j *job) {
	if j.small {
		for r := range j.ts.inflight {
			j.ts.inflight[r] = false
		}
		return
	}
	j.ts.inflight[j.rs] = false
}

func (e *executor) doneRangesLocked(j *job) {
	for _, h := range j.hosts {
		e.hostLeft[h] -= len(j.ranges)
	}
}

func (e *executor) failLocked(j *job, why string) {
	e.doneRangesLocked(j)
	e.failures = append(e.failures, fmt.Sprintf("%s on %s (%d ranges): %s", j.ts.name(), strings.Join(j.hosts, ","), len(j.ranges), why))
}

var errTimedOut = errors.New("repair: job timed out")

// call sends repair_async and waits for its status, aborting it on the
// coordinator when it times out.
func (e *executor) call(ctx context.Context, j *job) (string, error) {
	o := agentclient.RepairOptions{Tables: []string{j.ts.t.Table}}
	if j.small {
		o.SmallTableOptimization = true
	} else {
		for _, r := range j.ranges {
			o.Ranges = append(o.Ranges, fmt.Sprintf("%d:%d", r.Start, r.End))
		}
		o.Hosts = j.hosts
		o.RangesParallelism = j.intensity
	}
	id, err := e.client.RepairAsync(ctx, j.coordinator, j.ts.ks.Keyspace, o)
	if err != nil {
		return "", err
	}
	tctx, cancel := context.WithTimeout(ctx, e.jobTimeout(j))
	defer cancel()
	st, err := e.client.RepairStatus(tctx, j.coordinator, id, 0)
	if err != nil && tctx.Err() != nil && ctx.Err() == nil {
		e.mu.Lock()
		j.l.aborted = true
		e.mu.Unlock()
		if aerr := e.abort(ctx, j.coordinator); aerr != nil {
			e.log.Warn("repair: abort timed-out job", "host", j.coordinator, "err", aerr)
		}
		// The nodes are released only once the aborted job has ended.
		actx, cancel := context.WithTimeout(ctx, e.s.opts.GracefulStopTimeout)
		defer cancel()
		if st, err := e.client.RepairStatus(actx, j.coordinator, id, 0); err != nil || st == agentclient.RepairRunning {
			e.log.Warn("repair: aborted job did not end", "host", j.coordinator, "status", st, "err", err)
		}
		return "", errTimedOut
	}
	return st, err
}

// tableDropped tells whether the job's table is gone.
func (e *executor) tableDropped(ctx context.Context, ts *tableState) bool {
	for _, h := range e.plan.Hosts {
		names, err := e.client.TableNames(ctx, h)
		if err != nil {
			continue
		}
		return !slices.Contains(names, agentclient.TableName{Keyspace: ts.ks.Keyspace, Table: ts.t.Table})
	}
	return false
}

// whyFailed names the hosts of j that are down, if any.
func (e *executor) whyFailed(ctx context.Context, j *job, status string, err error) string {
	var down []string
	for _, h := range j.hosts {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if perr := e.client.Ping(pctx, h); perr != nil {
			down = append(down, h)
		}
		cancel()
	}
	e.mu.Lock()
	for _, h := range j.hosts {
		if e.downHosts[h] && !slices.Contains(down, h) {
			down = append(down, h)
		}
	}
	e.mu.Unlock()
	why := "repair status " + status
	if err != nil {
		why = err.Error()
	}
	if len(down) > 0 {
		why += "; host " + strings.Join(down, ", ") + " is down"
	}
	return why
}

// monitor reads the back-pressure signals every BackPressureCheck.
func (e *executor) monitor(ctx context.Context) {
	t := time.NewTicker(e.s.opts.BackPressureCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		e.checkSignals(ctx)
		e.poke()
	}
}

// checkSignals pings every plan host and reads its pending compactions;
// a host with a bad signal is held (no new job). A host whose ping fails
// longer than DownWait is down: the ranges left on it fail.
func (e *executor) checkSignals(ctx context.Context) {
	type sig struct {
		host, reason string
		down         bool
	}
	out := make([]sig, len(e.plan.Hosts))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(discoverParallelism)
	for i, h := range e.plan.Hosts {
		g.Go(func() error {
			out[i].host = h
			pctx, cancel := context.WithTimeout(gctx, 10*time.Second)
			defer cancel()
			if err := e.client.Ping(pctx, h); err != nil {
				out[i].reason, out[i].down = "ping failed: "+err.Error(), true
				return nil
			}
			if e.s.opts.PendingCompactions < 0 {
				return nil
			}
			var n int
			if err := e.client.Raw(pctx, h, "GET", "/compaction_manager/metrics/pending_tasks", nil, nil, &n); err == nil && n > e.s.opts.PendingCompactions {
				out[i].reason = fmt.Sprintf("%d pending compactions (threshold %d)", n, e.s.opts.PendingCompactions)
			}
			return nil
		})
	}
	_ = g.Wait()
	if ctx.Err() != nil {
		return
	}
	now := e.s.opts.Now()
	var failed []*job
	e.mu.Lock()
	changed := false
	for _, s := range out {
		old, was := e.held[s.host]
		switch {
		case s.reason == "" && was:
			delete(e.held, s.host)
			changed = true
		case s.reason != "" && (!was || old.reason != s.reason):
			since := now
			if was && old.down == s.down {
				since = old.since
			}
			e.held[s.host] = hold{since: since, reason: s.reason, down: s.down}
			changed = true
		}
		if h, ok := e.held[s.host]; ok && h.down && now.Sub(h.since) >= e.s.opts.DownWait && !e.downHosts[s.host] {
			e.downHosts[s.host] = true
			failed = append(failed, e.failHostLocked(s.host)...)
		}
	}
	waiting := e.waitingLocked()
	e.mu.Unlock()
	for _, j := range failed {
		e.rec.jobDone(ctx, j, now, now, j.why)
	}
	if changed {
		e.rec.waiting(ctx, waiting)
	}
}

// failHostLocked fails the ranges left of every replica set of host.
func (e *executor) failHostLocked(host string) []*job {
	var out []*job
	for _, ts := range e.tables {
		for r, rs := range ts.ks.ReplicaSets {
			if len(ts.todo[r]) == 0 || ts.inflight[r] || !slices.Contains(rs.Hosts, host) {
				continue
			}
			j := &job{ts: ts, rs: r, hosts: rs.Hosts, coordinator: rs.Coordinator, ranges: ts.todo[r], why: "host " + host + " is down"}
			ts.todo[r] = nil
			ts.small = false
			e.failLocked(j, "host "+host+" is down")
			out = append(out, j)
		}
	}
	return out
}

// waitingLocked renders the held hosts, "NODE: WHY".
func (e *executor) waitingLocked() []string {
	var out []string
	for h, x := range e.held {
		out = append(out, h+": "+x.reason)
	}
	sort.Strings(out)
	return out
}
