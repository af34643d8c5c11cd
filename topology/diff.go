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
	// Detail describes the change in words, e.g. "dc1/rack1 -> dc1/rack2".
	Detail string
}

func (c Change) String() string {
	return fmt.Sprintf("%s %s (%s): %s", c.Kind, c.IP, c.HostID, c.Detail)
}

// Diff returns the changes from a to b, matched by host ID, sorted by IP
// and kind. A nil cluster counts as empty.
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
	for id, o := range am {
		if _, ok := bm[id]; !ok {
			out = append(out, Change{Kind: NodeRemoved, HostID: id, IP: o.IP, From: o, Detail: "left the cluster"})
		}
	}
	for id, n := range bm {
		o, ok := am[id]
		if !ok {
			out = append(out, Change{Kind: NodeAdded, HostID: id, IP: n.IP, To: n, Detail: fmt.Sprintf("joined %s/%s", n.DC, n.Rack)})
			continue
		}
		ch := func(k ChangeKind, d string) {
			out = append(out, Change{Kind: k, HostID: id, IP: n.IP, From: o, To: n, Detail: d})
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
