package topology

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/scyllaops/scyllaops/agentclient"
)

// DiscoverParallelism bounds the per-node calls Discover runs at once.
const DiscoverParallelism = 8

// Status is a node's liveness in the contact host's gossip view.
type Status string

// Statuses.
const (
	StatusUp   Status = "U"
	StatusDown Status = "D"
)

// State is a node's ring state.
type State string

// States.
const (
	StateNormal  State = "N"
	StateLeaving State = "L"
	StateJoining State = "J"
	StateMoving  State = "M"
)

// Node is one cluster member.
type Node struct {
	// IP is the node's address as the cluster knows it.
	IP string
	// HostID is the node's host ID (UUID string).
	HostID string
	// DC and Rack place the node.
	DC, Rack string
	// Status is U or D.
	Status Status
	// State is N, L, J or M.
	State State
	// Tokens are the node's vnode tokens, sorted.
	Tokens []int64
	// Shards is the node's shard count, 0 if it could not be read.
	Shards int
	// ShardsErr says why Shards is 0 ("" when it was read).
	ShardsErr string
	// Memory is the node's total memory in bytes, ScyllaVersion its
	// Scylla version and Features the optional features it has enabled
	// (FeatureTablets, FeatureUUIDSSTables, FeatureRaftTopology), all from
	// the node's node_info; zero when the node's agent did not answer
	// (InfoErr says why).
	Memory        int64
	ScyllaVersion string
	Features      []string
	InfoErr       string
}

// Features a node reports in Node.Features.
const (
	FeatureTablets      = "tablets"
	FeatureUUIDSSTables = "uuid_sstable_identifiers"
	FeatureRaftTopology = "consistent_cluster_management"
)

// nodeCallTimeout bounds the best-effort calls to one node (shards,
// node_info) within a discovery: half of what is left of ctx's deadline,
// at most maxNodeCall, so that one hung node does not take the whole
// discovery's time.
func nodeCallTimeout(ctx context.Context) time.Duration {
	d := maxNodeCall
	if dl, ok := ctx.Deadline(); ok {
		d = min(d, time.Until(dl)/2)
	}
	return d
}

const maxNodeCall = 5 * time.Second

// StatusState returns the nodetool-style status, e.g. "UN".
func (n Node) StatusState() string { return string(n.Status) + string(n.State) }

// Rack is a rack and its nodes, sorted by IP.
type Rack struct {
	Name  string
	Nodes []Node
}

// DC is a datacenter and its racks, sorted by name.
type DC struct {
	Name  string
	Racks []Rack
}

// Cluster is the result of a discovery.
type Cluster struct {
	// Name is the cluster name.
	Name string
	// ContactHost is the host the discovery asked.
	ContactHost string
	// DCs sorted by name.
	DCs []DC
}

// Nodes returns every node, sorted by DC, then IP (Scylla Manager's
// status order).
func (c *Cluster) Nodes() []Node {
	var out []Node
	for _, dc := range c.DCs {
		for _, r := range dc.Racks {
			out = append(out, r.Nodes...)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].DC != out[j].DC {
			return out[i].DC < out[j].DC
		}
		return ipLess(out[i].IP, out[j].IP)
	})
	return out
}

// Hosts returns every node's IP in Nodes order.
func (c *Cluster) Hosts() []string {
	var out []string
	for _, n := range c.Nodes() {
		out = append(out, n.IP)
	}
	return out
}

// LiveHosts returns the IPs of nodes with status U, in Nodes order.
func (c *Cluster) LiveHosts() []string {
	var out []string
	for _, n := range c.Nodes() {
		if n.Status == StatusUp {
			out = append(out, n.IP)
		}
	}
	return out
}

// Node returns the node with the given IP.
func (c *Cluster) Node(ip string) (Node, bool) {
	for _, n := range c.Nodes() {
		if n.IP == ip {
			return n, true
		}
	}
	return Node{}, false
}

// Discover builds the topology of the cluster that contactHost belongs to.
func Discover(ctx context.Context, client *agentclient.Client, contactHost string) (*Cluster, error) {
	wrap := func(what string, err error) error {
		return fmt.Errorf("topology: discover from %s: %s: %w", contactHost, what, err)
	}
	ids, err := client.HostIDMap(ctx, contactHost)
	if err != nil {
		return nil, wrap("host ids", err)
	}
	name, err := client.ClusterName(ctx, contactHost)
	if err != nil {
		return nil, wrap("cluster name", err)
	}
	live, err := client.LiveNodes(ctx, contactHost)
	if err != nil {
		return nil, wrap("live nodes", err)
	}
	joining, err := client.JoiningNodes(ctx, contactHost)
	if err != nil {
		return nil, wrap("joining nodes", err)
	}
	leaving, err := client.LeavingNodes(ctx, contactHost)
	if err != nil {
		return nil, wrap("leaving nodes", err)
	}
	var moving []string
	if err := client.Raw(ctx, contactHost, http.MethodGet, "/storage_service/nodes/moving", nil, nil, &moving); err != nil {
		return nil, wrap("moving nodes", err)
	}
	ips := make([]string, 0, len(ids))
	for ip := range ids {
		ips = append(ips, ip)
	}
	sort.Slice(ips, func(i, j int) bool { return ipLess(ips[i], ips[j]) })
	nodes := make([]Node, len(ips))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(DiscoverParallelism)
	for i, ip := range ips {
		n := &nodes[i]
		n.IP, n.HostID = ip, ids[ip]
		n.Status, n.State = gossipState(ip, live, leaving, joining, moving)
		g.Go(func() error {
			var err error
			if n.DC, err = client.Datacenter(gctx, contactHost, ip); err != nil {
				return wrap("datacenter of "+ip, err)
			}
			if n.Rack, err = client.Rack(gctx, contactHost, ip); err != nil {
				return wrap("rack of "+ip, err)
			}
			if n.Tokens, err = client.Tokens(gctx, contactHost, ip); err != nil {
				return wrap("tokens of "+ip, err)
			}
			slices.Sort(n.Tokens)
			if n.Status != StatusUp {
				n.ShardsErr, n.InfoErr = "node is down", "node is down"
				return nil
			}
			nctx, cancel := context.WithTimeout(gctx, nodeCallTimeout(gctx))
			defer cancel()
			if ni, err := client.NodeInfo(nctx, ip); err != nil {
				n.InfoErr = err.Error()
			} else {
				n.Memory, n.ScyllaVersion = ni.MemoryTotal, ni.ScyllaVersion
				for f, on := range map[string]bool{FeatureTablets: ni.EnableTablets, FeatureUUIDSSTables: ni.SstableUUIDFormat, FeatureRaftTopology: ni.ConsistentClusterManagement} {
					if on {
						n.Features = append(n.Features, f)
					}
				}
				slices.Sort(n.Features)
			}
			m, err := client.Metrics(nctx, ip, "scylla_database_total_writes")
			if err != nil {
				n.ShardsErr = err.Error()
				return nil
			}
			n.Shards = countSeries(m, "scylla_database_total_writes")
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return build(name, contactHost, nodes), nil
}

// build groups nodes into DCs and racks.
func build(name, contact string, nodes []Node) *Cluster {
	c := &Cluster{Name: name, ContactHost: contact}
	dcIdx := map[string]int{}
	for _, n := range nodes {
		i, ok := dcIdx[n.DC]
		if !ok {
			i = len(c.DCs)
			dcIdx[n.DC] = i
			c.DCs = append(c.DCs, DC{Name: n.DC})
		}
		dc := &c.DCs[i]
		j := slices.IndexFunc(dc.Racks, func(r Rack) bool { return r.Name == n.Rack })
		if j < 0 {
			dc.Racks = append(dc.Racks, Rack{Name: n.Rack})
			j = len(dc.Racks) - 1
		}
		dc.Racks[j].Nodes = append(dc.Racks[j].Nodes, n)
	}
	sort.Slice(c.DCs, func(i, j int) bool { return c.DCs[i].Name < c.DCs[j].Name })
	for i := range c.DCs {
		racks := c.DCs[i].Racks
		sort.Slice(racks, func(a, b int) bool { return racks[a].Name < racks[b].Name })
		for k := range racks {
			ns := racks[k].Nodes
			sort.Slice(ns, func(a, b int) bool { return ipLess(ns[a].IP, ns[b].IP) })
		}
	}
	return c
}

// countSeries counts the samples of metric family name in Prometheus text.
func countSeries(text []byte, name string) int {
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		if rest, ok := strings.CutPrefix(line, name); ok && (strings.HasPrefix(rest, "{") || strings.HasPrefix(rest, " ")) {
			n++
		}
	}
	return n
}

// gossipState is the status (up when live) and the state (leaving,
// joining, moving, else normal) of node ip by the gossip lists.
func gossipState(ip string, live, leaving, joining, moving []string) (Status, State) {
	status := StatusDown
	if slices.Contains(live, ip) {
		status = StatusUp
	}
	switch {
	case slices.Contains(leaving, ip):
		return status, StateLeaving
	case slices.Contains(joining, ip):
		return status, StateJoining
	case slices.Contains(moving, ip):
		return status, StateMoving
	}
	return status, StateNormal
}

// compareIP is ipLess as a comparison for slices.SortFunc.
func compareIP(a, b string) int {
	switch {
	case ipLess(a, b):
		return -1
	case ipLess(b, a):
		return 1
	}
	return 0
}

// ipLess orders addresses numerically when both parse, else as strings.
func ipLess(a, b string) bool {
	pa, pb := parseIP(a), parseIP(b)
	if pa != nil && pb != nil {
		return bytes.Compare(pa, pb) < 0
	}
	return a < b
}
