package scyllatest_test

import (
	"testing"

	"github.com/scyllaops/scyllaops/scyllatest"
)

// BenchmarkStart measures starting and closing an 18-node cluster (2 DCs x
// 3 racks x 3 nodes, 256 tokens each, one keyspace with 2 sstables per node).
func BenchmarkStart(b *testing.B) {
	topo := []scyllatest.DC{
		{Name: "dc1", Racks: []scyllatest.Rack{{Name: "r1", Nodes: 3}, {Name: "r2", Nodes: 3}, {Name: "r3", Nodes: 3}}},
		{Name: "dc2", Racks: []scyllatest.Rack{{Name: "r1", Nodes: 3}, {Name: "r2", Nodes: 3}, {Name: "r3", Nodes: 3}}},
	}
	for b.Loop() {
		c, err := scyllatest.Start(scyllatest.Options{Topology: topo, DataDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDescribeRing measures one describe_ring of an NTS keyspace on
// the 18-node cluster (4608 ranges) through the agent and client.
func BenchmarkDescribeRing(b *testing.B) {
	c := scyllatest.New(b, scyllatest.Options{
		Topology: []scyllatest.DC{
			{Name: "dc1", Racks: []scyllatest.Rack{{Name: "r1", Nodes: 3}, {Name: "r2", Nodes: 3}, {Name: "r3", Nodes: 3}}},
			{Name: "dc2", Racks: []scyllatest.Rack{{Name: "r1", Nodes: 3}, {Name: "r2", Nodes: 3}, {Name: "r3", Nodes: 3}}},
		},
		Keyspaces: []scyllatest.Keyspace{{Name: "ks", Replication: scyllatest.NTS(map[string]int{"dc1": 3, "dc2": 3})}},
	})
	host := c.ContactHost()
	for b.Loop() {
		rs, err := c.Client().DescribeRing(b.Context(), host, "ks", "")
		if err != nil || len(rs) != 18*256 {
			b.Fatalf("%d ranges, %v", len(rs), err)
		}
	}
}
