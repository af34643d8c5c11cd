package repair

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
)

// onePlan is one replica set of 3 hosts with 8 slots and 14 ranges, for
// tables in this order.
func onePlan(tables ...TablePlan) *Plan {
	hosts := []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}
	rs := ReplicaSet{Hosts: hosts, Coordinator: hosts[0], MaxIntensity: 8}
	for i := range 14 {
		rs.Ranges = append(rs.Ranges, TokenRange{Start: int64(i * 10), End: int64(i*10 + 10), Replicas: hosts})
	}
	return &Plan{Hosts: hosts, MaxParallel: 1, MaxIntensity: 8, HostIntensity: map[string]int{hosts[0]: 8, hosts[1]: 8, hosts[2]: 8},
		Keyspaces: []KeyspacePlan{{Keyspace: "ks", ReplicaSets: []ReplicaSet{rs}, Ranges: 14, Tables: tables}}}
}

// callShapes renders l's calls as "table:ranges/ranges_parallelism".
func callShapes(l *lease) []string {
	var out []string
	for _, c := range l.calls {
		out = append(out, fmt.Sprintf("%s:%d/%d", c.ts.t.Table, len(c.ranges), c.intensity))
	}
	return out
}

// TestJobFillsWavesAcrossTables: a job holds its replica set and fills its
// 8 slots for its whole length with calls on later tables of the
// keyspace, in plan order, a view only once its base table has nothing
// left or running; its hosts are free again only when its last call has
// ended.
func TestJobFillsWavesAcrossTables(t *testing.T) {
	p := onePlan(TablePlan{Table: "a"}, TablePlan{Table: "a_by_x", View: true, BaseTable: "a"}, TablePlan{Table: "b"})
	zero := 0.0
	s := &Service{opts: Options{}.withDefaults(), log: slog.New(slog.DiscardHandler)}
	e := newExecutor(s, uuid.Nil, nil, p, Properties{Intensity: &zero}, nil, nil)
	// Each job: the calls it starts with, all ending after the same waves.
	want := [][]string{
		{"a:14/7", "b:2/1"},      // a in 2 waves on 7 slots; the 8th slot: 2 ranges of b (the view waits for a)
		{"a_by_x:14/7", "b:2/1"}, // a done: its view
		{"b:10/5"},               // nothing left to fill with
	}
	for i, w := range want {
		l := e.nextJobLocked()
		if l == nil {
			t.Fatalf("job %d: none", i)
		}
		if got := callShapes(l); fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("job %d: calls %v, want %v", i, got, w)
		}
		sum := 0
		for _, c := range l.calls {
			sum += c.intensity
			if c.waves() != l.calls[0].waves() {
				t.Errorf("job %d: call %s in %d waves, the first in %d", i, c.ts.t.Table, c.waves(), l.calls[0].waves())
			}
		}
		if sum > 8 {
			t.Errorf("job %d: ranges_parallelism sums to %d, more than the 8 slots", i, sum)
		}
		e.takeLocked(l)
		if x := e.nextJobLocked(); x != nil {
			t.Fatalf("job %d: second job %v while the replica set is held", i, callShapes(x))
		}
		for k, c := range l.calls {
			e.doneRangesLocked(c)
			e.releaseLocked(c)
			if last := e.callEndedLocked(c); last != (k == len(l.calls)-1) {
				t.Errorf("job %d: call %d of %d ended, hosts given back %v", i, k+1, len(l.calls), last)
			}
		}
	}
	if l := e.nextJobLocked(); l != nil || e.leftLocked() {
		t.Errorf("ranges left after the jobs: next %v", l)
	}
	for h, n := range e.hostLeft {
		if n != 0 {
			t.Errorf("host %s: %d ranges left", h, n)
		}
	}
	// 42 ranges on 8 slots: 6 waves of 2 ms, against 5.25 for the bound.
	r := SimulateSchedule(p, Properties{Intensity: &zero}, Options{}, 2*time.Millisecond)
	if r.Makespan != 12*time.Millisecond || r.Jobs != 3 || r.Calls != 5 || r.MultiTableJobs != 2 || r.MaxJobsPerHost != 1 || r.MaxRangesPerHost != 8 {
		t.Errorf("simulation %+v, want makespan 12ms, 3 jobs, 5 calls, 2 across tables, 1 job and 8 ranges per host at most", r)
	}
}
