package scyllatest_test

import (
	"strconv"
	"testing"

	"github.com/scyllaops/scyllaops/internal/ring"
	"github.com/scyllaops/scyllaops/scyllatest"
)

func TestDescribeRingPlacement(t *testing.T) {
	topo := []scyllatest.DC{
		{Name: "dc1", Racks: []scyllatest.Rack{{Name: "r1", Nodes: 2}, {Name: "r2", Nodes: 2}, {Name: "r3", Nodes: 1}}},
		{Name: "dc2", Racks: []scyllatest.Rack{{Name: "r1", Nodes: 1}, {Name: "r2", Nodes: 2}}},
	}
	c := scyllatest.New(t, scyllatest.Options{
		Topology:      topo,
		TokensPerNode: 16,
		Keyspaces: []scyllatest.Keyspace{
			{Name: "simple", Replication: ring.Replication{Strategy: ring.SimpleStrategy, RF: 3}},
			{Name: "nts", Replication: ring.Replication{Strategy: ring.NetworkTopologyStrategy, DCRF: map[string]int{"dc1": 3, "dc2": 2}}},
		},
	})
	owner := map[int64]*scyllatest.Node{}
	byIP := map[string]*scyllatest.Node{}
	for _, n := range c.Nodes() {
		byIP[n.IP] = n
		for _, tk := range n.Tokens {
			owner[tk] = n
		}
	}
	client := c.Client()
	for _, ks := range []string{"simple", "nts"} {
		t.Run(ks, func(t *testing.T) {
			// Any node answers the same ring.
			rs, err := client.DescribeRing(t.Context(), c.Hosts()[5], ks, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != 8*16 {
				t.Fatalf("%d ranges, want %d", len(rs), 8*16)
			}
			for i, r := range rs {
				start, _ := strconv.ParseInt(r.StartToken, 10, 64)
				end, _ := strconv.ParseInt(r.EndToken, 10, 64)
				prev, _ := strconv.ParseInt(rs[(i+len(rs)-1)%len(rs)].EndToken, 10, 64)
				if start != prev {
					t.Fatalf("range %d starts at %d, want previous end %d", i, start, prev)
				}
				if owner[end] == nil || r.Endpoints[0] != owner[end].IP {
					t.Fatalf("range %d:%d primary %v, want owner of end token", start, end, r.Endpoints)
				}
				if len(r.EndpointDetails) != len(r.Endpoints) {
					t.Fatalf("endpoint_details %d != endpoints %d", len(r.EndpointDetails), len(r.Endpoints))
				}
				seen := map[string]bool{}
				perDC := map[string]int{}
				racks := map[string]bool{}
				for j, ip := range r.Endpoints {
					n := byIP[ip]
					if seen[ip] {
						t.Fatalf("range %d:%d replica %s twice", start, end, ip)
					}
					seen[ip] = true
					perDC[n.DC]++
					racks[n.DC+"/"+n.Rack] = true
					d := r.EndpointDetails[j]
					if d.Host != ip || d.Datacenter != n.DC || d.Rack != n.Rack {
						t.Fatalf("endpoint detail %+v does not match node %s %s/%s", d, ip, n.DC, n.Rack)
					}
				}
				switch ks {
				case "simple":
					if len(r.Endpoints) != 3 {
						t.Fatalf("simple RF 3: %d replicas", len(r.Endpoints))
					}
				case "nts":
					if perDC["dc1"] != 3 || perDC["dc2"] != 2 {
						t.Fatalf("nts: replicas per DC %v, want dc1:3 dc2:2", perDC)
					}
					// dc1 has 3 racks and dc2 2: every replica on its own rack.
					if len(racks) != 5 {
						t.Fatalf("nts: replicas %v share a rack", r.Endpoints)
					}
				}
			}
		})
	}
}
