package agents

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
)

// TestClientsOfAClusterShareConnections: the clients of one cluster with
// and without retries reuse each other's kept connections; another
// cluster, or the cluster after Forget, has connections of its own.
func TestClientsOfAClusterShareConnections(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/storage_service/scylla_release_version" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(`"2025.1.0"`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	host, portStr, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(portStr)
	p := New(nil, Config{InsecureSkipVerify: true, Logger: slog.New(slog.DiscardHandler), ClientLogger: slog.New(slog.DiscardHandler)})

	call := func(cluster uuid.UUID, once bool) {
		t.Helper()
		c, err := p.Client(cluster, port, "token", once)
		if err != nil {
			t.Fatal(err)
		}
		v, err := c.ScyllaReleaseVersion(t.Context(), host)
		if err != nil || v != "2025.1.0" {
			t.Fatalf("ScyllaReleaseVersion: %q, %v", v, err)
		}
	}
	a, b := uuid.New(), uuid.New()
	call(a, false)
	call(a, true)
	call(a, false)
	call(a, true)
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for one cluster's clients with and without retries, want 1", n)
	}
	call(b, true)
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections after a second cluster's call, want 2", n)
	}
	p.Forget(a)
	call(a, true)
	if n := conns.Load(); n != 3 {
		t.Errorf("%d connections after Forget and a call, want 3", n)
	}
}
