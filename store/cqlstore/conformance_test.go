package cqlstore_test

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/cqlstore"
	"github.com/scyllaops/scyllaops/store/storetest"
)

// TestConformance runs the store conformance suite against the Cassandra
// 2.1 of SCYLLAOPS_CQL_HOSTS.
func TestConformance(t *testing.T) {
	conformance(t, testOptions(t))
}

// conformance runs storetest on one keyspace: it is created once, and
// every subtest gets a fresh Store on it after all its tables were
// truncated (about 10x faster than a new keyspace per subtest on
// Cassandra; the subtests run one after the other).
func conformance(t *testing.T, o cqlstore.Options) {
	openStore(t, o).Close()
	admin := adminSession(t, o)
	defer admin.Close()
	tables := listTables(t, admin, o.Keyspace)
	storetest.Harness{
		New: func(st *testing.T) store.Store {
			for _, tb := range tables {
				if err := admin.Query(fmt.Sprintf("TRUNCATE %q.%q", o.Keyspace, tb)).Exec(); err != nil {
					st.Fatalf("truncate %s: %v", tb, err)
				}
			}
			so := o
			so.Logger = slog.New(slog.NewTextHandler(newTestWriter(st), &slog.HandlerOptions{Level: slog.LevelWarn}))
			return openStore(st, so)
		},
		// CQL TTLs have one-second resolution.
		ShortTTL:    time.Second,
		ExpiryGrace: 5 * time.Second,
	}.Run(t)
}

// listTables returns the tables of keyspace but the migration log, from
// system_schema (ScyllaDB, Cassandra 3+) or system (Cassandra 2.x).
func listTables(t *testing.T, admin *gocql.Session, keyspace string) []string {
	t.Helper()
	var out []string
	var name string
	it := admin.Query("SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?", keyspace).Iter()
	for it.Scan(&name) {
		out = append(out, name)
	}
	if err := it.Close(); err != nil {
		it = admin.Query("SELECT columnfamily_name FROM system.schema_columnfamilies WHERE keyspace_name = ?", keyspace).Iter()
		for it.Scan(&name) {
			out = append(out, name)
		}
		if err := it.Close(); err != nil {
			t.Fatalf("list tables of %s: %v", keyspace, err)
		}
	}
	tables := out[:0]
	for _, tb := range out {
		if tb != "gocqlx_migrate" {
			tables = append(tables, tb)
		}
	}
	if len(tables) < 5 {
		t.Fatalf("keyspace %s has tables %v, want the store's", keyspace, out)
	}
	return tables
}
