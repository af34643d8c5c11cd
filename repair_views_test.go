package scyllaops_test

import (
	"encoding/json"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/repair"
	"github.com/scyllaops/scyllaops/scyllatest"
	"github.com/scyllaops/scyllaops/store/memstore"
)

// TestRepairViewsAfterBaseTables: a materialized view smaller than every
// table (size order would put it first) is planned after the tables of
// its keyspace, the Manager telling it from a table through CQL's
// system_schema.views, and none of its repair jobs starts before the
// last job of its base table has ended.
func TestRepairViewsAfterBaseTables(t *testing.T) {
	ctx := t.Context()
	sim := scyllatest.New(t, scyllatest.Options{Topology: scyllatest.Topology3(6), TokensPerNode: 16, RepairRangeDelay: time.Millisecond,
		Keyspaces: []scyllatest.Keyspace{{Name: "ks", Replication: scyllatest.Simple(2), Tables: []scyllatest.Table{
			{Name: "big", SSTables: 3}, {Name: "mid", SSTables: 2}, {Name: "mv", SSTables: 1, BaseTable: "big"},
		}}}})
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	m, err := scyllaops.New(st, sim.Transport(), scyllaops.Options{CQLDial: sim.CQLDialer().DialContext,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	c, err := m.CreateCluster(ctx, scyllaops.Cluster{Name: "p", Host: sim.ContactHost(), AuthToken: sim.AuthToken(), WithoutRepair: true})
	if err != nil {
		t.Fatal(err)
	}
	ti, err := m.Repair().Target(ctx, "p", json.RawMessage(`{"keyspace":["ks"],"small_table_threshold":"1B"}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(ti.Units) != 1 || !slices.Equal(ti.Units[0].Tables, []string{"mid", "big", "mv"}) {
		t.Fatalf("target units %+v, want ks: mid, big (by size), then the view mv", ti.Units)
	}
	if tb := ti.Plan.Keyspaces[0].Tables[2]; !tb.View || tb.BaseTable != "big" {
		t.Errorf("plan table %+v, want a view of big", tb)
	}

	// Parallel 0 (max) and a small intensity: many jobs, so a view job
	// could start early if nothing held it back.
	one := 1.0
	if err := m.Repair().RepairTables(ctx, c.ID, []string{"ks"}, repair.TablesOptions{Properties: repair.Properties{SmallTableThreshold: 1, Intensity: &one}}); err != nil {
		t.Fatal(err)
	}
	var baseEnd, viewStart time.Time
	views := 0
	for _, j := range sim.RepairJobs() {
		switch {
		case slices.Equal(j.Tables, []string{"big"}) && j.End.After(baseEnd):
			baseEnd = j.End
		case slices.Equal(j.Tables, []string{"mv"}):
			views++
			if viewStart.IsZero() || j.Start.Before(viewStart) {
				viewStart = j.Start
			}
		}
	}
	if views == 0 || baseEnd.IsZero() {
		t.Fatalf("jobs: %d of the view, base table end %v", views, baseEnd)
	}
	if viewStart.Before(baseEnd) {
		t.Errorf("first job of the view started at %v, before the last job of its base table ended (%v)", viewStart, baseEnd)
	}
}
