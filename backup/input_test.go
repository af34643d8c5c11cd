package backup_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/backup"
	"github.com/scyllaops/scyllaops/scyllatest"
	"github.com/scyllaops/scyllaops/store"
)

func TestParseProperties(t *testing.T) {
	p, err := backup.ParseProperties(json.RawMessage(`{"location":["dc1:s3:bkt","gcs:ccc"],"keyspace":["ks.*","!ks.x"],"rate_limit":["dc1:10","5"],"upload_parallel":["2"],"transfers":4,"continue":false}`))
	if err != nil {
		t.Fatal(err)
	}
	if p.ContinueRun() || p.TransfersValue() != 4 || p.Policy().Retention != 3 {
		t.Errorf("parsed %+v", p)
	}
	for _, tc := range []struct{ props, field string }{
		{`{}`, "location"},
		{`{"location":["s3:Bad_Bucket"]}`, "location"},
		{`{"location":["ftp:bucket"]}`, "location"},
		{`{"location":["s3:bkt","s3:c"]}`, "location"},
		{`{"location":["s3:bkt"],"flavor":"red"}`, "properties.flavor"},
		{`{"location":["s3:bkt"],"retention":-1}`, "retention"},
		{`{"location":["s3:bkt"],"retention_days":"x"}`, "properties.retention_days"},
		{`{"location":["s3:bkt"],"rate_limit":["dc1:x"]}`, "rate_limit"},
		{`{"location":["s3:bkt"],"snapshot_parallel":["-1"]}`, "snapshot_parallel"},
		{`{"location":["s3:bkt"],"upload_parallel":["a:b:1"]}`, "upload_parallel"},
		{`{"location":["s3:bkt"],"transfers":-2}`, "transfers"},
		{`{"location":["s3:bkt"],"keyspace":["ks.[x"]}`, "keyspace"},
		{`{"location":["s3:bkt"],"method":"native"}`, "method"},
		{`{"location":["s3:bkt"],"retention_lock_mode":"locked"}`, "retention_lock_mode"},
		{`[1]`, "properties"},
	} {
		_, err := backup.ParseProperties(json.RawMessage(tc.props))
		var ie *store.InvalidError
		if !errors.As(err, &ie) || ie.Field != tc.field || !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: error %v, want *store.InvalidError for %s", tc.props, err, tc.field)
		}
	}
}

// Bad input fails before any snapshot is taken.
func TestBackupBadInputBeforeSnapshot(t *testing.T) {
	e := newEnv(t, scyllatest.Options{}, backupOptions())
	for _, tc := range []struct{ props, want string }{
		{`{"location":["localstorage:Bad!"]}`, "invalid location"},
		{`{"location":["nfs:bucket"]}`, "known provider"},
		{`{"location":["localstorage:missing-bucket"]}`, "localstorage:missing-bucket is not usable from node"},
		{`{"location":["localstorage:bucket"],"keyspace":["nosuchks"]}`, "invalid keyspace \"nosuchks\""},
		{`{"location":["localstorage:bucket"],"keyspace":["ks.nosuchtable"]}`, "invalid keyspace \"ks.nosuchtable\""},
		{`{"location":["localstorage:bucket"],"dc":["dc9"]}`, "invalid dc"},
		{`{"location":["dc2:localstorage:bucket"]}`, "a location for every backed-up DC"},
		{`{"location":["localstorage:bucket"],"wat":1}`, "properties.wat"},
	} {
		_, err := e.backup(t.Context(), tc.props)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.props, err, tc.want)
		}
		if _, terr := e.svc.GetTarget(t.Context(), e.clusterID, json.RawMessage(tc.props)); terr == nil {
			t.Errorf("%s: GetTarget accepted it", tc.props)
		}
		for _, n := range e.cluster.Nodes() {
			snaps, err := e.cluster.Snapshots(n)
			if err != nil {
				t.Fatal(err)
			}
			if len(snaps) != 0 {
				t.Fatalf("%s: node %s has a snapshot after bad input", tc.props, n.IP)
			}
		}
	}
}

func TestGetTarget(t *testing.T) {
	e := newEnv(t, scyllatest.Options{}, backupOptions())
	tg, err := e.svc.GetTarget(t.Context(), e.clusterID, json.RawMessage(`{"location":["localstorage:bucket"],"keyspace":["ks","system_traces"],"retention":5}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(tg.WithHosts) != 3 || tg.Size == 0 || tg.Retention != 5 || len(tg.Location) != 1 || tg.DC[0] != "dc1" {
		t.Errorf("target %+v", tg)
	}
	var ks []string
	for _, u := range tg.Units {
		ks = append(ks, u.Keyspace)
	}
	if got := strings.Join(ks, ","); got != "system_traces,ks,system_schema" {
		t.Errorf("units %s, want system keyspaces first, system_schema last", got)
	}
	for _, n := range e.cluster.Nodes() {
		if snaps, _ := e.cluster.Snapshots(n); len(snaps) != 0 {
			t.Fatalf("dry run took a snapshot on %s", n.IP)
		}
	}
}

// viewSchema reports ks.t2 as a materialized view and an index on ks.t1.
type viewSchema struct{}

func (viewSchema) DescribeSchema(context.Context, uuid.UUID) ([]backup.SchemaRow, error) {
	return []backup.SchemaRow{
		{Keyspace: "ks", Type: "keyspace", Name: "ks", CQLStmt: "CREATE KEYSPACE ks ..."},
		{Keyspace: "ks", Type: "table", Name: "t1", CQLStmt: "CREATE TABLE ks.t1 ..."},
		{Keyspace: "ks", Type: "view", Name: "t2", CQLStmt: "CREATE MATERIALIZED VIEW ks.t2 ..."},
		{Keyspace: "ks", Type: "index", Name: "t3", CQLStmt: "CREATE INDEX t3 ON ks.t1 (v)"},
	}, nil
}

// TestTargetSkipsViews: materialized views and secondary-index tables
// (known from the CQL schema) are never backed up; they are rebuilt from
// their base tables.
func TestTargetSkipsViews(t *testing.T) {
	bo := backupOptions()
	bo.Schema = viewSchema{}
	e := newEnv(t, scyllatest.Options{Keyspaces: []scyllatest.Keyspace{{
		Name: "ks", Replication: scyllatest.Simple(2),
		Tables: []scyllatest.Table{{Name: "t1", SSTables: 1}, {Name: "t2", SSTables: 1}, {Name: "t3_index", SSTables: 1}},
	}}}, bo)
	tg, err := e.svc.GetTarget(t.Context(), e.clusterID, json.RawMessage(`{"location":["localstorage:bucket"],"keyspace":["ks"]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range tg.Units {
		if u.Keyspace != "ks" {
			continue
		}
		if strings.Join(u.Tables, ",") != "t1" || u.AllTables {
			t.Fatalf("ks unit = %+v, want only the base table t1", u)
		}
		return
	}
	t.Fatalf("no unit for ks in %+v", tg.Units)
}

// TestDCBackupOfSimpleStrategyKeyspaceSpanningDCs: a --dc dc1 backup of a
// two-DC cluster backs up what dc1 holds of system_distributed
// (SimpleStrategy, RF 3, replicas in both DCs), as Scylla Manager does,
// and names the keyspace it does not wholly cover in the dry run and in
// the run's progress; the NetworkTopologyStrategy keyspace with replicas
// in dc1 is covered and not named; a user SimpleStrategy keyspace is named.
func TestDCBackupOfSimpleStrategyKeyspaceSpanningDCs(t *testing.T) {
	e := newEnv(t, scyllatest.Options{
		Topology: []scyllatest.DC{{Name: "dc1", Racks: []scyllatest.Rack{{Name: "r1", Nodes: 3}}}, {Name: "dc2", Racks: []scyllatest.Rack{{Name: "r1", Nodes: 3}}}},
		Keyspaces: []scyllatest.Keyspace{
			{Name: "ks", Replication: scyllatest.NTS(map[string]int{"dc1": 2, "dc2": 2}), Tables: []scyllatest.Table{{Name: "t", SSTables: 1}}},
			{Name: "simple", Replication: scyllatest.Simple(2), Tables: []scyllatest.Table{{Name: "t", SSTables: 1}}},
		},
	}, backupOptions())
	props := `{"location":["localstorage:bucket"],"dc":["dc1"]}`
	tg, err := e.svc.GetTarget(t.Context(), e.clusterID, json.RawMessage(props))
	if err != nil {
		t.Fatalf("dry run of a dc1 backup: %v", err)
	}
	if len(tg.WithHosts) != 3 || !slices.Equal(tg.DC, []string{"dc1"}) {
		t.Errorf("target hosts %v dcs %v, want the 3 nodes of dc1", tg.WithHosts, tg.DC)
	}
	checkWarnings := func(where string, ws []string) {
		t.Helper()
		joined := strings.Join(ws, "\n")
		for _, ks := range []string{"system_distributed", "simple"} {
			if !strings.Contains(joined, "keyspace "+ks+" is not wholly covered by DC dc1") {
				t.Errorf("%s warnings %q, want %s named as not wholly covered", where, ws, ks)
			}
		}
		if strings.Contains(joined, "keyspace ks ") {
			t.Errorf("%s warnings %q name ks, whose replicas are all in dc1", where, ws)
		}
	}
	checkWarnings("dry run", tg.Warnings)

	p := e.mustBackup(props)
	checkWarnings("progress", p.Warnings)
	if !slices.Equal(p.DCs, []string{"dc1"}) || len(p.Hosts) != 3 {
		t.Errorf("progress dcs %v hosts %d, want dc1's 3 hosts", p.DCs, len(p.Hosts))
	}
	var sd bool
	for _, h := range p.Hosts {
		for _, k := range h.Keyspaces {
			sd = sd || k.Keyspace == "system_distributed"
		}
	}
	if !sd {
		t.Error("system_distributed not backed up from dc1")
	}

	// Without a DC filter every keyspace is wholly covered: no warning.
	tg, err = e.svc.GetTarget(t.Context(), e.clusterID, json.RawMessage(`{"location":["localstorage:bucket"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(tg.Warnings) != 0 {
		t.Errorf("warnings %q for a backup of every DC", tg.Warnings)
	}
}
