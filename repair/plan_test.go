package repair

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/scyllaops/scyllaops/internal/ring"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testView builds a view of dcs (name → node count, one rack each) with
// tokens vnodes per node and the given keyspaces (name → replication).
func testView(t testing.TB, dcs map[string]int, tokens int, kss map[string]ring.Replication, tables int) *View {
	t.Helper()
	rnd := rand.New(rand.NewPCG(1, 2))
	taken := map[int64]bool{}
	var members []ring.Node
	v := &View{}
	var names []string
	for d := range dcs {
		names = append(names, d)
	}
	slices.Sort(names)
	ip := 1
	for di, d := range names {
		for i := 0; i < dcs[d]; i++ {
			addr := fmt.Sprintf("127.0.%d.%d", di+1, ip)
			ip++
			members = append(members, ring.Node{Host: addr, DC: d, Rack: "r1", Tokens: ring.RandomTokens(rnd, tokens, taken)})
			v.Nodes = append(v.Nodes, Node{IP: addr, DC: d, Up: true, Shards: 2 + i%2, Memory: 8 << 30})
		}
	}
	v.DCOrder = names
	rg, err := ring.New(members)
	if err != nil {
		t.Fatal(err)
	}
	var ksNames []string
	for k := range kss {
		ksNames = append(ksNames, k)
	}
	slices.Sort(ksNames)
	for _, name := range ksNames {
		repl := kss[name]
		rr, err := rg.Replicas(repl, "")
		if err != nil {
			t.Fatal(err)
		}
		ks := Keyspace{Name: name, Strategy: repl.Strategy, RF: repl.RF, DCRF: repl.DCRF}
		for _, r := range rr {
			ks.Ranges = append(ks.Ranges, TokenRange{Start: r.Start, End: r.End, Replicas: r.Replicas})
		}
		for i := range tables {
			ks.Tables = append(ks.Tables, Table{Name: fmt.Sprintf("t%d", i), Size: int64(tables-i) << 30})
		}
		v.Keyspaces = append(v.Keyspaces, ks)
	}
	return v
}

func TestGoldenPlans(t *testing.T) {
	nts := func(m map[string]int) ring.Replication {
		return ring.Replication{Strategy: ring.NetworkTopologyStrategy, DCRF: m}
	}
	oneDC := func() *View {
		v := testView(t, map[string]int{"dc1": 4}, 3, map[string]ring.Replication{"ks": nts(map[string]int{"dc1": 3})}, 2)
		v.Keyspaces = append(v.Keyspaces, Keyspace{Name: "system_auth", Strategy: ring.NetworkTopologyStrategy, DCRF: map[string]int{"dc1": 3},
			Ranges: v.Keyspaces[0].Ranges, Tables: []Table{{Name: "roles", Size: 10}, {Name: "role_members", Size: 100}, {Name: "role_attributes", Size: 1000}}})
		v.Keyspaces[0].Tables = append(v.Keyspaces[0].Tables, Table{Name: "mv", Size: 1, BaseTable: "t0"})
		return v
	}
	twoDC := func() *View {
		return testView(t, map[string]int{"dc1": 3, "dc2": 3}, 2, map[string]ring.Replication{
			"ks":  nts(map[string]int{"dc1": 2, "dc2": 2}),
			"ks1": nts(map[string]int{"dc1": 1}),
		}, 1)
	}
	simple := func() *View {
		return testView(t, map[string]int{"dc1": 2, "dc2": 2}, 2, map[string]ring.Replication{"ks": {Strategy: ring.SimpleStrategy, RF: 2}}, 1)
	}
	down := func() *View {
		v := testView(t, map[string]int{"dc1": 4}, 2, map[string]ring.Replication{"ks": nts(map[string]int{"dc1": 3})}, 1)
		v.Nodes[1].Up = false
		return v
	}
	tests := []struct {
		name    string
		view    func() *View
		target  Target
		wantErr string
	}{
		{name: "1dc_rf3", view: oneDC, target: Target{SmallTableThreshold: 1 << 30}},
		{name: "2dc_nts", view: twoDC, target: Target{SmallTableThreshold: 1 << 30}},
		{name: "2dc_nts_dc2", view: twoDC, target: Target{DC: []string{"dc2"}}},
		{name: "simple_across_dcs", view: simple, target: Target{}},
		{name: "node_down", view: down, target: Target{}, wantErr: "127.0.1.2 are down"},
		{name: "node_down_ignored", view: down, target: Target{IgnoreDownHosts: true}},
		{name: "host", view: oneDC, target: Target{Host: "127.0.1.3", Keyspace: []string{"ks.t0"}}},
		{name: "empty", view: oneDC, target: Target{Keyspace: []string{"nope"}}, wantErr: "no table to repair"},
		{name: "empty_allowed", view: oneDC, target: Target{Keyspace: []string{"nope"}, AllowEmpty: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := MakePlan(tc.view(), tc.target)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(p, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join("testdata", "plan", tc.name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if d := cmp.Diff(strings.TrimSpace(string(want)), string(got)); d != "" {
				t.Errorf("plan differs from %s (-want +got):\n%s", file, d)
			}
		})
	}
}

// TestPlanInvariants checks what the golden files show, for a larger
// ring: every range of the ring is in exactly one replica set whose
// hosts are its replicas, split at the bounds when it wraps.
func TestPlanInvariants(t *testing.T) {
	v := testView(t, map[string]int{"dc1": 5, "dc2": 4}, 16, map[string]ring.Replication{
		"ks": {Strategy: ring.NetworkTopologyStrategy, DCRF: map[string]int{"dc1": 3, "dc2": 2}},
	}, 3)
	p, err := MakePlan(v, Target{})
	if err != nil {
		t.Fatal(err)
	}
	ks := p.Keyspaces[0]
	covered := map[[2]int64][]string{}
	for _, rs := range ks.ReplicaSets {
		for _, r := range rs.Ranges {
			if _, dup := covered[[2]int64{r.Start, r.End}]; dup {
				t.Fatalf("range %v in two replica sets", r)
			}
			covered[[2]int64{r.Start, r.End}] = rs.Hosts
		}
		if !contains(rs.Hosts, rs.Coordinator) {
			t.Errorf("coordinator %s not in %v", rs.Coordinator, rs.Hosts)
		}
	}
	if len(covered) != len(v.Keyspaces[0].Ranges)+1 || ks.Ranges != len(covered) {
		t.Errorf("%d ranges planned (%d counted), ring has %d (+1 for the wrap split)", len(covered), ks.Ranges, len(v.Keyspaces[0].Ranges))
	}
	for _, r := range v.Keyspaces[0].Ranges {
		want := append([]string(nil), r.Replicas...)
		slices.Sort(want)
		key := [2]int64{r.Start, r.End}
		if r.Start >= r.End {
			key = [2]int64{r.Start, MaxToken}
		}
		if d := cmp.Diff(want, covered[key]); d != "" {
			t.Errorf("replicas of %v (-want +got):\n%s", r, d)
		}
	}
	// NTS dc1 5/3=1, dc2 4/2=2 → 1.
	if p.MaxParallel != 1 {
		t.Errorf("max_parallel %d, want 1", p.MaxParallel)
	}
	// 8 GiB / 2 or 3 shards × 0.1 / 32 MiB / 4 = 3.2 or 2.1 → 3 or 2.
	if p.HostIntensity["127.0.1.1"] != 3 || p.HostIntensity["127.0.1.2"] != 2 {
		t.Errorf("host intensity %v", p.HostIntensity)
	}
}

func TestFilterErrors(t *testing.T) {
	for _, in := range [][]string{{"ks["}, {""}, {"!"}} {
		_, err := NewFilter(in)
		if err == nil || !strings.Contains(err.Error(), "keyspace") {
			t.Errorf("NewFilter(%q) = %v, want an error naming keyspace", in, err)
		}
	}
	f, err := NewFilter([]string{"ks*", "!ks2", "!ks1.b"})
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]bool{"ks1.a": true, "ks1.b": false, "ks2.a": false, "other.a": false} {
		ks, tb, _ := strings.Cut(in, ".")
		if got := f.Table(ks, tb); got != want {
			t.Errorf("%s: %v, want %v", in, got, want)
		}
	}
	_, err = MakePlan(&View{Nodes: []Node{{IP: "127.0.0.1", DC: "dc1", Up: true}}}, Target{DC: []string{"dc9"}})
	if err == nil || !strings.Contains(err.Error(), "dc") {
		t.Errorf("unknown dc: %v", err)
	}
	_, err = MakePlan(&View{Nodes: []Node{{IP: "127.0.0.1", DC: "dc1", Up: true}}}, Target{Host: "127.0.0.9"})
	if err == nil || !strings.Contains(err.Error(), "host") {
		t.Errorf("unknown host: %v", err)
	}
	if !errors.Is(ErrEmpty, ErrEmpty) {
		t.Fatal("ErrEmpty")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// slotsPlan plans keyspace ks (SimpleStrategy RF 3, tables tables) on one
// DC of nodes nodes × vnodes tokens, 8 slots per node, no small tables,
// and returns it with properties of the maximal intensity.
func slotsPlan(t *testing.T, nodes, vnodes, tables int) (*Plan, Properties) {
	t.Helper()
	v := testView(t, map[string]int{"dc1": nodes}, vnodes, map[string]ring.Replication{"ks": {Strategy: ring.SimpleStrategy, RF: 3}}, tables)
	for i := range v.Nodes {
		v.Nodes[i].Memory, v.Nodes[i].Shards = 20<<30, 2 // 8 slots
	}
	p, err := MakePlan(v, Target{SmallTableThreshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	zero := 0.0
	return p, Properties{Intensity: &zero}
}

// TestSimulateSchedule: the controller's schedule in virtual time never
// beats the lower bound, makes at least one call per table and replica
// set and never puts more ranges at once on a host than its slots; under
// the rule a host is in one job at a time, with ShareSlots in several.
func TestSimulateSchedule(t *testing.T) {
	p, props := slotsPlan(t, 6, 16, 4)
	rule := SimulateSchedule(p, props, Options{}, time.Millisecond)
	share := SimulateSchedule(p, props, Options{ShareSlots: true}, time.Millisecond)
	for name, r := range map[string]ScheduleResult{"rule": rule, "share": share} {
		if r.LowerBound <= 0 || r.Makespan < r.LowerBound {
			t.Errorf("%s: makespan %v, lower bound %v", name, r.Makespan, r.LowerBound)
		}
		if r.Calls < 4*len(p.Keyspaces[0].ReplicaSets) {
			t.Errorf("%s: %d calls, want at least one per table and replica set (%d)", name, r.Calls, 4*len(p.Keyspaces[0].ReplicaSets))
		}
		if r.MaxRangesPerHost > 8 {
			t.Errorf("%s: a host repaired %d ranges at once, more than its 8 slots", name, r.MaxRangesPerHost)
		}
	}
	if rule.MaxJobsPerHost != 1 {
		t.Errorf("controller rule: a host in %d jobs at once", rule.MaxJobsPerHost)
	}
	if share.MaxJobsPerHost < 2 {
		t.Errorf("ShareSlots: at most %d job per host at once, want shared slots", share.MaxJobsPerHost)
	}
	t.Logf("lower bound %v; one job per node %v (%d jobs, %d calls); ShareSlots %v (%d jobs)", rule.LowerBound, rule.Makespan, rule.Jobs, rule.Calls, share.Makespan, share.Jobs)
}

// TestSimulateScheduleGolden: on 12 nodes × 256 vnodes × 10 tables (RF 3,
// 8 slots per node) the default controller — one job per node at a time,
// each job's slots filled across tables — ends within 1.15× the lower
// bound (the busiest node's ranges / its slots) in virtual time, where
// one job per node with unbatched jobs (Scylla Manager's conservative
// baseline) does not; the schedule is deterministic.
func TestSimulateScheduleGolden(t *testing.T) {
	p, props := slotsPlan(t, 12, 256, 10)
	r := SimulateSchedule(p, props, Options{}, time.Millisecond)
	ratio := float64(r.Makespan) / float64(r.LowerBound)
	t.Logf("makespan %v, lower bound %v: %.3fx; %d jobs, %d calls, %d filled across tables", r.Makespan, r.LowerBound, ratio, r.Jobs, r.Calls, r.MultiTableJobs)
	if ratio > 1.15 {
		t.Errorf("makespan %.3fx the lower bound, want <= 1.15x", ratio)
	}
	if r.MaxJobsPerHost != 1 {
		t.Errorf("a host in %d jobs at once, want 1", r.MaxJobsPerHost)
	}
	if r.MaxRangesPerHost != 8 {
		t.Errorf("at most %d ranges at once on a host, want its 8 slots", r.MaxRangesPerHost)
	}
	if r.MultiTableJobs == 0 || r.Calls <= r.Jobs {
		t.Errorf("%d jobs, %d calls, %d across tables: no job filled across tables", r.Jobs, r.Calls, r.MultiTableJobs)
	}
	if again := SimulateSchedule(p, props, Options{}, time.Millisecond); again.Makespan != r.Makespan || again.Calls != r.Calls {
		t.Errorf("second simulation: makespan %v and %d calls, first %v and %d", again.Makespan, again.Calls, r.Makespan, r.Calls)
	}
	base := SimulateSchedule(p, props, Options{NoBatching: true}, time.Millisecond)
	if b := float64(base.Makespan) / float64(base.LowerBound); b <= ratio || base.MaxJobsPerHost != 1 {
		t.Errorf("baseline %.3fx (%d jobs per host at once), want one job per host and slower than %.3fx", b, base.MaxJobsPerHost, ratio)
	}
}
