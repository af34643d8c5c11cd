package scyllatest

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/internal/ring"
)

// systemKeyspaces are created in every simulated cluster: name → tables.
var systemKeyspaces = []struct {
	name   string
	repl   ring.Replication
	tables []string
}{
	{"system", ring.Replication{Strategy: ring.LocalStrategy}, []string{"local", "peers", "truncated"}},
	{"system_schema", ring.Replication{Strategy: ring.LocalStrategy}, []string{"keyspaces", "tables", "columns", "types", "views", "indexes"}},
	{"system_distributed", ring.Replication{Strategy: ring.SimpleStrategy, RF: 3}, []string{"view_build_status", "cdc_streams_descriptions_v2"}},
	{"system_traces", ring.Replication{Strategy: ring.SimpleStrategy, RF: 2}, []string{"events", "sessions"}},
}

func isSystemKeyspace(name string) bool {
	return name == "system" || strings.HasPrefix(name, "system_")
}

// keyspace is the simulated schema of one keyspace. Guarded by Cluster.mu.
type keyspace struct {
	name          string
	repl          ring.Replication
	durableWrites bool
	tables        map[string]*table
}

// table is one table of the simulated schema. Guarded by Cluster.mu.
type table struct {
	ks, name string
	id       uuid.UUID
	// columns is the column list of the CREATE TABLE statement, e.g.
	// "id uuid PRIMARY KEY, v blob".
	columns string
	// spec sizes new sstables (WriteData).
	spec Table
	// tombstoneGC is the mode set by ALTER TABLE … WITH tombstone_gc
	// ("" = never set: Scylla's default, timeout).
	tombstoneGC string
	// builtAt is when a view created over CQL has been built on every
	// node (zero: built).
	builtAt time.Time
}

// TombstoneGCChange is one ALTER TABLE … WITH tombstone_gc applied.
type TombstoneGCChange struct {
	Keyspace, Table, Mode string
}

// TombstoneGCChanges returns every tombstone_gc change applied over CQL,
// in order.
func (c *Cluster) TombstoneGCChanges() []TombstoneGCChange {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]TombstoneGCChange(nil), c.tgcChanges...)
}

// ViewChange is one CREATE or DROP MATERIALIZED VIEW applied over CQL.
type ViewChange struct {
	Keyspace, View, BaseTable string
	// Change is "CREATED" or "DROPPED".
	Change string
	// LoadsBefore is the number of storage_service/sstables loads that
	// had finished when it was applied (LoadRecord count).
	LoadsBefore int
	// At is when it was applied.
	At time.Time
}

// SetViewBuildTime makes the materialized views created over CQL from
// now on report STARTED in storage_service/view_build_statuses for d
// after their creation, then SUCCESS. Default 0: built at once.
func (c *Cluster) SetViewBuildTime(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.viewBuildTime = d
}

// getViewBuildStatuses serves GET
// /storage_service/view_build_statuses/{keyspace}/{view}: every node's
// status of the view's build, [] for an unknown view.
func (n *Node) getViewBuildStatuses(w http.ResponseWriter, r *http.Request) {
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	out := []map[string]string{}
	t, err := n.c.tableLocked(r.PathValue("keyspace"), r.PathValue("view"))
	if err == nil && t.spec.BaseTable != "" {
		status := "SUCCESS"
		if time.Now().Before(t.builtAt) {
			status = "STARTED"
		}
		for _, x := range n.c.nodes {
			out = append(out, map[string]string{"key": x.IP, "value": status})
		}
	}
	writeJSON(w, out)
}

// ViewChanges returns every materialized view created or dropped over
// CQL, in order.
func (c *Cluster) ViewChanges() []ViewChange {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]ViewChange(nil), c.viewChanges...)
}

// dirName is the table's directory name: <table>-<32hex>.
func (t *table) dirName() string {
	return t.name + "-" + strings.ReplaceAll(t.id.String(), "-", "")
}

// replicationMap renders r as a CQL replication map.
func replicationMap(r ring.Replication) string {
	switch r.Strategy {
	case ring.SimpleStrategy:
		return fmt.Sprintf("{'class': 'org.apache.cassandra.locator.SimpleStrategy', 'replication_factor': '%d'}", r.RF)
	case ring.NetworkTopologyStrategy:
		parts := []string{"'class': 'org.apache.cassandra.locator.NetworkTopologyStrategy'"}
		for _, dc := range slices.Sorted(maps.Keys(r.DCRF)) {
			parts = append(parts, fmt.Sprintf("'%s': '%d'", dc, r.DCRF[dc]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	default:
		return "{'class': 'org.apache.cassandra.locator.LocalStrategy'}"
	}
}

func (k *keyspace) createStatement() string {
	return fmt.Sprintf("CREATE KEYSPACE %s WITH replication = %s AND durable_writes = %t;", k.name, replicationMap(k.repl), k.durableWrites)
}

func (t *table) createStatement() string {
	if t.spec.BaseTable != "" {
		return fmt.Sprintf("CREATE MATERIALIZED VIEW %s.%s AS SELECT * FROM %s.%s WHERE id IS NOT NULL PRIMARY KEY (id) WITH ID = %s;",
			t.ks, t.name, t.ks, t.spec.BaseTable, t.id)
	}
	return fmt.Sprintf("CREATE TABLE %s.%s (%s) WITH ID = %s;", t.ks, t.name, t.columns, t.id)
}

// sortedKeyspaces returns the keyspaces in name order.
func (c *Cluster) sortedKeyspacesLocked() []*keyspace {
	out := make([]*keyspace, 0, len(c.keyspaces))
	for _, k := range c.keyspaces {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func sortedTables(k *keyspace) []*table {
	out := make([]*table, 0, len(k.tables))
	for _, t := range k.tables {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// SchemaRow is one row of DESCRIBE SCHEMA WITH INTERNALS.
type SchemaRow struct {
	Keyspace, Type, Name, CreateStatement string
}

// describeSchemaLocked returns the rows of DESCRIBE SCHEMA WITH INTERNALS
// for the user keyspaces.
func (c *Cluster) describeSchemaLocked() []SchemaRow {
	var rows []SchemaRow
	for _, k := range c.sortedKeyspacesLocked() {
		if isSystemKeyspace(k.name) {
			continue
		}
		rows = append(rows, SchemaRow{k.name, "keyspace", k.name, k.createStatement()})
		for _, t := range sortedTables(k) {
			if t.spec.BaseTable != "" {
				continue
			}
			rows = append(rows, SchemaRow{k.name, "table", t.name, t.createStatement()})
		}
		for _, t := range sortedTables(k) {
			if t.spec.BaseTable != "" {
				rows = append(rows, SchemaRow{k.name, "view", t.name, t.createStatement()})
			}
		}
	}
	return rows
}
