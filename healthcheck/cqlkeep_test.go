package healthcheck

import (
	"crypto/tls"
	"maps"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// checkCQL runs one CQL check and returns host → status, failing the test
// on a call error.
func checkCQL(t *testing.T, s *Service, lc *lightCluster) map[string]string {
	t.Helper()
	got, err := s.Check(t.Context(), lc.id, ModeCQL)
	if err != nil {
		t.Fatal(err)
	}
	return statuses(got, ModeCQL)
}

func accepts(lc *lightCluster) []int64 {
	var out []int64
	for _, n := range lc.nodes {
		out = append(out, n.cql.accepts.Load())
	}
	return out
}

func TestCQLKeptConnectionReused(t *testing.T) {
	lc := newLightCluster(t, 3, "", "")
	s := newTestService(t, lc, Options{Timeout: time.Second})
	for round := range 3 {
		got := checkCQL(t, s, lc)
		for h, st := range got {
			if st != StatusUp {
				t.Errorf("round %d: %s %q, want UP", round+1, h, st)
			}
		}
	}
	for i, a := range accepts(lc) {
		if a != 1 {
			t.Errorf("node %d: %d connections accepted over 3 rounds, want 1 (kept)", i, a)
		}
	}
	if n := s.kept.len(); n != 3 {
		t.Errorf("%d connections kept, want 3", n)
	}
	s.Close()
	if n := s.kept.len(); n != 0 {
		t.Errorf("%d connections kept after Close, want 0", n)
	}
	// Pings after Close still work, and keep nothing.
	if got := checkCQL(t, s, lc); got[lc.nodes[0].Host] != StatusUp {
		t.Errorf("after Close: %v", got)
	}
	if n := s.kept.len(); n != 0 {
		t.Errorf("%d connections kept after Close and a check, want 0", n)
	}
}

func TestCQLKeptConnectionClosedByServer(t *testing.T) {
	lc := newLightCluster(t, 2, "", "")
	s := newTestService(t, lc, Options{Timeout: time.Second})
	checkCQL(t, s, lc)
	// The node closes the kept connection (an idle timeout, a restart of
	// its CQL server) but still listens: re-dialed, UP.
	lc.nodes[1].cql.dropConns()
	if got := checkCQL(t, s, lc); !maps.Equal(got, want(lc, StatusUp, nil)) {
		t.Errorf("after the server closed the kept connection: %v, want all UP", got)
	}
	if got := accepts(lc); got[0] != 1 || got[1] != 2 {
		t.Errorf("accepted connections %v, want [1 2] (node 1 re-dialed once)", got)
	}
}

func TestCQLKeptConnectionRestartedNode(t *testing.T) {
	lc := newLightCluster(t, 2, "", "")
	s := newTestService(t, lc, Options{Timeout: time.Second})
	checkCQL(t, s, lc)
	n := lc.nodes[0]
	addr := n.cql.ln.Addr().String()

	// Stopped: the kept connection is closed, and nothing listens.
	n.cql.close()
	got := checkCQL(t, s, lc)
	if got[n.Host] != StatusDown || got[lc.nodes[1].Host] != StatusUp {
		t.Fatalf("stopped node: %v, want %s DOWN (refused, not TIMEOUT) and the other UP", got, n.Host)
	}
	if k := s.kept.len(); k != 1 {
		t.Errorf("%d connections kept, want 1 (the stopped node's dropped)", k)
	}

	// Restarted on the same address: UP again on a new connection.
	n.cql = newLightCQLAt(t, addr, "", "")
	got = checkCQL(t, s, lc)
	if got[n.Host] != StatusUp {
		t.Errorf("restarted node: %q, want UP", got[n.Host])
	}
	if a := n.cql.accepts.Load(); a != 1 {
		t.Errorf("restarted node accepted %d connections, want 1", a)
	}
}

func TestCQLKeptConnectionHungNode(t *testing.T) {
	const timeout = 300 * time.Millisecond
	lc := newLightCluster(t, 2, "", "")
	s := newTestService(t, lc, Options{Timeout: timeout})
	checkCQL(t, s, lc)
	n := lc.nodes[1]
	// The node still holds the kept connection open but answers nothing
	// (on it or on new ones).
	n.cql.mute.Store(true)
	got, err := s.Check(t.Context(), lc.id, ModeCQL)
	if err != nil {
		t.Fatal(err)
	}
	r := got[1].CQL
	if r.Status != StatusTimeout || got[0].CQL.Status != StatusUp {
		t.Fatalf("hung node: %q (%v), other %q; want TIMEOUT and UP", r.Status, r.Err, got[0].CQL.Status)
	}
	// The RTT of a timed-out ping is the time until the deadline: the kept
	// connection's read gave up at the ping's deadline, not later.
	if r.RTT < timeout {
		t.Errorf("hung node's ping ended after %s, before its %s deadline", r.RTT, timeout)
	}
	// The timed-out connection is not kept (its framing is unknown); the
	// next round after the node recovers re-dials.
	n.cql.mute.Store(false)
	if got := checkCQL(t, s, lc); got[n.Host] != StatusUp {
		t.Errorf("recovered node: %q, want UP", got[n.Host])
	}
	if a := n.cql.accepts.Load(); a != 2 {
		t.Errorf("recovered node accepted %d connections, want 2", a)
	}
}

func TestCQLKeptConnectionOverTLS(t *testing.T) {
	lc := newLightCluster(t, 1, "", "")
	n := lc.nodes[0]
	srvCert := selfSigned(t)
	var handshakes atomic.Int64
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{srvCert},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			handshakes.Add(1)
			return nil, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	tlsSrv := &lightCQL{ln: ln, conns: map[net.Conn]struct{}{}, done: make(chan struct{})}
	tlsSrv.wg.Go(tlsSrv.accept)
	t.Cleanup(tlsSrv.close)
	n.agent.ni.ClientEncryptionEnabled = true
	n.agent.ni.NativeTransportPortSsl = tlsSrv.port()
	s := newTestService(t, lc, Options{Timeout: time.Second})
	for round := range 3 {
		got, err := s.Check(t.Context(), lc.id, ModeCQL)
		if err != nil {
			t.Fatal(err)
		}
		if got[0].CQL.Status != StatusUp || !got[0].SSL {
			t.Fatalf("round %d: %q (%v) ssl %v, want UP over TLS", round+1, got[0].CQL.Status, got[0].CQL.Err, got[0].SSL)
		}
	}
	if a := tlsSrv.accepts.Load(); a != 1 {
		t.Errorf("%d TLS connections over 3 rounds, want 1 (kept)", a)
	}
	tlsSrv.close()
	if h := handshakes.Load(); h != 1 {
		t.Errorf("%d TLS handshakes over 3 rounds, want 1", h)
	}
}

// altServer is an Alternator endpoint on addr that counts connections.
func altServer(t *testing.T, addr string, conns *atomic.Int64) (*http.Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: &fakeAlternator{}, ReadHeaderTimeout: 10 * time.Second, ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return srv, ln.Addr().String()
}

func TestAlternatorKeptConnection(t *testing.T) {
	var conns atomic.Int64
	srv, addr := altServer(t, "127.0.0.1:0", &conns)
	host, port, _ := net.SplitHostPort(addr)
	lc := newLightCluster(t, 1, "", "")
	lc.nodes[0].agent.ni.AlternatorAddress = host
	lc.nodes[0].agent.ni.AlternatorPort = port
	s := newTestService(t, lc, Options{Timeout: time.Second})
	check := func(name, want string) {
		t.Helper()
		got, err := s.Check(t.Context(), lc.id, ModeAlternator)
		if err != nil {
			t.Fatal(err)
		}
		if got[0].Alternator.Status != want {
			t.Errorf("%s: %q (%v), want %s", name, got[0].Alternator.Status, got[0].Alternator.Err, want)
		}
	}
	for range 3 {
		check("up", StatusUp)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections over 3 rounds, want 1 (kept)", n)
	}
	// The node closes its idle connections but still listens: UP (on a
	// new connection).
	srv.SetKeepAlivesEnabled(false)
	check("idle connection closed by the node", StatusUp)
	srv.SetKeepAlivesEnabled(true)
	// The node stops (its connections closed): DOWN, not an error of the
	// dead kept connection.
	_ = srv.Close()
	check("stopped", StatusDown)
	// Restarted on the same address: UP on a new connection.
	altServer(t, addr, &conns)
	check("restarted", StatusUp)
	if n := conns.Load(); n != 3 {
		t.Errorf("%d connections in all, want 3", n)
	}
}
