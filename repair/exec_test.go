package repair_test

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/repair"
	"github.com/scyllaops/scyllaops/scyllatest"
)

func twoDCs() scyllatest.Options {
	return scyllatest.Options{
		Topology: []scyllatest.DC{{Name: "dc1", Racks: []scyllatest.Rack{{Name: "r1", Nodes: 3}}}, {Name: "dc2", Racks: []scyllatest.Rack{{Name: "r1", Nodes: 3}}}},
		Keyspaces: []scyllatest.Keyspace{
			{Name: "ks", Replication: scyllatest.Replication{Strategy: scyllatest.NetworkTopologyStrategy, DCRF: map[string]int{"dc1": 2, "dc2": 2}}, Tables: []scyllatest.Table{{Name: "a", SSTables: 1}, {Name: "b", SSTables: 2}}},
			{Name: "ks2", Replication: scyllatest.Simple(2), Tables: []scyllatest.Table{{Name: "c", SSTables: 1}}},
		},
	}
}

// checkCoverage asserts that every range of every table of kss was
// repaired exactly once, by a call whose hosts are the range's replicas,
// and the controller rule.
func checkCoverage(t *testing.T, e *env, kss map[string][]string) {
	t.Helper()
	checkRanges(t, e, kss)
	checkOneJobPerNode(t, e.c.RepairJobs())
}

// checkOneJobPerNode asserts the controller rule, no node in two jobs at
// once, on the repair_async calls the nodes saw: a job holds its hosts
// (one replica set) and may run several calls at once on its
// coordinator, one per table, so calls that overlap in time and share a
// host must be calls of one job: the same hosts, the same coordinator
// and other tables.
func checkOneJobPerNode(t *testing.T, calls []scyllatest.RepairJob) {
	t.Helper()
	for i, a := range calls {
		for _, b := range calls[i+1:] {
			if !a.End.After(b.Start) || !b.End.After(a.Start) {
				continue
			}
			for _, h := range a.Participants {
				if !slices.Contains(b.Participants, h) {
					continue
				}
				if !slices.Equal(a.Participants, b.Participants) || a.Coordinator != b.Coordinator || a.SmallTable || b.SmallTable {
					t.Errorf("host %s in jobs %d (hosts %v on %s) and %d (hosts %v on %s) at once", h, a.ID, a.Participants, a.Coordinator, b.ID, b.Participants, b.Coordinator)
				} else if a.Keyspace == b.Keyspace && slices.Equal(a.Tables, b.Tables) {
					t.Errorf("table %s.%v in calls %d and %d of one job at once", a.Keyspace, a.Tables, a.ID, b.ID)
				}
				break
			}
		}
	}
}

// checkRanges asserts that every range of every table of kss was
// repaired exactly once, by a call whose hosts are the range's replicas.
func checkRanges(t *testing.T, e *env, kss map[string][]string) {
	t.Helper()
	count := e.repairedCount()
	for ks, tables := range kss {
		pieces := e.ringPieces(ks)
		for _, tb := range tables {
			for rg, reps := range pieces {
				if n := count[rangeKey{ks + "." + tb, rg[0], rg[1]}]; n != 1 {
					t.Errorf("%s.%s range %v repaired %d times, want 1", ks, tb, rg, n)
				}
				_ = reps
			}
		}
	}
	for _, r := range e.c.RepairedRanges() {
		want := e.ringPieces(r.Keyspace)[[2]int64{r.Start, r.End}]
		got := append([]string(nil), r.Hosts...)
		sort.Strings(got)
		if !slices.Equal(want, got) {
			t.Errorf("%s range %d:%d repaired with hosts %v, want its replicas %v", r.Keyspace, r.Start, r.End, got, want)
		}
	}
}

// runThreeTables repairs keyspace ks (tables a, b and c, RF 3) of 6
// simulated nodes × 16 tokens with 8 slots each at the maximal intensity,
// with opts, and returns the env, the run's target and the run's ID.
func runThreeTables(t *testing.T, opts repair.Options) (*env, *repair.TargetInfo, uuid.UUID) {
	t.Helper()
	so := scyllatest.Options{Topology: scyllatest.Topology3(6), TokensPerNode: 16, Memory: 20 << 30, RepairRangeDelay: 2 * time.Millisecond,
		Keyspaces: []scyllatest.Keyspace{{Name: "ks", Replication: scyllatest.Simple(3),
			Tables: []scyllatest.Table{{Name: "a", SSTables: 1}, {Name: "b", SSTables: 1}, {Name: "c", SSTables: 1}}}}}
	e := newEnv(t, so, opts)
	props := `{"keyspace":["ks"],"small_table_threshold":"1B","intensity":0}`
	ti, err := e.svc.GetTarget(t.Context(), e.clusterID, []byte(props))
	if err != nil {
		t.Fatal(err)
	}
	run := e.newRun()
	if err := e.run(t.Context(), run, props); err != nil {
		t.Fatal(err)
	}
	return e, ti, run
}

// TestShareSlots: with Options.ShareSlots a node takes part in several
// jobs at once, but the ranges_parallelism of the jobs it is in never
// sums above its max intensity (its slots); every range of every table
// is still repaired exactly once on its replicas.
func TestShareSlots(t *testing.T) {
	e, ti, run := runThreeTables(t, repair.Options{ShareSlots: true})
	checkRanges(t, e, map[string][]string{"ks": {"a", "b", "c"}})
	jobs := e.c.RepairJobs()
	shared := false
	for _, a := range jobs {
		// The slots in use on each host of a when it started.
		for _, h := range a.Participants {
			use := 0
			for _, b := range jobs {
				if !b.Start.After(a.Start) && b.End.After(a.Start) && slices.Contains(b.Participants, h) {
					use += b.Parallelism
					if b.ID != a.ID {
						shared = true
					}
				}
			}
			if slots := ti.Plan.HostIntensity[h]; use > slots {
				t.Errorf("host %s repairs %d ranges at once when job %d starts, more than its %d slots", h, use, a.ID, slots)
			}
		}
	}
	if !shared {
		t.Error("no host was in two jobs at once")
	}
	if p := e.progress(run); p.SuccessPercentage != 100 {
		t.Errorf("progress %d%%", p.SuccessPercentage)
	}
}

func TestRepairCoversEveryRangeOnce(t *testing.T) {
	e := newEnv(t, twoDCs(), repair.Options{})
	run := e.newRun()
	if err := e.run(t.Context(), run, `{"keyspace":["ks","ks2"],"small_table_threshold":"1B","intensity":2}`); err != nil {
		t.Fatal(err)
	}
	checkCoverage(t, e, map[string][]string{"ks": {"a", "b"}, "ks2": {"c"}})
	p := e.progress(run)
	if p.SuccessPercentage != 100 || p.Error != 0 || p.CompletedAt == nil {
		t.Errorf("progress %d%% success, %d errors, completed %v", p.SuccessPercentage, p.Error, p.CompletedAt)
	}
	if len(p.Hosts) != 6 || len(p.Tables) != 3 {
		t.Errorf("progress has %d hosts and %d tables, want 6 and 3", len(p.Hosts), len(p.Tables))
	}
	for _, j := range e.c.RepairJobs() {
		if j.Parallelism > 2 {
			t.Errorf("job %d ranges_parallelism %d, want <= intensity 2", j.ID, j.Parallelism)
		}
	}
}

func TestSmallTablesOneJob(t *testing.T) {
	e := newEnv(t, scyllatest.Options{}, repair.Options{})
	run := e.newRun()
	if err := e.run(t.Context(), run, `{"keyspace":["ks"]}`); err != nil {
		t.Fatal(err)
	}
	jobs := e.c.RepairJobs()
	if len(jobs) != 1 || !jobs[0].SmallTable {
		t.Fatalf("jobs %+v, want one small-table job", jobs)
	}
	if p := e.progress(run); p.SuccessPercentage != 100 {
		t.Errorf("progress %d%%", p.SuccessPercentage)
	}
}

func TestNodeDownMidRepairThenContinue(t *testing.T) {
	so := twoDCs()
	so.RepairRangeDelay = 20 * time.Millisecond
	e := newEnv(t, so, repair.Options{DownWait: 50 * time.Millisecond})
	victim := e.c.Nodes()[4]
	run := e.newRun()
	ctx := t.Context()
	errc := make(chan error, 1)
	props := `{"keyspace":["ks"],"small_table_threshold":"1B","intensity":1}`
	go func() { errc <- e.run(ctx, run, props) }()
	waitFor(t, "some ranges repaired", func() bool { return len(e.c.RepairedRanges()) >= 3 })
	if err := e.c.Stop(victim); err != nil {
		t.Fatal(err)
	}
	err := <-errc
	if err == nil || !strings.Contains(err.Error(), victim.IP) {
		t.Fatalf("run error %v, want one naming %s", err, victim.IP)
	}
	p := e.progress(run)
	if p.Error == 0 || p.Success == 0 {
		t.Fatalf("progress success %d error %d, want both > 0", p.Success, p.Error)
	}
	// Only ranges of the victim failed.
	for _, h := range p.Hosts {
		var errs int64
		for _, tb := range h.Tables {
			errs += tb.Error
		}
		if h.Host == victim.IP && errs == 0 {
			t.Errorf("victim %s has no failed ranges", h.Host)
		}
	}
	pieces := e.ringPieces("ks")
	failedOthers := 0
	for rg, reps := range pieces {
		if !slices.Contains(reps, victim.IP) {
			for _, tb := range []string{"a", "b"} {
				if e.repairedCount()[rangeKey{"ks." + tb, rg[0], rg[1]}] != 1 {
					failedOthers++
				}
			}
		}
	}
	if failedOthers > 0 {
		t.Errorf("%d ranges without the victim were not repaired", failedOthers)
	}
	before := len(e.c.RepairedRanges())

	// The node is back: a new run continues and repairs only what is left.
	if err := e.c.Start(victim); err != nil {
		t.Fatal(err)
	}
	run2 := e.newRun()
	if err := e.run(ctx, run2, props); err != nil {
		t.Fatal(err)
	}
	if after := len(e.c.RepairedRanges()); after-before != 2*len(pieces)-before {
		t.Errorf("continue repaired %d ranges, want the %d left", after-before, 2*len(pieces)-before)
	}
	checkCoverage(t, e, map[string][]string{"ks": {"a", "b"}})
	if p := e.progress(run2); p.SuccessPercentage != 100 {
		t.Errorf("continued run at %d%%", p.SuccessPercentage)
	}
}

var errWindow = errors.New("maintenance window ended")

func TestWindowEndPausesAndNextWindowContinues(t *testing.T) {
	so := twoDCs()
	so.RepairRangeDelay = 10 * time.Millisecond
	e := newEnv(t, so, repair.Options{GracefulStopTimeout: 5 * time.Second})
	run := e.newRun()
	props := `{"keyspace":["ks"],"small_table_threshold":"1B","intensity":1,"parallel":1}`
	ctx, cancel := context.WithCancelCause(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- e.svc.Run(ctx, e.clusterID, e.taskID, run, []byte(props)) }()
	waitFor(t, "some ranges repaired", func() bool { return len(e.c.RepairedRanges()) >= 4 })
	cancel(errWindow)
	if err := <-errc; !errors.Is(err, errWindow) {
		t.Fatalf("run ended with %v, want the window cause", err)
	}
	// Graceful: the running job finished, nothing is left on the nodes.
	for _, j := range e.c.RepairJobs() {
		if j.Status == "RUNNING" {
			t.Errorf("job %d still running after the stop", j.ID)
		}
	}
	before := len(e.c.RepairedRanges())
	p := e.progress(run)
	if p.Success != int64(before) {
		t.Errorf("progress counts %d ranges, the nodes repaired %d", p.Success, before)
	}
	// The next window continues the same run.
	if err := e.run(t.Context(), run, props); err != nil {
		t.Fatal(err)
	}
	checkCoverage(t, e, map[string][]string{"ks": {"a", "b"}})
	if p := e.progress(run); p.SuccessPercentage != 100 {
		t.Errorf("run at %d%% after the second window", p.SuccessPercentage)
	}
}

func TestHungJobAbortedAndRetried(t *testing.T) {
	e := newEnv(t, scyllatest.Options{TokensPerNode: 4}, repair.Options{JobTimeout: 300 * time.Millisecond})
	n := e.c.Nodes()[1]
	e.c.SetRepairFault(n, scyllatest.RepairFault{Hang: true})
	run := e.newRun()
	errc := make(chan error, 1)
	go func() { errc <- e.run(t.Context(), run, `{"keyspace":["ks"],"small_table_threshold":"1B"}`) }()
	// Wait for the first job to be aborted (FAILED by the abort), then heal.
	waitFor(t, "a job aborted", func() bool {
		for _, j := range e.c.RepairJobs() {
			if j.Status == "FAILED" {
				return true
			}
		}
		return false
	})
	e.c.SetRepairFault(n, scyllatest.RepairFault{})
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	jobs := e.c.RepairJobs()
	if len(jobs) < 2 || jobs[0].Status != "FAILED" || jobs[len(jobs)-1].Status != "SUCCESSFUL" {
		t.Errorf("jobs %+v, want an aborted job then a successful retry", jobs)
	}
	checkCoverage(t, e, map[string][]string{"ks": {"t"}})
}

func TestBackPressureHoldsBusyNode(t *testing.T) {
	so := twoDCs()
	e := newEnv(t, so, repair.Options{PendingCompactions: 10})
	busy := e.c.Nodes()[0]
	e.c.SetPendingCompactions(busy, 50)
	run := e.newRun()
	errc := make(chan error, 1)
	go func() { errc <- e.run(t.Context(), run, `{"keyspace":["ks"],"small_table_threshold":"1B"}`) }()
	var waiting []string
	waitFor(t, "progress waiting for the busy node", func() bool {
		p := e.progress(run)
		waiting = p.Waiting
		return len(waiting) == 1
	})
	if !strings.HasPrefix(waiting[0], busy.IP+": 50 pending compactions") {
		t.Errorf("waiting %q, want %q: ...", waiting, busy.IP)
	}
	// Every range without the busy node gets repaired; none with it.
	pieces := e.ringPieces("ks")
	without := 0
	for _, reps := range pieces {
		if !slices.Contains(reps, busy.IP) {
			without += 2
		}
	}
	waitFor(t, "the ranges without the busy node", func() bool { return len(e.c.RepairedRanges()) >= without })
	for _, j := range e.c.RepairJobs() {
		if slices.Contains(j.Participants, busy.IP) {
			t.Fatalf("job %d started on the held node %s", j.ID, busy.IP)
		}
	}
	e.c.SetPendingCompactions(busy, 0)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	checkCoverage(t, e, map[string][]string{"ks": {"a", "b"}})
	if p := e.progress(run); len(p.Waiting) != 0 {
		t.Errorf("still waiting %v at the end", p.Waiting)
	}
}

func TestLiveIntensityAndParallel(t *testing.T) {
	// 6 nodes RF 2: max_parallel 3; 16 GiB / 2 shards: max intensity 6.
	so := scyllatest.Options{Topology: scyllatest.Topology3(6), Memory: 16 << 30, RepairRangeDelay: 20 * time.Millisecond,
		Keyspaces: []scyllatest.Keyspace{{Name: "ks", Replication: scyllatest.Simple(2), Tables: []scyllatest.Table{{Name: "a", SSTables: 1}}}}}
	e := newEnv(t, so, repair.Options{NoBatching: true})
	run := e.newRun()
	errc := make(chan error, 1)
	go func() {
		errc <- e.run(t.Context(), run, `{"keyspace":["ks"],"small_table_threshold":"1B","intensity":1,"parallel":1}`)
	}()
	waitFor(t, "a first job", func() bool { return len(e.c.RepairJobs()) >= 1 })
	if err := e.svc.SetIntensity(t.Context(), e.clusterID, 2); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SetParallel(t.Context(), e.clusterID, 2); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SetParallel(t.Context(), e.clusterID, -1); err == nil {
		t.Error("negative parallel accepted")
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	jobs := e.c.RepairJobs()
	if jobs[0].Parallelism != 1 || jobs[0].Ranges != 1 {
		t.Errorf("first job %+v, want intensity 1", jobs[0])
	}
	two, overlap := false, false
	for i, j := range jobs {
		if j.Ranges == 2 && j.Parallelism == 2 {
			two = true
		}
		for _, k := range jobs[i+1:] {
			if j.End.After(k.Start) && k.End.After(j.Start) {
				overlap = true
			}
		}
	}
	if !two {
		t.Error("no job with the new intensity 2")
	}
	if !overlap {
		t.Error("no two jobs at once after parallel 2")
	}
	if p := e.progress(run); p.Intensity != 2 || p.Parallel != 2 {
		t.Errorf("progress intensity %v parallel %d, want 2 and 2", p.Intensity, p.Parallel)
	}
	if err := e.svc.SetIntensity(t.Context(), e.clusterID, 1); !errors.Is(err, repair.ErrNotRunning) {
		t.Errorf("SetIntensity with no repair: %v", err)
	}
}

func TestBadProperties(t *testing.T) {
	e := newEnv(t, scyllatest.Options{TokensPerNode: 2}, repair.Options{})
	for props, field := range map[string]string{
		`{"intensity":-1}`:                "intensity",
		`{"parallel":-2}`:                 "parallel",
		`{"small_table_threshold":"big"}`: "small_table_threshold",
		`{"keyspace":["ks["]}`:            "keyspace",
		`{"dc":["dc["]}`:                  "dc",
		`{"keyspace_replication":"x"}`:    "keyspace_replication",
	} {
		if err := e.svc.ValidateProperties([]byte(props)); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: %v, want an error naming %s", props, err, field)
		}
	}
	for props, field := range map[string]string{
		`{"dc":["dc9"]}`:        "dc",
		`{"host":"127.0.9.9"}`:  "host",
		`{"keyspace":["nope"]}`: "keyspace",
	} {
		if err := e.svc.ValidateTarget(t.Context(), e.clusterID, []byte(props)); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: %v, want an error naming %s", props, err, field)
		}
	}
	if err := e.svc.ValidateTarget(t.Context(), e.clusterID, []byte(`{"keyspace":["nope"],"allow_empty":true}`)); err != nil {
		t.Errorf("allow_empty: %v", err)
	}
	tgt, err := e.svc.GetTarget(t.Context(), e.clusterID, []byte(`{"keyspace":["ks"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(tgt.Units) != 1 || tgt.Units[0].Keyspace != "ks" || !tgt.Units[0].AllTables || len(tgt.WithHosts) != 3 {
		t.Errorf("target %+v", tgt)
	}
}

// TestJobFillsSlotsAcrossTables: under the default controller a node is
// in one job at a time, and a job runs several calls at once on its
// coordinator — one per table, on the same replica set — whose
// ranges_parallelism fill its hosts' slots without going over; every
// range of every table is still repaired exactly once on its replicas.
func TestJobFillsSlotsAcrossTables(t *testing.T) {
	e, ti, run := runThreeTables(t, repair.Options{})
	checkCoverage(t, e, map[string][]string{"ks": {"a", "b", "c"}})
	calls := e.c.RepairJobs()
	spanning, full := false, false
	for _, a := range calls {
		// The calls running on each host of a when it started.
		for _, h := range a.Participants {
			use, tables := 0, map[string]bool{}
			for _, b := range calls {
				if !b.Start.After(a.Start) && b.End.After(a.Start) && slices.Contains(b.Participants, h) {
					use += b.Parallelism
					tables[b.Tables[0]] = true
				}
			}
			slots := ti.Plan.HostIntensity[h]
			if use > slots {
				t.Errorf("host %s repairs %d ranges at once when call %d starts, more than its %d slots", h, use, a.ID, slots)
			}
			spanning = spanning || len(tables) > 1
			full = full || (len(tables) > 1 && use == slots)
		}
	}
	if !spanning || !full {
		t.Errorf("calls of one job on several tables at once: %v; filling all the slots: %v", spanning, full)
	}
	if p := e.progress(run); p.SuccessPercentage != 100 || p.Error != 0 {
		t.Errorf("progress %d%%, %d errors", p.SuccessPercentage, p.Error)
	}
}

// TestHungCallOfJobAbortedAndRetried: a job runs several calls at once on
// its coordinator; when one hangs past the job timeout the coordinator's
// repairs are aborted — its siblings with it — and all of their ranges
// are repaired later, each exactly once.
func TestHungCallOfJobAbortedAndRetried(t *testing.T) {
	so := scyllatest.Options{Topology: scyllatest.Topology3(3), TokensPerNode: 4, Memory: 20 << 30,
		Keyspaces: []scyllatest.Keyspace{{Name: "ks", Replication: scyllatest.Simple(3),
			Tables: []scyllatest.Table{{Name: "a", SSTables: 1}, {Name: "b", SSTables: 1}, {Name: "c", SSTables: 1}}}}}
	e := newEnv(t, so, repair.Options{JobTimeout: 300 * time.Millisecond})
	n := e.c.Nodes()[1]
	e.c.SetRepairFault(n, scyllatest.RepairFault{Hang: true})
	run := e.newRun()
	errc := make(chan error, 1)
	go func() {
		errc <- e.run(t.Context(), run, `{"keyspace":["ks"],"small_table_threshold":"1B","intensity":0}`)
	}()
	// Wait for the calls of the first job to be aborted, then heal.
	waitFor(t, "a job's calls aborted", func() bool {
		failed := 0
		for _, j := range e.c.RepairJobs() {
			if j.Status == "FAILED" {
				failed++
			}
		}
		return failed >= 2
	})
	e.c.SetRepairFault(n, scyllatest.RepairFault{})
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	calls := e.c.RepairJobs()
	first := calls[0]
	var siblings int
	for _, c := range calls {
		if c.Start.Before(first.End) && c.Status == "FAILED" {
			siblings++
		}
	}
	if siblings < 2 {
		t.Errorf("calls %+v, want the first job's calls (several tables) aborted together", calls)
	}
	checkCoverage(t, e, map[string][]string{"ks": {"a", "b", "c"}})
	if p := e.progress(run); p.SuccessPercentage != 100 || p.Error != 0 {
		t.Errorf("progress %d%%, %d errors", p.SuccessPercentage, p.Error)
	}
}
