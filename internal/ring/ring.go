package ring

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
)

// MinToken and MaxToken are the bounds of the Murmur3 partitioner.
const (
	MinToken int64 = math.MinInt64
	MaxToken int64 = math.MaxInt64
)

// Strategy names as they appear in CQL replication maps.
const (
	SimpleStrategy          = "SimpleStrategy"
	NetworkTopologyStrategy = "NetworkTopologyStrategy"
	LocalStrategy           = "LocalStrategy"
)

// Node is one ring member.
type Node struct {
	// Host is the node's address (its identity on the ring).
	Host string
	// DC and Rack place the node for NetworkTopologyStrategy.
	DC, Rack string
	// Tokens are the node's vnode tokens.
	Tokens []int64
}

// Replication is a keyspace's replication setting.
type Replication struct {
	// Strategy is SimpleStrategy, NetworkTopologyStrategy or LocalStrategy.
	Strategy string
	// RF is the replication factor of SimpleStrategy.
	RF int
	// DCRF is the per-DC replication factor of NetworkTopologyStrategy.
	DCRF map[string]int
}

// Range is one token range (Start, End] and its replicas in placement
// order (the first one is the primary replica).
type Range struct {
	Start, End int64
	Replicas   []string
}

// Ring is an immutable token ring.
type Ring struct {
	tokens []int64 // sorted
	owner  []int   // index into nodes for tokens[i]
	nodes  []Node
}

// New builds a ring from nodes. Duplicate tokens are an error.
func New(nodes []Node) (*Ring, error) {
	r := &Ring{nodes: slices.Clone(nodes)}
	type to struct {
		t int64
		o int
	}
	var all []to
	for i, n := range nodes {
		for _, t := range n.Tokens {
			all = append(all, to{t, i})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].t < all[j].t })
	for i := range all {
		if i > 0 && all[i].t == all[i-1].t {
			return nil, fmt.Errorf("ring: token %d owned twice (%s, %s)", all[i].t, nodes[all[i-1].o].Host, nodes[all[i].o].Host)
		}
		r.tokens = append(r.tokens, all[i].t)
		r.owner = append(r.owner, all[i].o)
	}
	return r, nil
}

// Nodes returns a copy of the ring's members.
func (r *Ring) Nodes() []Node { return slices.Clone(r.nodes) }

// Len is the number of tokens (and ranges) of the ring.
func (r *Ring) Len() int { return len(r.tokens) }

// Replicas returns every range of the ring with its replicas under repl,
// ordered by end token. For LocalStrategy each range has local as its only
// replica.
func (r *Ring) Replicas(repl Replication, local string) ([]Range, error) {
	if len(r.tokens) == 0 {
		return nil, nil
	}
	out := make([]Range, len(r.tokens))
	for i, t := range r.tokens {
		start := r.tokens[(i+len(r.tokens)-1)%len(r.tokens)]
		var reps []string
		switch repl.Strategy {
		case LocalStrategy:
			reps = []string{local}
		case SimpleStrategy:
			if repl.RF < 0 {
				return nil, fmt.Errorf("ring: replication factor %d below zero", repl.RF)
			}
			reps = r.simple(i, repl.RF)
		case NetworkTopologyStrategy:
			for dc, rf := range repl.DCRF {
				if rf < 0 {
					return nil, fmt.Errorf("ring: replication factor %d of dc %q below zero", rf, dc)
				}
			}
			reps = r.nts(i, repl.DCRF)
		default:
			return nil, fmt.Errorf("ring: unknown replication strategy %q (want %s, %s or %s)", repl.Strategy, SimpleStrategy, NetworkTopologyStrategy, LocalStrategy)
		}
		out[i] = Range{Start: start, End: t, Replicas: reps}
	}
	return out, nil
}

// simple walks the ring from token index i and takes the first rf
// distinct hosts.
func (r *Ring) simple(i, rf int) []string {
	rf = min(rf, len(r.nodes))
	var reps []string
	seen := make(map[int]bool)
	for k := 0; k < len(r.tokens) && len(reps) < rf; k++ {
		o := r.owner[(i+k)%len(r.tokens)]
		if !seen[o] {
			seen[o] = true
			reps = append(reps, r.nodes[o].Host)
		}
	}
	return reps
}

// nts is NetworkTopologyStrategy placement: walking the ring from token
// index i, each DC takes nodes on racks it has not used yet first; once
// every rack of the DC has a replica, the nodes skipped on already used
// racks fill the remaining slots in ring order.
func (r *Ring) nts(i int, dcrf map[string]int) []string {
	racksInDC := make(map[string]map[string]bool)
	nodesInDC := make(map[string]int)
	for _, n := range r.nodes {
		if racksInDC[n.DC] == nil {
			racksInDC[n.DC] = make(map[string]bool)
		}
		racksInDC[n.DC][n.Rack] = true
		nodesInDC[n.DC]++
	}
	want := make(map[string]int)
	total := 0
	for dc, rf := range dcrf {
		w := min(rf, nodesInDC[dc])
		if w > 0 {
			want[dc] = w
			total += w
		}
	}
	have := make(map[string][]int)
	usedRacks := make(map[string]map[string]bool)
	skipped := make(map[string][]int)
	seen := make(map[int]bool)
	var order []int
	add := func(o int) {
		dc := r.nodes[o].DC
		have[dc] = append(have[dc], o)
		order = append(order, o)
	}
	for k := 0; k < len(r.tokens) && len(order) < total; k++ {
		o := r.owner[(i+k)%len(r.tokens)]
		if seen[o] {
			continue
		}
		seen[o] = true
		n := r.nodes[o]
		if len(have[n.DC]) >= want[n.DC] {
			continue
		}
		if usedRacks[n.DC] == nil {
			usedRacks[n.DC] = make(map[string]bool)
		}
		if !usedRacks[n.DC][n.Rack] {
			usedRacks[n.DC][n.Rack] = true
			add(o)
			if len(usedRacks[n.DC]) == len(racksInDC[n.DC]) {
				// All racks used: skipped nodes fill in, in ring order.
				for _, s := range skipped[n.DC] {
					if len(have[n.DC]) >= want[n.DC] {
						break
					}
					add(s)
				}
				skipped[n.DC] = nil
			}
			continue
		}
		if len(usedRacks[n.DC]) == len(racksInDC[n.DC]) {
			add(o)
		} else {
			skipped[n.DC] = append(skipped[n.DC], o)
		}
	}
	reps := make([]string, len(order))
	for k, o := range order {
		reps[k] = r.nodes[o].Host
	}
	return reps
}

// RandomTokens returns n distinct random tokens drawn from rnd, excluding
// the tokens in taken (which it extends). The result is sorted.
func RandomTokens(rnd *rand.Rand, n int, taken map[int64]bool) []int64 {
	out := make([]int64, 0, n)
	for len(out) < n {
		t := int64(rnd.Uint64())
		if t == MinToken || taken[t] {
			continue
		}
		taken[t] = true
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// FormatToken renders a token the way the Scylla REST API does.
func FormatToken(t int64) string { return strconv.FormatInt(t, 10) }

// ErrBadRange is returned by ParseRanges for malformed input.
var ErrBadRange = errors.New("ring: bad token range")

// ParseRanges parses "s1:e1,s2:e2" (the repair_async ranges parameter).
func ParseRanges(s string) ([]Range, error) {
	if s == "" {
		return nil, nil
	}
	var out []Range
	for _, p := range splitComma(s) {
		a, b, ok := cut(p, ':')
		if !ok {
			return nil, fmt.Errorf("%w: %q (want start:end)", ErrBadRange, p)
		}
		st, err1 := strconv.ParseInt(a, 10, 64)
		en, err2 := strconv.ParseInt(b, 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%w: %q (want int64:int64)", ErrBadRange, p)
		}
		out = append(out, Range{Start: st, End: en})
	}
	return out, nil
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}

// cut splits at the first sep after the first byte: tokens may be
// negative, so "-5:-3" splits at index 2.
func cut(s string, sep byte) (string, string, bool) {
	for i := 1; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return "", "", false
}
