package scyllatest

import (
	"slices"

	"github.com/scyllaops/scyllaops/topology"
)

// Topology returns the cluster as the simulator knows it (not as gossip
// reports it): every node with its host ID, DC, rack, status (D when
// stopped or partitioned away from the manager), ring state, tokens and
// shard count. topology.Diff against a discovery shows what discovery got
// wrong.
func (c *Cluster) Topology() *topology.Cluster {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := &topology.Cluster{Name: c.opts.ClusterName}
	for _, n := range c.nodes {
		tn := topology.Node{
			IP: n.IP, HostID: n.HostID.String(), DC: n.DC, Rack: n.Rack,
			Status: topology.StatusUp, State: topology.State(n.state),
			Tokens: slices.Clone(n.Tokens), Shards: len(n.writes),
		}
		if !n.up || c.partitioned[n.IP] {
			tn.Status = topology.StatusDown
			tn.Shards = 0
		}
		di := slices.IndexFunc(out.DCs, func(d topology.DC) bool { return d.Name == n.DC })
		if di < 0 {
			out.DCs = append(out.DCs, topology.DC{Name: n.DC})
			di = len(out.DCs) - 1
		}
		dc := &out.DCs[di]
		ri := slices.IndexFunc(dc.Racks, func(r topology.Rack) bool { return r.Name == n.Rack })
		if ri < 0 {
			dc.Racks = append(dc.Racks, topology.Rack{Name: n.Rack})
			ri = len(dc.Racks) - 1
		}
		dc.Racks[ri].Nodes = append(dc.Racks[ri].Nodes, tn)
	}
	slices.SortFunc(out.DCs, func(a, b topology.DC) int { return cmpString(a.Name, b.Name) })
	for i := range out.DCs {
		slices.SortFunc(out.DCs[i].Racks, func(a, b topology.Rack) int { return cmpString(a.Name, b.Name) })
	}
	return out
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
