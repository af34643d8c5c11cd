package restore

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/scyllaops/scyllaops/internal/backupspec"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/topology"
)

func TestParseProperties(t *testing.T) {
	const base = `"location":["s3:bkt"],"snapshot_tag":"sm_20240101000000UTC"`
	for _, tc := range []struct {
		raw, field string // field "" = valid
	}{
		{`{` + base + `,"restore_tables":true}`, ""},
		{`{` + base + `,"restore_schema":true}`, ""},
		{`{` + base + `,"nodes_mapping":[{"source":{"dc":"a","rack":"r","host_id":"h"},"target":{"dc":"a","rack":"r","host_id":"g"}}]}`, ""},
		{`{` + base + `}`, "restore_tables"},
		{`{` + base + `,"restore_tables":true,"restore_schema":true}`, "restore_tables"},
		{`{"location":["s3:bkt"],"snapshot_tag":"x","restore_tables":true}`, "snapshot_tag"},
		{`{"snapshot_tag":"sm_20240101000000UTC","restore_tables":true}`, "location"},
		{`{` + base + `,"restore_tables":true,"batch_size":-1}`, "batch_size"},
		{`{` + base + `,"restore_tables":true,"dc_mapping":{"dc1":""}}`, "dc_mapping"},
		{`{` + base + `,"restore_tables":true,"keyspace":["[x"]}`, "keyspace"},
		{`{` + base + `,"restore_tables":true,"bogus":1}`, "properties.bogus"},
		{`{` + base + `,"nodes_mapping":[{"source":{"dc":"a"}}]}`, "nodes_mapping[0]"},
	} {
		_, err := ParseProperties([]byte(tc.raw))
		if tc.field == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.raw, err)
			}
			continue
		}
		var ie *store.InvalidError
		if !errors.As(err, &ie) || ie.Field != tc.field {
			t.Errorf("%s: err %v, want invalid %s", tc.raw, err, tc.field)
		}
	}
}

func TestFilterNeverSelectsSystemKeyspaces(t *testing.T) {
	f := newFilter([]string{"*"})
	if f.match("system_schema", "tables") || !f.match("ks", "t") {
		t.Fatal("filter * must select user tables only")
	}
	f = newFilter([]string{"ks", "!ks.big"})
	if !f.match("ks", "t") || f.match("ks", "big") || f.match("other", "t") {
		t.Fatal("last matching pattern decides")
	}
}

func TestMakeBatchesUniqueIDsAndBalance(t *testing.T) {
	idx := &snapshotIndex{tables: map[string][]*sstable{}}
	// Two source nodes with the same generations (integer IDs collide).
	// Equal sizes per ID, so sorting by size puts equal IDs side by side.
	for _, node := range []string{"n1", "n2"} {
		for i, id := range []string{"1", "2", "3", "4"} {
			idx.tables["ks.t"] = append(idx.tables["ks.t"], &sstable{SrcDC: "dc1", SrcNode: node, ID: id, Size: int64(100 + i), Files: []string{"me-" + id + "-big-Data.db"}})
		}
	}
	hosts := []Host{{IP: "a", DC: "x", Shards: 1}, {IP: "b", DC: "x", Shards: 1}}
	batches := makeBatches(idx, map[string]string{"ks.t": "v"}, map[string]string{"dc1": "x"}, nil, hosts, 2)
	total := 0
	load := map[string]int64{}
	for _, b := range batches {
		seen := map[string]bool{}
		for _, s := range b.SSTables {
			if seen[s.ID] {
				t.Fatalf("batch on %s holds sstable ID %s twice", b.Host, s.ID)
			}
			seen[s.ID] = true
		}
		if len(b.SSTables) > 2 || len(b.Downloaded) != len(b.SSTables) || b.Version != "v" {
			t.Fatalf("batch %+v", b)
		}
		total += len(b.SSTables)
		load[b.Host] += b.Size
	}
	if diff := load["a"] - load["b"]; total != 8 || diff > 2*103 || diff < -2*103 {
		t.Fatalf("%d sstables batched, load %v", total, load)
	}
}

func TestCheckComplete(t *testing.T) {
	m := func(dc, node string, tokens ...int64) srcManifest {
		return srcManifest{m: &backupspec.ManifestWithIndex{Manifest: backupspec.Manifest{DC: dc, NodeID: node, Tokens: tokens}}}
	}
	ok := []srcManifest{m("dc1", "n1", 1, 5), m("dc1", "n2", 3, 7)}
	if err := checkComplete("sm_x", ok, nil, map[string]bool{"dc1/n1": true, "dc1/n2": true}); err != nil {
		t.Fatal(err)
	}
	err := checkComplete("sm_x", ok, []backupspec.ManifestInfo{{DC: "dc1", NodeID: "n3", Temporary: true}}, map[string]bool{"dc1/n1": true, "dc1/n2": true})
	if !errors.Is(err, ErrIncompleteSnapshot) || !strings.Contains(err.Error(), "n3") {
		t.Fatalf("unfinished node: %v", err)
	}
	err = checkComplete("sm_x", []srcManifest{m("dc1", "n1", 1), m("dc1", "n2")}, nil, nil)
	if !errors.Is(err, ErrIncompleteSnapshot) || !strings.Contains(err.Error(), "n2") {
		t.Fatalf("node without tokens: %v", err)
	}
}

func TestDCMapping(t *testing.T) {
	one := &topology.Cluster{DCs: []topology.DC{{Name: "x"}}}
	two := &topology.Cluster{DCs: []topology.DC{{Name: "dc1"}, {Name: "y"}}}
	got, err := dcMapping(nil, []string{"dc1", "dc2"}, one)
	if err != nil || !cmp.Equal(got, map[string]string{"dc1": "x", "dc2": "x"}) {
		t.Fatalf("into one DC: %v %v", got, err)
	}
	got, err = dcMapping(nil, []string{"dc1"}, two)
	if err != nil || !cmp.Equal(got, map[string]string{"dc1": "dc1"}) {
		t.Fatalf("same names: %v %v", got, err)
	}
	for _, m := range []map[string]string{{"dc9": "x"}, {"dc1": "z"}} {
		if _, err := dcMapping(m, []string{"dc1"}, one); !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "dc_mapping") {
			t.Fatalf("%v: %v", m, err)
		}
	}
	if _, err := dcMapping(nil, []string{"dc2"}, two); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("unmapped DC into two DCs: %v", err)
	}
}
