package scyllatest_test

import (
	"strings"
	"testing"

	"github.com/scyllaops/scyllaops/scyllatest"
)

func TestOptionsValidate(t *testing.T) {
	if err := (scyllatest.Options{}).Validate(); err != nil {
		t.Fatalf("zero options: %v", err)
	}
	cases := []struct {
		name  string
		opts  scyllatest.Options
		field string
	}{
		{"tokens", scyllatest.Options{TokensPerNode: -1}, "TokensPerNode"},
		{"shards", scyllatest.Options{Shards: 1000}, "Shards"},
		{"dc name", scyllatest.Options{Topology: []scyllatest.DC{{Racks: []scyllatest.Rack{{Name: "r", Nodes: 1}}}}}, "Topology[0].Name"},
		{"no racks", scyllatest.Options{Topology: []scyllatest.DC{{Name: "dc1"}}}, "Topology[0].Racks"},
		{"dup rack", scyllatest.Options{Topology: []scyllatest.DC{{Name: "dc1", Racks: []scyllatest.Rack{{Name: "r", Nodes: 1}, {Name: "r", Nodes: 1}}}}}, "Racks[1].Name"},
		{"no nodes", scyllatest.Options{Topology: []scyllatest.DC{{Name: "dc1", Racks: []scyllatest.Rack{{Name: "r"}}}}}, "Racks[0].Nodes"},
		{"system ks", scyllatest.Options{Keyspaces: []scyllatest.Keyspace{{Name: "system_auth", Replication: scyllatest.Simple(1)}}}, "Keyspaces[0].Name"},
		{"bad rf", scyllatest.Options{Keyspaces: []scyllatest.Keyspace{{Name: "ks", Replication: scyllatest.Simple(0)}}}, "Keyspaces[0].Replication"},
		{"unknown dc", scyllatest.Options{Keyspaces: []scyllatest.Keyspace{{Name: "ks", Replication: scyllatest.NTS(map[string]int{"mars": 1})}}}, "Keyspaces[0].Replication"},
		{"bad strategy", scyllatest.Options{Keyspaces: []scyllatest.Keyspace{{Name: "ks", Replication: scyllatest.Replication{Strategy: "Everywhere"}}}}, "Keyspaces[0].Replication"},
		{"table name", scyllatest.Options{Keyspaces: []scyllatest.Keyspace{{Name: "ks", Replication: scyllatest.Simple(1), Tables: []scyllatest.Table{{Name: "a-b"}}}}}, "Tables[0].Name"},
		{"negative size", scyllatest.Options{Keyspaces: []scyllatest.Keyspace{{Name: "ks", Replication: scyllatest.Simple(1), Tables: []scyllatest.Table{{Name: "t", DataSize: -1}}}}}, "Tables[0]"},
		{"repair delay", scyllatest.Options{RepairRangeDelay: -1}, "RepairRangeDelay"},
		{"view of nothing", scyllatest.Options{Keyspaces: []scyllatest.Keyspace{{Name: "ks", Replication: scyllatest.Simple(1), Tables: []scyllatest.Table{{Name: "v", BaseTable: "t"}}}}}, "Tables[0].BaseTable"},
		{"view of a view", scyllatest.Options{Keyspaces: []scyllatest.Keyspace{{Name: "ks", Replication: scyllatest.Simple(1), Tables: []scyllatest.Table{{Name: "t"}, {Name: "v", BaseTable: "t"}, {Name: "w", BaseTable: "v"}}}}}, "Tables[2].BaseTable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opts.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("Validate() = %v, want an error naming %s", err, tc.field)
			}
			if _, err := scyllatest.Start(tc.opts); err == nil {
				t.Fatal("Start accepted invalid options")
			}
		})
	}
}
