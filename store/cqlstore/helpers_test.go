package cqlstore_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/scyllaops/scyllaops/internal/testenv"
	"github.com/scyllaops/scyllaops/store/cqlstore"
)

// testHosts returns the CQL server the tests use (testenv.CQL).
func testHosts(t *testing.T) []string {
	t.Helper()
	hosts, _, _ := testenv.CQL(t)
	return hosts
}

var ksSeq atomic.Int64

// testWriter forwards to t.Output until the test ends and drops writes
// after that: gocql's goroutines may still log a moment after
// Session.Close returns, and writing to a finished test's output panics.
type testWriter struct {
	mu   sync.Mutex
	w    io.Writer
	done bool
}

func newTestWriter(t *testing.T) *testWriter {
	w := &testWriter{w: t.Output()}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return w
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return len(p), nil
	}
	return w.w.Write(p)
}

// testOptions returns Options for the Cassandra 2.1 test server with a
// keyspace unique to this call, dropped when the test ends.
func testOptions(t *testing.T) cqlstore.Options {
	t.Helper()
	o := newOptions(t, testHosts(t), os.Getenv("SCYLLAOPS_CQL_USER"), os.Getenv("SCYLLAOPS_CQL_PASSWORD"))
	// Cassandra 2.1: protocol v3 at most, and a system.local the driver's
	// host discovery cannot read.
	o.ProtoVersion = 3
	o.DisableInitialHostLookup = true
	t.Cleanup(func() { dropKeyspace(t, o) })
	return o
}

// newOptions returns Options for hosts with a unique keyspace; the caller
// registers the keyspace's removal.
func newOptions(t *testing.T, hosts []string, user, password string) cqlstore.Options {
	t.Helper()
	return cqlstore.Options{
		Hosts:    hosts,
		Keyspace: fmt.Sprintf("t%d_%d_%d", time.Now().Unix()%100000, os.Getpid(), ksSeq.Add(1)),
		Username: user,
		Password: password,
		// Generous: Cassandra on a busy 2-core machine is slow at times.
		Timeout:        20 * time.Second,
		ConnectTimeout: 15 * time.Second,
		Logger:         slog.New(slog.NewTextHandler(newTestWriter(t), &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
}

// adminSession opens a plain gocql session on the test server.
func adminSession(t *testing.T, o cqlstore.Options) *gocql.Session {
	t.Helper()
	c := gocql.NewCluster(o.Hosts...)
	c.ProtoVersion = o.ProtoVersion
	c.DisableInitialHostLookup = o.DisableInitialHostLookup
	c.Timeout = 30 * time.Second
	if o.Username != "" {
		c.Authenticator = gocql.PasswordAuthenticator{Username: o.Username, Password: o.Password}
	}
	s, err := c.CreateSession()
	if err != nil {
		t.Fatalf("admin session: %v", err)
	}
	return s
}

func dropKeyspace(t *testing.T, o cqlstore.Options) {
	s := adminSession(t, o)
	defer s.Close()
	if err := s.Query(fmt.Sprintf("DROP KEYSPACE IF EXISTS %q", o.Keyspace)).Exec(); err != nil {
		t.Logf("drop keyspace %s: %v", o.Keyspace, err)
	}
}

func openStore(t *testing.T, o cqlstore.Options) *cqlstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	s, err := cqlstore.Open(ctx, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}
