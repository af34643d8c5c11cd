package repair

import (
	"container/heap"
	"log/slog"
	"time"

	"github.com/google/uuid"
)

// ScheduleResult is the outcome of SimulateSchedule.
type ScheduleResult struct {
	// Makespan is the virtual time from the first job's start to the last
	// job's end.
	Makespan time.Duration
	// Jobs is the number of jobs (hosts held together), Calls the number
	// of repair_async calls they made.
	Jobs, Calls int
	// MultiTableJobs counts the jobs whose calls repaired more than one
	// table (their slots filled across tables).
	MultiTableJobs int
	// MaxJobsPerHost is the most jobs any host was in at once: 1 under
	// the controller rule, more with Options.ShareSlots.
	MaxJobsPerHost int
	// MaxRangesPerHost is the most ranges any host repaired at once (the
	// sum of the ranges_parallelism of its calls): at most its slots.
	MaxRangesPerHost int
	// LowerBound is the busiest host's ranges divided by its slots (its
	// max intensity, HostIntensity), times the cost per range: no
	// schedule can end sooner.
	LowerBound time.Duration
	// Busy is, per host, the virtual time it spent in jobs.
	Busy map[string]time.Duration
	// SlotUse is, per host, the fraction of its slot-time (slots ×
	// makespan) that repaired ranges.
	SlotUse map[string]float64
}

// SimulateSchedule runs the executor's controller (the job choice and
// filling, the controller rule, intensity, parallel and batching of opts
// and props) on plan in virtual time: every call succeeds and lasts its
// waves of ranges_parallelism ranges × perRange, as the simulated nodes
// of scyllatest model it, with no call, store or scheduling overhead; a
// job's hosts are free again when its last call ends. It shows the
// schedule the controller makes, independent of the load of the machine
// it runs on.
func SimulateSchedule(plan *Plan, props Properties, opts Options, perRange time.Duration) ScheduleResult {
	s := &Service{opts: opts.withDefaults(), log: slog.New(slog.DiscardHandler)}
	e := newExecutor(s, uuid.Nil, nil, plan, props, nil, nil)
	res := ScheduleResult{Busy: map[string]time.Duration{}, SlotUse: map[string]float64{}}
	work := map[string]int{}
	for h, n := range e.hostLeft {
		work[h] = n
		if slots := max(plan.HostIntensity[h], 1); time.Duration(n)*perRange/time.Duration(slots) > res.LowerBound {
			res.LowerBound = time.Duration(n) * perRange / time.Duration(slots)
		}
	}
	inJobs, inRanges := map[string]int{}, map[string]int{}
	var now time.Duration
	q := &jobQueue{}
	for {
		for e.roomLocked() {
			l := e.nextJobLocked()
			if l == nil {
				break
			}
			e.takeLocked(l)
			l.start = now
			res.Jobs++
			res.Calls += len(l.calls)
			if l.tables() > 1 {
				res.MultiTableJobs++
			}
			for _, h := range l.hosts {
				inJobs[h]++
				res.MaxJobsPerHost = max(res.MaxJobsPerHost, inJobs[h])
			}
			for _, j := range l.calls {
				for _, h := range j.hosts {
					inRanges[h] += max(j.intensity, 1)
					res.MaxRangesPerHost = max(res.MaxRangesPerHost, inRanges[h])
				}
				heap.Push(q, simJob{end: now + time.Duration(j.waves())*perRange, j: j})
			}
		}
		if q.Len() == 0 {
			break
		}
		// Every call ending now, before the controller picks again.
		now = (*q)[0].end
		for q.Len() > 0 && (*q)[0].end == now {
			j := heap.Pop(q).(simJob).j
			for _, h := range j.hosts {
				inRanges[h] -= max(j.intensity, 1)
			}
			e.doneRangesLocked(j)
			e.releaseLocked(j)
			if e.callEndedLocked(j) {
				for _, h := range j.l.hosts {
					res.Busy[h] += now - j.l.start
					inJobs[h]--
				}
			}
		}
	}
	res.Makespan = now
	for h, n := range work {
		if now > 0 {
			res.SlotUse[h] = float64(time.Duration(n)*perRange) / float64(now*time.Duration(max(plan.HostIntensity[h], 1)))
		}
	}
	return res
}

type simJob struct {
	end time.Duration
	j   *job
}

// jobQueue orders running jobs by end time.
type jobQueue []simJob

func (q jobQueue) Len() int           { return len(q) }
func (q jobQueue) Less(i, j int) bool { return q[i].end < q[j].end }
func (q jobQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *jobQueue) Push(x any)        { *q = append(*q, x.(simJob)) }
func (q *jobQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}
