// Command repair benchmarks the repair planner and executor:
//
//	go run ./bench/repair [-runs 3] [-cost 2ms]
//
// (a) plans a repair of 100 nodes × 256 vnodes, RF 3 in each of 2 DCs,
// 1,000 tables (10 keyspaces × 100), and prints the planning time and
// the peak heap in use while planning;
//
// (b) repairs 12 nodes × 256 vnodes × 50 tables on the simulated cluster
// with a fixed cost per range, and prints the makespan against the lower
// bound (the busiest node's ranges / its slots × cost), next to the same
// plan run with one job per node at a time and no batching (Scylla
// Manager's conservative baseline), in the same run.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/internal/ring"
	"github.com/scyllaops/scyllaops/repair"
	"github.com/scyllaops/scyllaops/scyllatest"
	"github.com/scyllaops/scyllaops/store/memstore"
	"github.com/scyllaops/scyllaops/topology"
)

func main() {
	runs := flag.Int("runs", 3, "runs of each measurement (the median is printed)")
	cost := flag.Duration("cost", 2*time.Millisecond, "simulated repair time per token range")
	nodes := flag.Int("nodes", 12, "nodes of the simulated repair")
	tables := flag.Int("tables", 50, "tables of the simulated repair")
	skipPlan := flag.Bool("skip-plan", false, "skip (a)")
	skipExec := flag.Bool("skip-exec", false, "skip (b)")
	live := flag.Bool("live", false, "(b) also on the simulated cluster in wall time (slow; the load of the machine counts)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench/repair: cpuprofile:", err)
			os.Exit(1)
		}
		defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
	}
	if err := run(*skipPlan, *skipExec, *live, *runs, *nodes, *tables, *cost); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "bench/repair:", err)
		os.Exit(1)
	}
}

func run(skipPlan, skipExec, live bool, runs, nodes, tables int, cost time.Duration) error {
	if !skipPlan {
		if err := benchPlan(runs); err != nil {
			return err
		}
	}
	if !skipExec {
		if err := benchExec(runs, nodes, tables, cost); err != nil {
			return err
		}
	}
	if live {
		return benchLive(runs, nodes, tables, cost)
	}
	return nil
}

// view builds the planner's input for nodes per DC in dcs DCs, RF 3 per
// DC, kss keyspaces of tbl tables each.
func view(dcs, perDC, vnodes, kss, tbl int) (*repair.View, error) {
	rnd := rand.New(rand.NewPCG(1, 2))
	taken := map[int64]bool{}
	v := &repair.View{}
	var members []ring.Node
	dcrf := map[string]int{}
	for d := range dcs {
		dc := fmt.Sprintf("dc%d", d+1)
		dcrf[dc] = 3
		v.DCOrder = append(v.DCOrder, dc)
		for i := range perDC {
			ip := fmt.Sprintf("127.%d.%d.%d", d+1, i/250, i%250+1)
			members = append(members, ring.Node{Host: ip, DC: dc, Rack: "r1", Tokens: ring.RandomTokens(rnd, vnodes, taken)})
			v.Nodes = append(v.Nodes, repair.Node{IP: ip, DC: dc, Up: true, Shards: 8, Memory: 64 << 30})
		}
	}
	rg, err := ring.New(members)
	if err != nil {
		return nil, err
	}
	rr, err := rg.Replicas(ring.Replication{Strategy: ring.NetworkTopologyStrategy, DCRF: dcrf}, "")
	if err != nil {
		return nil, err
	}
	ranges := make([]repair.TokenRange, len(rr))
	for i, r := range rr {
		ranges[i] = repair.TokenRange{Start: r.Start, End: r.End, Replicas: r.Replicas}
	}
	for k := range kss {
		ks := repair.Keyspace{Name: fmt.Sprintf("ks%03d", k), Strategy: repair.NetworkTopologyStrategy, DCRF: dcrf, Ranges: ranges}
		for t := range tbl {
			ks.Tables = append(ks.Tables, repair.Table{Name: fmt.Sprintf("t%03d", t), Size: int64(t+1) << 30})
		}
		v.Keyspaces = append(v.Keyspaces, ks)
	}
	return v, nil
}

func benchPlan(runs int) error {
	v, err := view(2, 50, 256, 10, 100)
	if err != nil {
		return err
	}
	var times []time.Duration
	var peaks []uint64
	for range runs {
		runtime.GC()
		base := heapInUse()
		stop := make(chan struct{})
		peakc := make(chan uint64)
		go func() {
			var peak uint64
			t := time.NewTicker(time.Millisecond)
			defer t.Stop()
			for {
				peak = max(peak, heapInUse())
				select {
				case <-stop:
					peakc <- peak
					return
				case <-t.C:
				}
			}
		}()
		start := time.Now()
		p, err := repair.MakePlan(v, repair.Target{SmallTableThreshold: 1})
		d := time.Since(start)
		peak := max(heapInUse(), 0)
		close(stop)
		peak = max(peak, <-peakc)
		if err != nil {
			return err
		}
		if p.Tables() != 1000 {
			return fmt.Errorf("plan has %d tables, want 1000", p.Tables())
		}
		times = append(times, d)
		peaks = append(peaks, peak-min(base, peak))
		runtime.KeepAlive(p)
	}
	fmt.Printf("(a) plan 100 nodes x 256 vnodes, RF 3 in 2 DCs, 1,000 tables: median %v (goal <= 1s), peak heap %.1f MiB above the input (goal <= 256 MiB), %d runs\n",
		median(times).Round(time.Millisecond), float64(medianU(peaks))/(1<<20), runs)
	return nil
}

func heapInUse() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

type resolver struct{ c *scyllatest.Cluster }

func (r resolver) Client(context.Context, uuid.UUID) (*agentclient.Client, string, error) {
	return r.c.Client(), r.c.ContactHost(), nil
}

// benchExec plans the repair of the simulated cluster (discovered
// through its agents, as a Manager would) for rings of runs seeds, and
// runs the executor's controller on each plan in virtual time
// (repair.SimulateSchedule): the makespan of the schedule, free of call
// and machine-load overhead.
func benchExec(runs, nodes, tables int, cost time.Duration) error {
	fmt.Printf("(b) repair %d nodes x 256 vnodes, SimpleStrategy RF 3, %d tables, %v per range, 8 slots per node (virtual time, %d rings)\n",
		nodes, tables, cost, runs)
	for _, mode := range execModes() {
		var ratios []float64
		var spans, lbs []time.Duration
		var jobs, calls []int
		var inJobs []float64
		for seed := range runs {
			p, _, err := execPlan(uint64(seed+1), nodes, tables, 0)
			if err != nil {
				return err
			}
			r := repair.SimulateSchedule(p, mode.props, mode.opts, cost)
			ratios = append(ratios, float64(r.Makespan)/float64(r.LowerBound))
			spans = append(spans, r.Makespan)
			lbs = append(lbs, r.LowerBound)
			jobs = append(jobs, r.Jobs)
			calls = append(calls, r.Calls)
			if max(r.MaxJobsPerHost, 1) > 1 && !mode.opts.ShareSlots {
				return fmt.Errorf("%s: a node in %d jobs at once", mode.name, r.MaxJobsPerHost)
			}
			var busiest time.Duration
			for _, d := range r.Busy {
				busiest = max(busiest, d)
			}
			inJobs = append(inJobs, float64(busiest)/float64(r.LowerBound))
		}
		fmt.Printf("    %-44s makespan median %v, lower bound median %v: median %.3fx (goal <= 1.15x), ratios %s, jobs %v, repair_async calls %v\n",
			mode.name, median(spans), median(lbs), medianF(ratios), fmtRatios(ratios), jobs, calls)
		if !mode.opts.ShareSlots {
			fmt.Printf("    %-44s busiest node's time in jobs: median %.3fx the lower bound (above 1: idle slots inside its jobs), %s\n", "", medianF(inJobs), fmtRatios(inJobs))
		}
	}
	return nil
}

type execMode struct {
	name  string
	opts  repair.Options
	props repair.Properties
}

func execModes() []execMode {
	maxIntensity := 0.0 // as many ranges at once as the nodes allow (8)
	return []execMode{
		{"scyllaops (batching, parallel max)", repair.Options{}, repair.Properties{SmallTableThreshold: 1, Intensity: &maxIntensity}},
		{"scyllaops, ShareSlots", repair.Options{ShareSlots: true}, repair.Properties{SmallTableThreshold: 1, Intensity: &maxIntensity}},
		{"baseline (no batching, 1 job per node)", repair.Options{NoBatching: true}, repair.Properties{SmallTableThreshold: 1, Intensity: &maxIntensity}},
	}
}

// execPlan starts the simulated cluster of seed (its ring), discovers it
// and plans the repair of its keyspace. The cluster is returned running
// when delay > 0 (for -live), else closed.
func execPlan(seed uint64, nodes, tables int, delay time.Duration) (*repair.Plan, *scyllatest.Cluster, error) {
	var tbs []scyllatest.Table
	for i := range tables {
		tbs = append(tbs, scyllatest.Table{Name: fmt.Sprintf("t%02d", i), SSTables: 1}) // 4 KiB per node: not small
	}
	// 20 GiB / 2 shards: each node repairs 8 ranges at once (its slots).
	c, err := scyllatest.Start(scyllatest.Options{Topology: scyllatest.Topology3(nodes), TokensPerNode: 256, Memory: 20 << 30, Seed: seed,
		RepairRangeDelay: delay, Keyspaces: []scyllatest.Keyspace{{Name: "ks", Replication: scyllatest.Simple(3), Tables: tbs}}})
	if err != nil {
		return nil, nil, err
	}
	v, err := repair.Discover(context.Background(), c.Client(), c.ContactHost())
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	p, err := repair.MakePlan(v, repair.Target{Keyspace: []string{"ks"}, SmallTableThreshold: 1})
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	if delay == 0 {
		c.Close()
		return p, nil, nil
	}
	return p, c, nil
}

// benchLive repairs the simulated cluster for real (calls through the
// agents, progress in memstore), the cost per range slept by the
// simulated nodes: wall time, so the machine's load and the per-call
// overhead count.
func benchLive(runs, nodes, tables int, cost time.Duration) error {
	p, c, err := execPlan(1, nodes, tables, cost)
	if err != nil {
		return err
	}
	defer c.Close()
	lb := repair.SimulateSchedule(p, execModes()[0].props, repair.Options{}, cost).LowerBound
	kr, err := topology.Ring(context.Background(), c.Client(), c.ContactHost(), "ks")
	if err != nil {
		return err
	}
	fmt.Printf("(b, live) repair %d nodes x 256 vnodes x %d tables on scyllatest, %v per range (wall time): lower bound %v\n",
		nodes, tables, cost, lb.Round(time.Millisecond))
	for _, mode := range execModes() {
		var ds []time.Duration
		for range runs {
			svc, err := repair.New(memstore.New(), resolver{c}, mode.opts)
			if err != nil {
				return err
			}
			before := len(c.RepairedRanges())
			start := time.Now()
			if err := svc.Repair(context.Background(), uuid.New(), []string{"ks"}, repair.TablesOptions{Properties: mode.props}); err != nil {
				return err
			}
			ds = append(ds, time.Since(start))
			if n := len(c.RepairedRanges()) - before; n != len(kr.Ranges)*tables { // the wrap-around range split
				return fmt.Errorf("%s repaired %d ranges, want %d", mode.name, n, len(kr.Ranges)*tables)
			}
		}
		m := median(ds)
		fmt.Printf("    %-44s makespan median %v = %.2fx the lower bound, runs %v\n", mode.name, m.Round(time.Millisecond), float64(m)/float64(lb), ds)
	}
	return nil
}

func medianF(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func fmtRatios(v []float64) string {
	var b strings.Builder
	for i, x := range v {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.3f", x)
	}
	return b.String()
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func medianU(v []uint64) uint64 {
	s := slices.Clone(v)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
