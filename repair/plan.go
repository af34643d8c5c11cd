package repair

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/scyllaops/scyllaops/store"
)

// Token bounds of the Murmur3 partitioner.
const (
	MinToken int64 = -1 << 63
	MaxToken int64 = 1<<63 - 1
)

// Replication strategies.
const (
	SimpleStrategy          = "SimpleStrategy"
	NetworkTopologyStrategy = "NetworkTopologyStrategy"
	LocalStrategy           = "LocalStrategy"
)

// View is the planner's input: the cluster as the topology discovery sees
// it. It is plain data so that the planner does no I/O.
type View struct {
	// Nodes of the cluster.
	Nodes []Node
	// DCOrder lists the DCs from the lowest to the highest latency (ties
	// of the coordinator choice go to the earliest); DCs missing from it
	// come after, by name.
	DCOrder []string
	// Keyspaces with their ring and tables.
	Keyspaces []Keyspace
}

// Node is one cluster member.
type Node struct {
	IP string
	DC string
	// Up is the node's gossip status.
	Up bool
	// Shards is the node's shard count (0 = unknown, counted as 1).
	Shards int
	// Memory is the node's total memory in bytes (0 = unknown).
	Memory int64
}

// Keyspace is one keyspace of the View.
type Keyspace struct {
	Name string
	// Strategy and its factors: RF for SimpleStrategy, DCRF for
	// NetworkTopologyStrategy.
	Strategy string
	RF       int
	DCRF     map[string]int
	// Ranges is the keyspace's ring (describe_ring): ranges (Start, End]
	// with their replicas; the one with Start >= End wraps.
	Ranges []TokenRange
	// Tables of the keyspace.
	Tables []Table
}

// Table is one table (or materialized view) with its size summed over
// the nodes.
type Table struct {
	Name string
	Size int64
	// BaseTable is set for a materialized view (or index) to its base
	// table; views are repaired after their base tables.
	BaseTable string
}

// TokenRange is a range (Start, End] and its replicas.
type TokenRange struct {
	Start    int64    `json:"start"`
	End      int64    `json:"end"`
	Replicas []string `json:"replicas,omitempty"`
}

// Target is what to repair, after parsing the task's properties.
type Target struct {
	// Keyspace is the keyspace[.table] glob filter ("!" excludes).
	Keyspace []string
	// DC is the DC glob filter.
	DC []string
	// Host restricts the repair to the ranges it replicates ("" = all).
	Host string
	// IgnoreDownHosts repairs without the nodes that are down; otherwise a
	// down node in the repaired DCs is an error.
	IgnoreDownHosts bool
	// SmallTableThreshold: tables below it get one small-table job.
	SmallTableThreshold int64
	// AllowEmpty makes a target with no table valid.
	AllowEmpty bool
}

// Plan is the result of planning: what each job may cover and the limits
// of the executor. Replica sets are shared by the tables of a keyspace.
type Plan struct {
	// DCs are the repaired DCs, sorted.
	DCs []string `json:"dcs"`
	// Host is Target.Host.
	Host string `json:"host,omitempty"`
	// Hosts are the nodes taking part, sorted.
	Hosts []string `json:"hosts"`
	// IgnoreHosts are the down nodes left out.
	IgnoreHosts []string `json:"ignore_hosts,omitempty"`
	// MaxParallel is the most jobs that can run at once (§6.2).
	MaxParallel int `json:"max_parallel"`
	// MaxIntensity is the highest intensity of any replica set.
	MaxIntensity int `json:"max_intensity"`
	// HostIntensity is each host's max ranges in parallel.
	HostIntensity map[string]int `json:"host_intensity"`
	// Keyspaces in repair order, each with its tables in repair order.
	Keyspaces []KeyspacePlan `json:"keyspaces"`
	// Skipped tables and why.
	Skipped []Skipped `json:"skipped,omitempty"`
}

// KeyspacePlan is one keyspace's share of a Plan.
type KeyspacePlan struct {
	Keyspace string `json:"keyspace"`
	// ReplicaSets of the keyspace's ranges (after filtering), ordered by
	// their hosts.
	ReplicaSets []ReplicaSet `json:"replica_sets"`
	// Ranges is the number of ranges over all replica sets.
	Ranges int `json:"ranges"`
	// Tables in repair order.
	Tables []TablePlan `json:"tables"`
	// AllTables tells whether every table of the keyspace is included.
	AllTables bool `json:"all_tables"`
}

// ReplicaSet is a set of hosts and the ranges they replicate together.
type ReplicaSet struct {
	// Hosts, sorted.
	Hosts []string `json:"hosts"`
	// Coordinator is the host the repair_async calls go to (§6.3).
	Coordinator string `json:"coordinator"`
	// MaxIntensity is the min of the hosts' intensities.
	MaxIntensity int `json:"max_intensity"`
	// Ranges, wrap-around split at the token bounds.
	Ranges []TokenRange `json:"ranges"`
}

// TablePlan is one table of a keyspace plan.
type TablePlan struct {
	Table string `json:"table"`
	Size  int64  `json:"size"`
	// Small tables are repaired with one small-table job.
	Small bool `json:"small,omitempty"`
	// View marks a materialized view or index; BaseTable is its base
	// table (of the same keyspace). A view is ordered after every base
	// table of its keyspace, and its jobs start once its base table has
	// no range left to start or running.
	View      bool   `json:"view,omitempty"`
	BaseTable string `json:"base_table,omitempty"`
}

// Skipped is a table left out of a plan.
type Skipped struct {
	Keyspace string `json:"keyspace"`
	Table    string `json:"table"`
	Reason   string `json:"reason"`
}

// Tables counts the tables of the plan.
func (p *Plan) Tables() int {
	n := 0
	for _, k := range p.Keyspaces {
		n += len(k.Tables)
	}
	return n
}

// internalOrder is Scylla Manager's priority of internal keyspaces
// (repaired first, in this order).
var internalOrder = []string{"system_auth", "system_replicated_keys", "audit", "system_distributed", "system_distributed_everywhere", "system_traces"}

// internalTableOrder puts these tables first within system_auth.
var internalTableOrder = []string{"role_attributes", "role_members"}

// ErrEmpty is wrapped by MakePlan when nothing would be repaired and
// Target.AllowEmpty is not set.
var ErrEmpty = fmt.Errorf("repair: no table to repair matches the target (set allow_empty to accept)")

// MakePlan plans the repair of target on v. It does no I/O and does not
// modify v.
func MakePlan(v *View, t Target) (*Plan, error) {
	filter, err := NewFilter(t.Keyspace)
	if err != nil {
		return nil, store.Invalid("keyspace", `keyspace[.table] globs, "!" to exclude: `+err.Error(), strings.Join(t.Keyspace, ","))
	}
	dcs, err := matchDCs(v, t.DC)
	if err != nil {
		return nil, err
	}
	p := &Plan{DCs: dcs, Host: t.Host, HostIntensity: map[string]int{}}
	inDC := map[string]bool{}
	for _, d := range dcs {
		inDC[d] = true
	}
	nodes := map[string]Node{}
	ignore := map[string]bool{}
	var down []string
	for _, n := range v.Nodes {
		nodes[n.IP] = n
		if !inDC[n.DC] {
			continue
		}
		if !n.Up {
			down = append(down, n.IP)
			ignore[n.IP] = true
		}
	}
	slices.Sort(down)
	if len(down) > 0 && !t.IgnoreDownHosts {
		return nil, fmt.Errorf("repair: hosts %s are down in the repaired DCs: bring them up or set ignore_down_hosts", strings.Join(down, ", "))
	}
	p.IgnoreHosts = down
	if t.Host != "" {
		n, ok := nodes[t.Host]
		if !ok {
			return nil, store.Invalid("host", "the IP address of a node of the cluster", t.Host)
		}
		if !inDC[n.DC] {
			return nil, store.Invalid("host", "a node in the repaired DCs ("+strings.Join(dcs, ", ")+"); it is in "+n.DC, t.Host)
		}
		if ignore[t.Host] {
			return nil, fmt.Errorf("repair: host %s is down", t.Host)
		}
	}
	dcRank := map[string]int{}
	for i, d := range v.DCOrder {
		dcRank[d] = i
	}
	hosts := map[string]bool{}
	// Keyspaces with the same ring (the same replication) share their
	// grouping: it is computed once and its replica sets are shared.
	type grouped struct {
		ranges []TokenRange
		sets   []ReplicaSet
		total  int
		reason string
	}
	var memo []grouped
	for _, ks := range v.Keyspaces {
		if ks.Strategy == LocalStrategy || !filter.Keyspace(ks.Name) {
			continue
		}
		var tables []TablePlan
		all := true
		for _, tb := range ks.Tables {
			if !filter.Table(ks.Name, tb.Name) {
				all = false
				continue
			}
			tables = append(tables, TablePlan{Table: tb.Name, Size: tb.Size, Small: tb.Size < t.SmallTableThreshold, View: tb.BaseTable != "", BaseTable: tb.BaseTable})
		}
		if len(tables) == 0 {
			continue
		}
		mi := slices.IndexFunc(memo, func(g grouped) bool { return sameRanges(g.ranges, ks.Ranges) })
		fresh := mi < 0
		if fresh {
			sets, total, reason := groupRanges(ks.Ranges, inDC, nodes, ignore, t.Host)
			memo = append(memo, grouped{ranges: ks.Ranges, sets: sets, total: total, reason: reason})
			mi = len(memo) - 1
		}
		sets, total, reason := memo[mi].sets, memo[mi].total, memo[mi].reason
		if reason != "" {
			for _, tb := range tables {
				p.Skipped = append(p.Skipped, Skipped{Keyspace: ks.Name, Table: tb.Table, Reason: reason})
			}
			continue
		}
		if total == 0 {
			continue
		}
		if fresh {
			for i := range sets {
				rs := &sets[i]
				rs.MaxIntensity = 0
				for _, h := range rs.Hosts {
					hosts[h] = true
					hi := hostIntensity(nodes[h])
					p.HostIntensity[h] = hi
					if rs.MaxIntensity == 0 || hi < rs.MaxIntensity {
						rs.MaxIntensity = hi
					}
				}
				p.MaxIntensity = max(p.MaxIntensity, rs.MaxIntensity)
				rs.Coordinator = coordinator(rs.Hosts, nodes, dcRank)
			}
		}
		p.MaxParallel = max(p.MaxParallel, maxParallel(ks, dcs, nodes, ignore))
		orderTables(ks.Name, tables)
		p.Keyspaces = append(p.Keyspaces, KeyspacePlan{Keyspace: ks.Name, ReplicaSets: sets, Ranges: total, Tables: tables, AllTables: all})
	}
	orderKeyspaces(p.Keyspaces)
	for h := range hosts {
		p.Hosts = append(p.Hosts, h)
	}
	slices.Sort(p.Hosts)
	p.MaxParallel = max(p.MaxParallel, 1)
	if p.Tables() == 0 && !t.AllowEmpty {
		return p, ErrEmpty
	}
	return p, nil
}

// sameRanges tells whether two rings are equal.
func sameRanges(a, b []TokenRange) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) > 0 && &a[0] == &b[0] {
		return true
	}
	for i := range a {
		if a[i].Start != b[i].Start || a[i].End != b[i].End || !slices.Equal(a[i].Replicas, b[i].Replicas) {
			return false
		}
	}
	return true
}

// matchDCs returns the DCs matching the globs (all when none).
func matchDCs(v *View, globs []string) ([]string, error) {
	all := map[string]bool{}
	for _, n := range v.Nodes {
		all[n.DC] = true
	}
	var out []string
	for d := range all {
		out = append(out, d)
	}
	slices.Sort(out)
	if len(globs) == 0 {
		return out, nil
	}
	f, err := newGlobs("dc", globs)
	if err != nil {
		return nil, store.Invalid("dc", `DC globs, "!" to exclude: `+err.Error(), strings.Join(globs, ","))
	}
	var keep []string
	for _, d := range out {
		if f.match(d) {
			keep = append(keep, d)
		}
	}
	if len(keep) == 0 {
		return nil, store.Invalid("dc", "globs matching a DC of the cluster ("+strings.Join(out, ", ")+")", strings.Join(globs, ","))
	}
	return keep, nil
}

// groupRanges filters the replicas of each range to the repaired DCs
// without ignored hosts, keeps the ranges of host (when set), splits the
// wrap-around range and groups the ranges by replica set. reason is set
// when a range has fewer than 2 replicas left.
//
// Hosts are numbered in address order, so a replica set is a short key
// of numbers (no string building per range) and comparing the number
// sequences orders the sets as comparing their address lists would.
func groupRanges(ranges []TokenRange, inDC map[string]bool, nodes map[string]Node, ignore map[string]bool, host string) (sets []ReplicaSet, total int, reason string) {
	names := make([]string, 0, len(nodes))
	for ip := range nodes {
		names = append(names, ip)
	}
	slices.Sort(names)
	num := make(map[string]int, len(names))
	keep := make([]bool, len(names))
	for i, ip := range names {
		num[ip] = i
		keep[i] = inDC[nodes[ip].DC] && !ignore[ip]
	}
	hostNum := -1
	if host != "" {
		if i, ok := num[host]; ok {
			hostNum = i
		}
	}
	idx := map[string]int{}
	var keys [][]int
	var reps []int
	var key []byte
	for _, r := range ranges {
		reps = reps[:0]
		for _, h := range r.Replicas {
			if i, ok := num[h]; ok && keep[i] {
				reps = append(reps, i)
			}
		}
		if len(reps) < 2 {
			return nil, 0, fmt.Sprintf("range (%d, %d] has %d replica(s) in the repaired DCs without the ignored hosts, want at least 2", r.Start, r.End, len(reps))
		}
		if host != "" && !slices.Contains(reps, hostNum) {
			continue
		}
		slices.Sort(reps)
		key = key[:0]
		for _, i := range reps {
			key = append(key, byte(i>>16), byte(i>>8), byte(i))
		}
		i, ok := idx[string(key)]
		if !ok {
			i = len(sets)
			idx[string(key)] = i
			sets = append(sets, ReplicaSet{})
			keys = append(keys, slices.Clone(reps))
		}
		rs := &sets[i]
		if r.Start >= r.End {
			if r.Start != MaxToken {
				rs.Ranges = append(rs.Ranges, TokenRange{Start: r.Start, End: MaxToken})
				total++
			}
			if r.End != MinToken {
				rs.Ranges = append(rs.Ranges, TokenRange{Start: MinToken, End: r.End})
				total++
			}
			continue
		}
		rs.Ranges = append(rs.Ranges, TokenRange{Start: r.Start, End: r.End})
		total++
	}
	order := make([]int, len(sets))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return slices.Compare(keys[a], keys[b]) })
	out := make([]ReplicaSet, len(sets))
	for to, from := range order {
		out[to] = sets[from]
		hosts := make([]string, len(keys[from]))
		for j, n := range keys[from] {
			hosts[j] = names[n]
		}
		out[to].Hosts = hosts
	}
	return out, total, ""
}

// hostIntensity is the host's max ranges in parallel:
// floor(0.1 × (memory/shards) / 32 MiB / 4), at least 1.
func hostIntensity(n Node) int {
	shards := int64(max(n.Shards, 1))
	v := int(float64(n.Memory) / float64(shards) * 0.1 / float64(32<<20) / 4)
	return max(v, 1)
}

// coordinator picks the replica with the fewest shards; ties go to the
// lowest-latency DC, then the lowest address.
func coordinator(hosts []string, nodes map[string]Node, dcRank map[string]int) string {
	rank := func(dc string) int {
		if r, ok := dcRank[dc]; ok {
			return r
		}
		return len(dcRank)
	}
	best := ""
	for _, h := range hosts {
		if best == "" {
			best = h
			continue
		}
		a, b := nodes[h], nodes[best]
		if c := cmp.Compare(max(a.Shards, 1), max(b.Shards, 1)); c != 0 {
			if c < 0 {
				best = h
			}
			continue
		}
		if c := cmp.Compare(rank(a.DC), rank(b.DC)); c != 0 {
			if c < 0 {
				best = h
			}
			continue
		}
		if c := cmp.Compare(a.DC, b.DC); c < 0 {
			best = h
		}
	}
	return best
}

// maxParallel of one keyspace: NTS → min over the repaired DCs with
// replicas of floor(nodes in DC / RF in DC); Simple → floor(repaired
// nodes / RF); other → 1.
func maxParallel(ks Keyspace, dcs []string, nodes map[string]Node, ignore map[string]bool) int {
	count := map[string]int{}
	total := 0
	for ip, n := range nodes {
		if !ignore[ip] && slices.Contains(dcs, n.DC) {
			count[n.DC]++
			total++
		}
	}
	switch ks.Strategy {
	case NetworkTopologyStrategy:
		best := 0
		for _, d := range dcs {
			rf := ks.DCRF[d]
			if rf <= 0 {
				continue
			}
			v := count[d] / rf
			if best == 0 || v < best {
				best = v
			}
		}
		return max(best, 1)
	case SimpleStrategy:
		if ks.RF <= 0 {
			return 1
		}
		return max(total/ks.RF, 1)
	default:
		return 1
	}
}

// orderTables sorts tables: system_auth's role tables first, then by size
// ascending and name; views after every base table.
func orderTables(ks string, tables []TablePlan) {
	prio := func(t TablePlan) int {
		if ks == "system_auth" {
			if i := slices.Index(internalTableOrder, t.Table); i >= 0 {
				return i
			}
		}
		return len(internalTableOrder)
	}
	slices.SortStableFunc(tables, func(a, b TablePlan) int {
		if a.View != b.View {
			if a.View {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(prio(a), prio(b)), cmp.Compare(a.Size, b.Size), cmp.Compare(a.Table, b.Table))
	})
}

// orderKeyspaces puts the internal keyspaces first (internalOrder), then
// the others by size ascending and name.
func orderKeyspaces(kss []KeyspacePlan) {
	size := func(k KeyspacePlan) int64 {
		var s int64
		for _, t := range k.Tables {
			s += t.Size
		}
		return s
	}
	prio := func(k KeyspacePlan) int {
		if i := slices.Index(internalOrder, k.Keyspace); i >= 0 {
			return i
		}
		return len(internalOrder)
	}
	slices.SortStableFunc(kss, func(a, b KeyspacePlan) int {
		return cmp.Or(cmp.Compare(prio(a), prio(b)), cmp.Compare(size(a), size(b)), cmp.Compare(a.Keyspace, b.Keyspace))
	})
}

// globs is a glob list with "!" exclusions; the last matching pattern
// decides, and a list of only exclusions starts from "*".
type globs struct {
	pats []string
	neg  []bool
}

func newGlobs(field string, list []string) (*globs, error) {
	g := &globs{}
	for _, p := range list {
		p = strings.TrimSpace(p)
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		if p == "" {
			return nil, fmt.Errorf("repair: %s: empty pattern in %q (want comma-separated globs, \"!\" to exclude)", field, strings.Join(list, ","))
		}
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("repair: %s: invalid glob %q: %w (want shell globs such as ks*, \"!\" to exclude)", field, p, err)
		}
		g.pats = append(g.pats, p)
		g.neg = append(g.neg, neg)
	}
	return g, nil
}

func (g *globs) match(s string) bool {
	ok := len(g.pats) > 0 && g.neg[0]
	for i, p := range g.pats {
		if m, _ := path.Match(p, s); m {
			ok = !g.neg[i]
		}
	}
	return ok
}

// Filter is the keyspace filter of a repair: "ks", "ks.table" and globs
// of both, "!" to exclude.
type Filter struct {
	g *globs
}

// DefaultKeyspace is the keyspace filter when none is given.
var DefaultKeyspace = []string{"*", "!system_traces"}

// NewFilter parses a keyspace filter (none = DefaultKeyspace).
func NewFilter(list []string) (*Filter, error) {
	if len(list) == 0 {
		list = DefaultKeyspace
	}
	var pats []string
	for _, p := range list {
		neg := strings.HasPrefix(strings.TrimSpace(p), "!")
		q := strings.TrimPrefix(strings.TrimSpace(p), "!")
		if q == "" {
			return nil, fmt.Errorf("repair: keyspace: empty pattern in %q (want comma-separated keyspace[.table] globs, \"!\" to exclude)", strings.Join(list, ","))
		}
		if !strings.Contains(q, ".") {
			q += ".*"
		}
		if neg {
			q = "!" + q
		}
		pats = append(pats, q)
	}
	g, err := newGlobs("keyspace", pats)
	if err != nil {
		return nil, err
	}
	return &Filter{g: g}, nil
}

// Keyspace tells whether some table of ks may match.
func (f *Filter) Keyspace(ks string) bool {
	for i, p := range f.g.pats {
		if f.g.neg[i] {
			continue
		}
		k, _, _ := strings.Cut(p, ".")
		if m, _ := path.Match(k, ks); m {
			return true
		}
	}
	return false
}

// Table tells whether ks.table matches.
func (f *Filter) Table(ks, table string) bool { return f.g.match(ks + "." + table) }
