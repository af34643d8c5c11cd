package topology

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"

	"github.com/scyllaops/scyllaops/agentclient"
)

// Murmur3 partitioner bounds: a ring's token ranges, wrap-around range
// split, cover (MinToken, MaxToken].
const (
	MinToken int64 = math.MinInt64
	MaxToken int64 = math.MaxInt64
)

// Replication strategies.
const (
	LocalStrategy           = "LocalStrategy"
	NetworkTopologyStrategy = "NetworkTopologyStrategy"
)

// TokenRange is one token range (Start, End] and its replicas.
type TokenRange struct {
	Start, End int64
	// Replicas are the addresses of the range's replicas, in the order
	// describe_ring gives them.
	Replicas []string
}

// Replication is a keyspace's replication as its ring shows it.
type Replication struct {
	// Strategy is LocalStrategy for keyspaces local to each node, else
	// NetworkTopologyStrategy (the REST API does not tell a SimpleStrategy
	// keyspace apart: its ring is read the same way).
	Strategy string
	// DCReplicas is the replication factor per DC: the most replicas a
	// range has in that DC.
	DCReplicas map[string]int
}

// KeyspaceRing is a keyspace's replication and its replica sets per token
// range, sorted by Start; the wrap-around range is split at the
// partitioner bounds, so the ranges cover (MinToken, MaxToken] once.
type KeyspaceRing struct {
	Keyspace    string
	Replication Replication
	Ranges      []TokenRange
	// DCs maps each replica address to its DC.
	DCs map[string]string
}

// Ring reads keyspace's ring (describe_ring) from contact.
func Ring(ctx context.Context, client *agentclient.Client, contact, keyspace string) (*KeyspaceRing, error) {
	raw, err := client.DescribeRing(ctx, contact, keyspace, "")
	if err != nil {
		return nil, fmt.Errorf("topology: describe ring of %s from %s: %w", keyspace, contact, err)
	}
	nonLocal, err := client.Keyspaces(ctx, contact, "non_local_strategy", "")
	if err != nil {
		return nil, fmt.Errorf("topology: keyspaces of %s: %w", contact, err)
	}
	kr, err := buildRing(keyspace, raw)
	if err != nil {
		return nil, fmt.Errorf("topology: ring of %s from %s: %w", keyspace, contact, err)
	}
	if !slices.Contains(nonLocal, keyspace) {
		kr.Replication.Strategy = LocalStrategy
	}
	return kr, nil
}

// RingAny is Ring hedged over contacts (see Hedge).
func RingAny(ctx context.Context, client *agentclient.Client, contacts []string, keyspace string, o HedgeOptions) (*KeyspaceRing, error) {
	kr, _, err := Hedge(ctx, contacts, o, func(ctx context.Context, contact string) (*KeyspaceRing, error) {
		return Ring(ctx, client, contact, keyspace)
	})
	return kr, err
}

// buildRing parses describe_ring's ranges, splits the wrap-around one
// and derives the replication factor per DC.
func buildRing(keyspace string, raw []agentclient.TokenRange) (*KeyspaceRing, error) {
	kr := &KeyspaceRing{
		Keyspace:    keyspace,
		Replication: Replication{Strategy: NetworkTopologyStrategy, DCReplicas: map[string]int{}},
		DCs:         map[string]string{},
	}
	for _, r := range raw {
		start, err := strconv.ParseInt(r.StartToken, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("start token %q: %w", r.StartToken, err)
		}
		end, err := strconv.ParseInt(r.EndToken, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("end token %q: %w", r.EndToken, err)
		}
		reps := slices.Clone(r.Endpoints)
		perDC := map[string]int{}
		for _, d := range r.EndpointDetails {
			kr.DCs[d.Host] = d.Datacenter
			perDC[d.Datacenter]++
		}
		for dc, n := range perDC {
			kr.Replication.DCReplicas[dc] = max(kr.Replication.DCReplicas[dc], n)
		}
		if start < end {
			kr.Ranges = append(kr.Ranges, TokenRange{Start: start, End: end, Replicas: reps})
			continue
		}
		// The wrap-around range (start >= end: one token owns the whole
		// ring when equal) split at the partitioner bounds.
		if start != MaxToken {
			kr.Ranges = append(kr.Ranges, TokenRange{Start: start, End: MaxToken, Replicas: reps})
		}
		if end != MinToken {
			kr.Ranges = append(kr.Ranges, TokenRange{Start: MinToken, End: end, Replicas: slices.Clone(reps)})
		}
	}
	slices.SortFunc(kr.Ranges, func(a, b TokenRange) int {
		switch {
		case a.Start < b.Start:
			return -1
		case a.Start > b.Start:
			return 1
		}
		return 0
	})
	return kr, nil
}

// ReplicaSets returns the distinct replica sets of the ring (each sorted)
// with the ranges they own, keyed by the set's addresses joined by ",".
func (k *KeyspaceRing) ReplicaSets() map[string][]TokenRange {
	out := map[string][]TokenRange{}
	for _, r := range k.Ranges {
		s := slices.Clone(r.Replicas)
		slices.Sort(s)
		key := ""
		for i, h := range s {
			if i > 0 {
				key += ","
			}
			key += h
		}
		out[key] = append(out[key], r)
	}
	return out
}

// ReplicatedDCs returns the DCs holding replicas of the keyspace, sorted.
func (k *KeyspaceRing) ReplicatedDCs() []string {
	return slices.Sorted(maps.Keys(k.Replication.DCReplicas))
}
