package topology

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/scyllaops/scyllaops/agentclient"
)

// placeParallelism bounds the DC/rack calls ListNodes runs at once.
const placeParallelism = 16

// ListOptions tune ListNodes.
type ListOptions struct {
	// Gossip asks the contact for the live, joining and leaving lists:
	// Status and State are then set (else Status is "" and State N).
	Gossip bool
	// Places remembers each address's DC and rack across calls (nil:
	// ask every time).
	Places *Places
	// KnownPlacesOnly makes no DC/rack call: nodes not in Places are
	// returned with empty DC and Rack, for FillPlaces to complete under
	// a deadline of its own (the DC/rack calls of a new cluster are many
	// more than the discovery's own).
	KnownPlacesOnly bool
}

// Places remembers the DC and rack of addresses: placement does not
// change while an address is in the cluster, so light discoveries (the
// health check's, every few seconds) ask it once per node. Safe for
// concurrent use; create it with NewPlaces.
type Places struct {
	mu sync.Mutex
	m  map[string][2]string
}

// NewPlaces returns an empty Places.
func NewPlaces() *Places { return &Places{m: map[string][2]string{}} }

// Get returns the remembered DC and rack of host.
func (p *Places) Get(host string) (dc, rack string, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.m[host]
	return v[0], v[1], ok
}

func (p *Places) put(host, dc, rack string) {
	p.mu.Lock()
	p.m[host] = [2]string{dc, rack}
	p.mu.Unlock()
}

// ListNodes is the light discovery: the contact's host-ID map, with
// o.Gossip its live/joining/leaving lists, and the DC and rack of every
// node (from o.Places when known). No tokens, shards or node_info: see
// Discover for the full view. A node whose DC or rack cannot be read now
// is returned with empty DC and Rack (and not remembered). Nodes are
// sorted by address.
func ListNodes(ctx context.Context, client *agentclient.Client, contact string, o ListOptions) ([]Node, error) {
	ids, err := client.HostIDMap(ctx, contact)
	if err != nil {
		return nil, fmt.Errorf("topology: host ids from %s: %w", contact, err)
	}
	var live, joining, leaving []string
	if o.Gossip {
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() (err error) { live, err = client.LiveNodes(gctx, contact); return err })
		g.Go(func() (err error) { joining, err = client.JoiningNodes(gctx, contact); return err })
		g.Go(func() (err error) { leaving, err = client.LeavingNodes(gctx, contact); return err })
		if err := g.Wait(); err != nil {
			return nil, fmt.Errorf("topology: gossip of %s: %w", contact, err)
		}
	}
	nodes := make([]Node, 0, len(ids))
	for ip, id := range ids {
		n := Node{IP: ip, HostID: id, State: StateNormal}
		if o.Gossip {
			n.Status, n.State = gossipState(ip, live, leaving, joining, nil)
		}
		nodes = append(nodes, n)
	}
	slices.SortFunc(nodes, func(a, b Node) int { return compareIP(a.IP, b.IP) })
	if o.KnownPlacesOnly {
		if o.Places != nil {
			for i := range nodes {
				nodes[i].DC, nodes[i].Rack, _ = o.Places.Get(nodes[i].IP)
			}
		}
		return nodes, nil
	}
	FillPlaces(ctx, client, contact, nodes, o.Places)
	return nodes, nil
}

// FillPlaces sets the DC and rack of nodes: from places when known, else
// asked of contact (at most placeParallelism calls at once) and
// remembered in places (nil: not remembered). A node whose DC or rack
// cannot be read before ctx ends keeps empty DC and Rack.
func FillPlaces(ctx context.Context, client *agentclient.Client, contact string, nodes []Node, places *Places) {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(placeParallelism)
	for i := range nodes {
		n := &nodes[i]
		if places != nil {
			if dc, rack, ok := places.Get(n.IP); ok {
				n.DC, n.Rack = dc, rack
				continue
			}
		}
		g.Go(func() error {
			dc, err := client.Datacenter(gctx, contact, n.IP)
			if err != nil {
				return nil
			}
			rack, err := client.Rack(gctx, contact, n.IP)
			if err != nil {
				return nil
			}
			n.DC, n.Rack = dc, rack
			if places != nil {
				places.put(n.IP, dc, rack)
			}
			return nil
		})
	}
	_ = g.Wait()
}

// ListNodesAny is ListNodes hedged over contacts (see Hedge); it returns
// the nodes and the contact that answered.
func ListNodesAny(ctx context.Context, client *agentclient.Client, contacts []string, o ListOptions, h HedgeOptions) ([]Node, string, error) {
	return Hedge(ctx, contacts, h, func(ctx context.Context, contact string) ([]Node, error) {
		return ListNodes(ctx, client, contact, o)
	})
}

// Hosts returns the address of every node contact knows (its host-ID
// map), sorted: the lightest discovery, for a cluster's known hosts and
// as a probe of an agent that needs its auth token. The error wraps the
// client's (errors.As finds an *agentclient.HostError or
// *agentclient.KeyChangedError).
func Hosts(ctx context.Context, client *agentclient.Client, contact string) ([]string, error) {
	ids, err := client.HostIDMap(ctx, contact)
	if err != nil {
		return nil, fmt.Errorf("topology: host ids from %s: %w", contact, err)
	}
	out := make([]string, 0, len(ids))
	for ip := range ids {
		out = append(out, ip)
	}
	slices.SortFunc(out, compareIP)
	return out, nil
}

// NodeTokens returns the tokens of node as contact knows them, in the
// order contact lists them (a backup manifest's tokens).
func NodeTokens(ctx context.Context, client *agentclient.Client, contact, node string) ([]int64, error) {
	t, err := client.Tokens(ctx, contact, node)
	if err != nil {
		return nil, fmt.Errorf("topology: tokens of %s from %s: %w", node, contact, err)
	}
	return t, nil
}
