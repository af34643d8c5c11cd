package topology

import (
	"fmt"
	"net"
	"slices"
	"sort"
)

// ChangeKind names a difference between two discoveries.
type ChangeKind string

// Change kinds.
const (
	// NodeAdded: a host ID present only in the newer discovery.
	NodeAdded ChangeKind = "added"
	// NodeRemoved: a host ID present only in the older discovery.
	NodeRemoved ChangeKind = "removed"
	// NodeMoved: same host ID, different DC, rack or tokens.
	NodeMoved ChangeKind = "moved"
	// NodeReaddressed: same host ID, different IP.
	NodeReaddressed ChangeKind = "readdressed"
	// NodeDown: status went from U to D.
	NodeDown ChangeKind = "down"
	// NodeUp: status went from D to U.
	NodeUp ChangeKind = "up"
	// NodeStateChanged: ring state changed (e.g. N to L).
	NodeStateChanged ChangeKind = "state"
	// DCAdded: a DC present only in the newer discovery (DC names it;
	// its nodes are NodeAdded changes too).
	DCAdded ChangeKind = "dc_added"
	// DCRemoved: a DC present only in the older discovery.
	DCRemoved ChangeKind = "dc_removed"
)

// Change is one difference between two discoveries.
type Change struct {
	Kind ChangeKind
	// HostID identifies the node.
	HostID string
	// IP is the node's address in the newer discovery (the older one for
	// NodeRemoved).
	IP string
	// From and To are the node in the older and newer discovery (zero for
	// added / removed).
	From, To Node
	// DC is the DC of DCAdded and DCRemoved (the node's DC otherwise).
	DC string
	// Detail describes the change in words, e.g. "dc1/rack1 -> dc1/rack2".
	Detail string
}

func (c Change) String() string {
	if c.Kind == DCAdded || c.Kind == DCRemoved {
		return fmt.Sprintf("%s %s: %s", c.Kind, c.DC, c.Detail)
	}
	return fmt.Sprintf("%s %s (%s): %s", c.Kind, c.IP, c.HostID, c.Detail)
}

// Diff returns the changes from a to b: DCs added and removed first (by
// DC), then node changes matched by host ID, sorted by IP and kind. A nil cluster counts as empty.
func Diff(a, b *Cluster) []Change {
	index := func(c *Cluster) map[string]Node {
		m := map[string]Node{}
		if c != nil {
			for _, n := range c.Nodes() {
				m[n.HostID] = n
			}
		}
		return m
	}
	am, bm := index(a), index(b)
	var out []Change
	dcs := func(c *Cluster) map[string]int {
		m := map[string]int{}
		if c != nil {
			for _, dc := range c.DCs {
				for _, r := range dc.Racks {
					m[dc.Name] += len(r.Nodes)
				}
			}
		}
		return m
	}
	adc, bdc := dcs(a), dcs(b)
	for dc, n := range bdc {
		if _, ok := adc[dc]; !ok {
			out = append(out, Change{Kind: DCAdded, DC: dc, Detail: fmt.Sprintf("%d nodes", n)})
		}
	}
	for dc, n := range adc {
		if _, ok := bdc[dc]; !ok {
			out = append(out, Change{Kind: DCRemoved, DC: dc, Detail: fmt.Sprintf("had %d nodes", n)})
		}
	}
	for id, o := range am {
		if _, ok := bm[id]; !ok {
			out = append(out, Change{Kind: NodeRemoved, HostID: id, IP: o.IP, DC: o.DC, From: o, Detail: "left the cluster"})
		}
	}
	for id, n := range bm {
		o, ok := am[id]
		if !ok {
			out = append(out, Change{Kind: NodeAdded, HostID: id, IP: n.IP, DC: n.DC, To: n, Detail: fmt.Sprintf("joined %s/%s", n.DC, n.Rack)})
			continue
		}
		ch := func(k ChangeKind, d string) {
			out = append(out, Change{Kind: k, HostID: id, IP: n.IP, DC: n.DC, From: o, To: n, Detail: d})
		}
		if o.IP != n.IP {
			ch(NodeReaddressed, o.IP+" -> "+n.IP)
		}
		if o.DC != n.DC || o.Rack != n.Rack {
			ch(NodeMoved, fmt.Sprintf("%s/%s -> %s/%s", o.DC, o.Rack, n.DC, n.Rack))
		} else if !slices.Equal(o.Tokens, n.Tokens) {
			ch(NodeMoved, fmt.Sprintf("tokens changed (%d -> %d)", len(o.Tokens), len(n.Tokens)))
		}
		switch {
		case o.Status == StatusUp && n.Status == StatusDown:
			ch(NodeDown, "U -> D")
		case o.Status == StatusDown && n.Status == StatusUp:
			ch(NodeUp, "D -> U")
		}
		if o.State != n.State {
			ch(NodeStateChanged, string(o.State)+" -> "+string(n.State))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].IP == "" || out[j].IP == "" { // DC changes first, by DC
			if out[i].IP != out[j].IP {
				return out[i].IP == ""
			}
			return out[i].DC+string(out[i].Kind) < out[j].DC+string(out[j].Kind)
		}
		if out[i].IP != out[j].IP {
			return ipLess(out[i].IP, out[j].IP)
		}
		return out[i].Kind < out[j].Kind
	})
	return out
}

func parseIP(s string) net.IP {
	ip := net.ParseIP(s)
	if ip == nil {
		return nil
	}
	return ip.To16()
}
