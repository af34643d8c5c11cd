package topology_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/scyllatest"
	"github.com/scyllaops/scyllaops/topology"
)

func newCluster(t *testing.T) *scyllatest.Cluster {
	return scyllatest.New(t, scyllatest.Options{
		ClusterName: "prod",
		Topology: []scyllatest.DC{
			{Name: "eu", Racks: []scyllatest.Rack{{Name: "a", Nodes: 2}, {Name: "b", Nodes: 1}}},
			{Name: "us", Racks: []scyllatest.Rack{{Name: "a", Nodes: 2}}},
		},
		TokensPerNode: 8,
		Shards:        4,
	})
}

func TestDiscover(t *testing.T) {
	c := newCluster(t)
	got, err := topology.Discover(t.Context(), c.Client(), c.Hosts()[3])
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "prod" || got.ContactHost != c.Hosts()[3] {
		t.Fatalf("name %q contact %q", got.Name, got.ContactHost)
	}
	var want []topology.Node
	for _, n := range c.Nodes() {
		want = append(want, topology.Node{
			IP: n.IP, HostID: n.HostID.String(), DC: n.DC, Rack: n.Rack,
			Status: topology.StatusUp, State: topology.StateNormal, Tokens: n.Tokens, Shards: 4,
		})
	}
	if d := cmp.Diff(want, got.Nodes(), cmpopts.IgnoreFields(topology.Node{}, "Memory", "ScyllaVersion", "Features")); d != "" {
		t.Fatalf("nodes (-want +got):\n%s", d)
	}
	for _, n := range got.Nodes() {
		if n.Memory <= 0 || n.ScyllaVersion == "" || n.InfoErr != "" {
			t.Errorf("node %s: memory %d, version %q, info error %q: want node_info facts", n.IP, n.Memory, n.ScyllaVersion, n.InfoErr)
		}
	}
	if len(got.DCs) != 2 || got.DCs[0].Name != "eu" || len(got.DCs[0].Racks) != 2 || got.DCs[0].Racks[1].Name != "b" || len(got.DCs[1].Racks[0].Nodes) != 2 {
		t.Fatalf("grouping %+v", got.DCs)
	}
	if d := topology.Diff(c.Topology(), got); len(d) != 0 {
		t.Fatalf("discovery differs from the simulator's truth: %v", d)
	}
	if n, ok := got.Node(c.Hosts()[0]); !ok || n.StatusState() != "UN" {
		t.Fatalf("node lookup %+v %v", n, ok)
	}
}

func TestDiscoverDownAddedAndDiff(t *testing.T) {
	c := newCluster(t)
	ctx := t.Context()
	before, err := topology.Discover(ctx, c.Client(), c.ContactHost())
	if err != nil {
		t.Fatal(err)
	}
	if d := topology.Diff(before, before); len(d) != 0 {
		t.Fatalf("diff of a discovery with itself: %v", d)
	}
	down := c.Nodes()[1]
	if err := c.Stop(down); err != nil {
		t.Fatal(err)
	}
	added, err := c.AddNode("us", "b")
	if err != nil {
		t.Fatal(err)
	}
	c.SetState(added, scyllatest.StateJoining)
	leaving := c.Nodes()[4]
	c.SetState(leaving, scyllatest.StateLeaving)

	after, err := topology.Discover(ctx, c.Client(), c.Nodes()[0].IP)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := after.Node(down.IP)
	if n.StatusState() != "DN" || n.Shards != 0 || n.ShardsErr == "" || len(n.Tokens) != 8 {
		t.Fatalf("down node %+v: want DN, no shards with a reason, tokens known", n)
	}
	if n, _ := after.Node(added.IP); n.StatusState() != "UJ" || n.DC != "us" || n.Rack != "b" || n.Shards != 4 {
		t.Fatalf("added node %+v", n)
	}
	if slices.Contains(after.LiveHosts(), down.IP) || len(after.LiveHosts()) != 5 {
		t.Fatalf("live hosts %v", after.LiveHosts())
	}

	if d := topology.Diff(c.Topology(), after); len(d) != 0 {
		t.Fatalf("discovery differs from the simulator's truth: %v", d)
	}
	var got []string
	for _, ch := range topology.Diff(before, after) {
		got = append(got, string(ch.Kind)+" "+ch.IP)
	}
	want := []string{"down " + down.IP, "state " + leaving.IP, "added " + added.IP}
	slices.Sort(want)
	slices.Sort(got)
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("diff (-want +got):\n%s", d)
	}
	// And back: removed, up.
	var back []string
	for _, ch := range topology.Diff(after, before) {
		back = append(back, string(ch.Kind))
	}
	slices.Sort(back)
	if d := cmp.Diff([]string{"removed", "state", "up"}, back); d != "" {
		t.Fatalf("reverse diff (-want +got):\n%s", d)
	}
}

func TestDiffMovedAndReaddressed(t *testing.T) {
	a := &topology.Cluster{DCs: []topology.DC{{Name: "dc1", Racks: []topology.Rack{{Name: "r1", Nodes: []topology.Node{
		{IP: "10.0.0.1", HostID: "h1", DC: "dc1", Rack: "r1", Status: "U", State: "N", Tokens: []int64{1, 2}},
		{IP: "10.0.0.2", HostID: "h2", DC: "dc1", Rack: "r1", Status: "U", State: "N", Tokens: []int64{3}},
	}}}}}}
	b := &topology.Cluster{DCs: []topology.DC{{Name: "dc1", Racks: []topology.Rack{{Name: "r2", Nodes: []topology.Node{
		{IP: "10.0.0.1", HostID: "h1", DC: "dc1", Rack: "r2", Status: "U", State: "N", Tokens: []int64{1, 2}},
		{IP: "10.0.0.9", HostID: "h2", DC: "dc1", Rack: "r2", Status: "U", State: "N", Tokens: []int64{3}},
	}}}}}}
	var got []string
	for _, ch := range topology.Diff(a, b) {
		got = append(got, ch.String())
	}
	want := []string{
		"moved 10.0.0.1 (h1): dc1/r1 -> dc1/r2",
		"moved 10.0.0.9 (h2): dc1/r1 -> dc1/r2",
		"readdressed 10.0.0.9 (h2): 10.0.0.2 -> 10.0.0.9",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("diff (-want +got):\n%s", d)
	}
	if d := topology.Diff(nil, a); len(d) != 3 || d[0].Kind != topology.DCAdded || d[0].DC != "dc1" || d[1].Kind != topology.NodeAdded || d[2].Kind != topology.NodeAdded {
		t.Fatalf("diff from nil: %v, want dc_added dc1 and two added", d)
	}
}

func TestDiscoverContactDown(t *testing.T) {
	c := newCluster(t)
	n := c.Nodes()[0]
	if err := c.Stop(n); err != nil {
		t.Fatal(err)
	}
	_, err := topology.Discover(t.Context(), c.Client(), n.IP)
	if !errors.Is(err, agentclient.ErrUnreachable) {
		t.Fatalf("discover from a stopped node: %v, want ErrUnreachable", err)
	}
}
