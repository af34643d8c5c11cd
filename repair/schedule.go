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
	// Jobs is the number of repair_async calls.
	Jobs int
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

// SimulateSchedule runs the executor's controller (the job choice, the
// controller rule, intensity, parallel and batching of opts and props)
// on plan in virtual time: every job succeeds and lasts its waves of
// ranges_parallelism ranges × perRange, as the simulated nodes of
// scyllatest model it, with no call, store or scheduling overhead. It
// shows the schedule the controller makes, independent of the load of
// the machine it runs on.
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
	var now time.Duration
	q := &jobQueue{}
	for {
		for e.roomLocked() {
			j := e.nextJobLocked()
			if j == nil {
				break
			}
			e.takeLocked(j)
			res.Jobs++
			heap.Push(q, simJob{end: now + time.Duration(j.waves())*perRange, j: j})
		}
		if q.Len() == 0 {
			break
		}
		x := heap.Pop(q).(simJob)
		d := time.Duration(x.j.waves()) * perRange
		now = x.end
		e.giveLocked(x.j)
		for _, h := range x.j.hosts {
			res.Busy[h] += d
		}
		e.doneRangesLocked(x.j)
		e.releaseLocked(x.j)
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
