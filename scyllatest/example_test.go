package scyllatest_test

import (
	"context"
	"fmt"

	"github.com/scyllaops/scyllaops/internal/ring"
	"github.com/scyllaops/scyllaops/scyllatest"
)

// Start a two-DC cluster (in-process, no sockets), then talk to a node
// through its agent as a manager would.
func ExampleStart() {
	c, err := scyllatest.Start(scyllatest.Options{
		ClusterName: "demo",
		Topology: []scyllatest.DC{
			{Name: "dc1", Racks: []scyllatest.Rack{{Name: "r1", Nodes: 2}, {Name: "r2", Nodes: 1}}},
			{Name: "dc2", Racks: []scyllatest.Rack{{Name: "r1", Nodes: 2}}},
		},
		TokensPerNode: 16,
		Keyspaces: []scyllatest.Keyspace{{
			Name:        "shop",
			Replication: ring.Replication{Strategy: ring.NetworkTopologyStrategy, DCRF: map[string]int{"dc1": 3, "dc2": 2}},
			Tables:      []scyllatest.Table{{Name: "orders", SSTables: 2}},
		}},
	})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	ctx := context.Background()
	host := c.ContactHost()
	name, _ := c.Client().ClusterName(ctx, host)
	ids, _ := c.Client().HostIDMap(ctx, host)
	ranges, _ := c.Client().DescribeRing(ctx, host, "shop", "")
	fmt.Println(name, len(ids), "nodes")
	fmt.Println(len(ranges), "ranges with", len(ranges[0].Endpoints), "replicas each")
	// Output:
	// demo 5 nodes
	// 80 ranges with 5 replicas each
}
