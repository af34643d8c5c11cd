package cqlstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/cqlstore"
)

func TestOptionsValidate(t *testing.T) {
	ok := cqlstore.Options{Hosts: []string{"127.0.0.1"}}
	tests := []struct {
		name  string
		edit  func(o *cqlstore.Options)
		field string
	}{
		{"no hosts", func(o *cqlstore.Options) { o.Hosts = nil }, "cqlstore.hosts"},
		{"empty host", func(o *cqlstore.Options) { o.Hosts = []string{" "} }, "cqlstore.hosts"},
		{"keyspace with quote", func(o *cqlstore.Options) { o.Keyspace = `a"b` }, "cqlstore.keyspace"},
		{"keyspace starting with digit", func(o *cqlstore.Options) { o.Keyspace = "1ks" }, "cqlstore.keyspace"},
		{"replication without class", func(o *cqlstore.Options) { o.Replication = map[string]string{"dc1": "3"} }, "cqlstore.replication"},
		{"replication injection", func(o *cqlstore.Options) {
			o.Replication = map[string]string{"class": "SimpleStrategy', 'x': '1"}
		}, "cqlstore.replication"},
		{"negative timeout", func(o *cqlstore.Options) { o.Timeout = -time.Second }, "cqlstore.timeout"},
		{"progress TTL too long", func(o *cqlstore.Options) { o.ProgressTTL = 21 * 365 * 24 * time.Hour }, "cqlstore.progress_ttl"},
		{"protocol 2", func(o *cqlstore.Options) { o.ProtoVersion = 2 }, "cqlstore.proto_version"},
	}
	if err := ok.Validate(); err != nil {
		t.Fatalf("Validate(%+v) = %v, want nil", ok, err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.edit(&o)
			err := o.Validate()
			var ie *store.InvalidError
			if !errors.As(err, &ie) || ie.Field != tc.field {
				t.Fatalf("Validate = %v, want an *store.InvalidError for %s", err, tc.field)
			}
			// Open refuses it before touching the network.
			if _, err := cqlstore.Open(t.Context(), o); !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("Open = %v, want ErrInvalid", err)
			}
		})
	}
}

// TestOpenUnreachable needs no server: nothing listens on port 1, and
// 192.0.2.1 (TEST-NET-1) is not routed. Open must fail with a clear error,
// not hang (the test timeout would catch a hang) or panic.
func TestOpenUnreachable(t *testing.T) {
	for _, hosts := range [][]string{{"127.0.0.1:1"}, {"192.0.2.1:9042"}, {"127.0.0.1:1", "192.0.2.1:9042"}} {
		t.Run(strings.Join(hosts, ","), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			s, err := cqlstore.Open(ctx, cqlstore.Options{
				Hosts: hosts, ConnectTimeout: time.Second, ProtoVersion: 3, DisableInitialHostLookup: true,
			})
			if err == nil {
				_ = s.Close()
				t.Fatal("Open succeeded, want an error")
			}
			if !strings.Contains(err.Error(), "cqlstore: connect to "+strings.Join(hosts, ",")) {
				t.Errorf("error %q does not say which hosts it could not reach", err)
			}
			t.Logf("error: %v", err)
		})
	}
}

func TestOpenWrongCredentials(t *testing.T) {
	o := testOptions(t)
	if o.Username == "" {
		t.Skip("the test server has no authentication (SCYLLAOPS_CQL_USER unset)")
	}
	o.Password = "wrong-" + o.Password
	o.ConnectTimeout = 5 * time.Second
	s, err := cqlstore.Open(t.Context(), o)
	if err == nil {
		_ = s.Close()
		t.Fatal("Open with a wrong password succeeded")
	}
	if !strings.Contains(err.Error(), "login refused") {
		t.Errorf("error %q does not say the login was refused", err)
	}
	t.Logf("error: %v", err)
}

// TestOpenIncompatibleSchema: a keyspace whose migration table has a
// migration this version does not know, or a different checksum, is
// refused with ErrSchema; the data stays untouched.
func TestOpenIncompatibleSchema(t *testing.T) {
	o := testOptions(t)
	s := openStore(t, o)
	c := &store.Cluster{ID: uuid.New(), Name: "keep-me"}
	if err := s.CreateCluster(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()

	// Reopening a current keyspace is a no-op that keeps the data.
	s = openStore(t, o)
	if _, err := s.GetCluster(t.Context(), c.ID); err != nil {
		t.Fatalf("GetCluster after reopen: %v", err)
	}
	_ = s.Close()

	admin := adminSession(t, o)
	defer admin.Close()
	exec := func(stmt string, args ...any) {
		t.Helper()
		if err := admin.Query(stmt, args...).Exec(); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	table := `"` + o.Keyspace + `".gocqlx_migrate`

	exec("INSERT INTO "+table+" (name, checksum, done, start_time, end_time) VALUES (?, ?, 1, ?, ?)",
		"v99.0.0.cql", "0123", time.Now(), time.Now())
	_, err := cqlstore.Open(t.Context(), o)
	if !errors.Is(err, cqlstore.ErrSchema) || !strings.Contains(err.Error(), `"v99.0.0.cql"`) {
		t.Fatalf("Open with an unknown migration = %v, want ErrSchema naming it", err)
	}
	t.Logf("unknown migration: %v", err)
	exec("DELETE FROM "+table+" WHERE name = ?", "v99.0.0.cql")

	var name, sum string
	if err := admin.Query("SELECT name, checksum FROM "+table+" LIMIT 1").Scan(&name, &sum); err != nil {
		t.Fatal(err)
	}
	exec("UPDATE "+table+" SET checksum = ? WHERE name = ?", "ffff", name)
	_, err = cqlstore.Open(t.Context(), o)
	if !errors.Is(err, cqlstore.ErrSchema) || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("Open with a changed checksum = %v, want ErrSchema about the checksum", err)
	}
	t.Logf("checksum mismatch: %v", err)
	exec("UPDATE "+table+" SET checksum = ? WHERE name = ?", sum, name)

	s = openStore(t, o)
	if _, err := s.GetCluster(t.Context(), c.ID); err != nil {
		t.Fatalf("GetCluster after the schema was repaired: %v", err)
	}
}

// TestOpenHostDiscoveryUnsupported: Cassandra 2.1.0's system.local lacks
// rpc_address, on which gocql's host discovery panics. Open must refuse
// with advice instead.
func TestOpenHostDiscoveryUnsupported(t *testing.T) {
	o := testOptions(t)
	o.DisableInitialHostLookup = false
	s, err := cqlstore.Open(t.Context(), o)
	if err == nil {
		// A server with rpc_address (ScyllaDB, newer Cassandra) is fine.
		_ = s.Close()
		t.Skip("the test server supports host discovery")
	}
	if !strings.Contains(err.Error(), "DisableInitialHostLookup") {
		t.Fatalf("Open = %v, want advice to set DisableInitialHostLookup", err)
	}
	t.Logf("error: %v", err)
}

// Managers sharing a keyspace usually start together: several Opens of a
// fresh keyspace at once all succeed, and the stores work. (Without the
// schema lock, Cassandra 2.1 fails one of them with "Column family ID
// mismatch".)
func TestOpenConcurrentFreshKeyspace(t *testing.T) {
	o := testOptions(t)
	const n = 4
	errs := make(chan error, n)
	stores := make(chan *cqlstore.Store, n)
	for range n {
		go func() {
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
			defer cancel()
			s, err := cqlstore.Open(ctx, o)
			if err == nil {
				stores <- s
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Open: %v", err)
		}
	}
	close(stores)
	i := 0
	for s := range stores {
		c := &store.Cluster{ID: uuid.New(), Name: "c" + string(rune('a'+i))}
		i++
		if err := s.CreateCluster(t.Context(), c); err != nil {
			t.Errorf("CreateCluster after concurrent Open: %v", err)
		}
		_ = s.Close()
	}
	// The lock is free again: one more Open does not wait for its TTL.
	start := time.Now()
	s := openStore(t, o)
	if cs, err := s.ListClusters(t.Context()); err != nil || len(cs) != i {
		t.Errorf("ListClusters = %d clusters, %v; want %d", len(cs), err, i)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("Open after the others took %s: the schema lock was not released", d)
	}
}

// A schema lock left by a process that died while migrating makes Open
// wait, up to Options.MigrateTimeout, then fail saying so.
func TestOpenSchemaLockHeld(t *testing.T) {
	o := testOptions(t)
	openStore(t, o).Close() // creates the lock keyspace and table
	admin := adminSession(t, o)
	defer admin.Close()
	stmt := "INSERT INTO " + cqlstore.SchemaLockKeyspace + ".migration (keyspace_name, owner, taken_at) VALUES (?, uuid(), dateof(now())) USING TTL 30"
	if err := admin.Query(stmt, o.Keyspace).Exec(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = admin.Query("DELETE FROM "+cqlstore.SchemaLockKeyspace+".migration WHERE keyspace_name = ?", o.Keyspace).Exec()
	})
	o.MigrateTimeout = 2 * time.Second
	_, err := cqlstore.Open(t.Context(), o)
	if err == nil || !strings.Contains(err.Error(), "schema lock is held") {
		t.Fatalf("Open with the lock held = %v, want an error saying the schema lock is held", err)
	}
}
