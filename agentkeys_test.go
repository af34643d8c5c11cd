package scyllaops_test

import (
	"bytes"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/agent"
	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/scyllatest"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/memstore"
)

// tokenRecorder is an impostor agent: it records the Authorization header
// of every request it receives.
type tokenRecorder struct {
	mu   sync.Mutex
	auth []string
}

func (r *tokenRecorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.auth = append(r.auth, req.Header.Get("Authorization"))
	r.mu.Unlock()
	http.Error(w, "impostor", http.StatusInternalServerError)
}

func (r *tokenRecorder) requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.auth)
}

// impostor serves r over TLS with a fresh self-signed key on addr until
// the returned function is called.
func impostor(t *testing.T, addr string, r http.Handler) func() {
	t.Helper()
	cert, err := agent.SelfSignedCert()
	if err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	for deadline := time.Now().Add(30 * time.Second); ; {
		if ln, err = net.Listen("tcp", addr); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	}()
	var once sync.Once
	stop := func() { once.Do(func() { _ = srv.Close(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// TestAgentKeyPinning goes through real TLS: the simulated nodes serve
// the real agent handler over HTTPS on their loopback addresses, each
// with its own self-signed key (kept across restarts; ReplaceAgentKey
// gives a node a new one).
func TestAgentKeyPinning(t *testing.T) {
	ctx := t.Context()
	sc := scyllatest.New(t, scyllatest.Options{Listen: true})
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	var logs bytes.Buffer
	var logMu sync.Mutex
	newManager := func() *scyllaops.Manager {
		m, err := scyllaops.New(st, nil, scyllaops.Options{
			CQLDial: sc.CQLDialer().DialContext,
			Logger:  slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &logMu}, nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = m.Close() })
		return m
	}
	m1 := newManager()
	c, err := m1.CreateCluster(ctx, scyllaops.Cluster{Name: "pinned", Host: sc.ContactHost(), AuthToken: sc.AuthToken()})
	if err != nil {
		t.Fatal(err)
	}
	// Every node's key is pinned at add.
	keys, err := m1.AgentKeys(ctx, "pinned")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(sc.Nodes()) {
		t.Fatalf("pinned keys %v, want one per node (%d)", keys, len(sc.Nodes()))
	}
	n0 := sc.Nodes()[0]
	addr0 := net.JoinHostPort(n0.IP, "10001")
	oldKey := keys[addr0]
	if !strings.HasPrefix(oldKey, "SHA256:") {
		t.Fatalf("key of %s = %q", addr0, oldKey)
	}

	// Pinned keys accepted, also by a second Manager reading them from
	// the store.
	m2 := newManager()
	cl, hosts, err := m2.ClusterClient(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hosts {
		if _, err := cl.NodeInfo(ctx, h); err != nil {
			t.Fatalf("NodeInfo(%s) through pinned keys: %v", h, err)
		}
	}

	// An impostor with another key at node 0's address: refused during
	// the handshake, no request (no token) reaches it.
	if err := sc.Stop(n0); err != nil {
		t.Fatal(err)
	}
	rec := &tokenRecorder{}
	stopImp := impostor(t, addr0, rec)
	_, err = cl.NodeInfo(ctx, n0.IP)
	var kc *agentclient.KeyChangedError
	if !errors.As(err, &kc) || kc.Addr != addr0 || kc.Pinned != oldKey || kc.Presented == oldKey {
		t.Fatalf("NodeInfo through an impostor = %v, want *KeyChangedError for %s pinned %s", err, addr0, oldKey)
	}
	for _, s := range []string{addr0, oldKey, kc.Presented} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not name %q", err, s)
		}
	}
	if rec.requests() != 0 {
		t.Fatalf("the impostor received %d requests carrying %v", rec.requests(), rec.auth)
	}
	// The same through the Manager's own calls (status, update), also
	// from a Manager that never talked to node 0 before: the health
	// check verifies keys against the stored pins, it does not trust the
	// first key it sees.
	m3 := newManager()
	st3, err := m3.Healthcheck().ClusterStatus(ctx, "pinned")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st3 {
		if s.Host == n0.IP && s.RESTStatus == "UP" {
			t.Errorf("status of %s through an impostor: REST %s, want a failure", n0.IP, s.RESTStatus)
		}
	}
	if rec.requests() != 0 {
		t.Fatalf("the impostor received %d requests from the health check, carrying %v", rec.requests(), rec.auth)
	}
	if _, err := m1.UpdateCluster(ctx, "pinned", scyllaops.Cluster{Name: "pinned", Host: n0.IP, AuthToken: sc.AuthToken()}); !errors.As(err, &kc) {
		t.Fatalf("update to the impostor's host = %v, want *KeyChangedError", err)
	}
	if rec.requests() != 0 {
		t.Fatalf("the impostor received %d requests", rec.requests())
	}
	stopImp()

	// The node comes back with a new key (its certificate was replaced):
	// still refused until accepted by a cluster update.
	sc.ReplaceAgentKey(n0)
	if err := sc.Start(n0); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.NodeInfo(ctx, n0.IP); !errors.As(err, &kc) {
		t.Fatalf("NodeInfo of the re-keyed node = %v, want *KeyChangedError", err)
	}
	if _, err := m2.UpdateCluster(ctx, "pinned", scyllaops.Cluster{Name: "pinned", Host: c.Host, AcceptNewAgentKeys: true}); err != nil {
		t.Fatalf("accept new keys: %v", err)
	}
	keys, err = m2.AgentKeys(ctx, "pinned")
	if err != nil || len(keys) != len(sc.Nodes()) || keys[addr0] == oldKey || keys[addr0] == "" {
		t.Fatalf("keys after accept %v (%v), want a new key for %s", keys, err, addr0)
	}
	if _, err := cl.NodeInfo(ctx, n0.IP); err != nil {
		t.Fatalf("NodeInfo after accepting the new key (m2): %v", err)
	}
	// m1 had the old pin in memory: the stored pins decide.
	cl1, _, err := m1.ClusterClient(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl1.NodeInfo(ctx, n0.IP); err != nil {
		t.Fatalf("NodeInfo after accepting the new key (m1): %v", err)
	}
	logMu.Lock()
	out := logs.String()
	logMu.Unlock()
	if strings.Contains(out, sc.AuthToken()) {
		t.Error("the auth token appears in the logs")
	}
	if !strings.Contains(out, "agent presented a different public key") {
		t.Error("the refusal was not logged")
	}
}

func TestAgentTLSOptions(t *testing.T) {
	ctx := t.Context()
	sc := scyllatest.New(t, scyllatest.Options{Listen: true})
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	// A CA file that is not one: the error names the field.
	bad := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(bad, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := scyllaops.New(st, nil, scyllaops.Options{AgentTLS: scyllaops.AgentTLSOptions{CAFile: bad}})
	if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "options.agent_tls.ca_file") {
		t.Fatalf("New with a bad CA file = %v", err)
	}
	_, err = scyllaops.New(st, nil, scyllaops.Options{AgentTLS: scyllaops.AgentTLSOptions{CAFile: bad, InsecureSkipVerify: true}})
	if !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("New with both = %v", err)
	}
	// CA mode: the simulated agents' self-signed certificates are not
	// signed by the CA, so the cluster cannot be added.
	ca, err := agent.SelfSignedCert("ca.example")
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "agents-ca.pem")
	writePEM(t, caFile, ca.Certificate[0])
	m, err := scyllaops.New(st, nil, scyllaops.Options{AgentTLS: scyllaops.AgentTLSOptions{CAFile: caFile}, ConnectTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.CreateCluster(ctx, scyllaops.Cluster{Name: "ca", Host: sc.ContactHost(), AuthToken: sc.AuthToken()})
	if err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Fatalf("CreateCluster with agents outside the CA = %v", err)
	}
	// Skipping verification only when asked, with a warning.
	var logs bytes.Buffer
	var mu sync.Mutex
	m, err = scyllaops.New(st, nil, scyllaops.Options{AgentTLS: scyllaops.AgentTLSOptions{InsecureSkipVerify: true},
		Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.CreateCluster(ctx, scyllaops.Cluster{Name: "insecure", Host: sc.ContactHost(), AuthToken: sc.AuthToken()}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "verification is disabled") {
		t.Errorf("no warning for skipped verification in %s", logs.String())
	}
	if keys, err := m.AgentKeys(ctx, "insecure"); err != nil || len(keys) != 0 {
		t.Errorf("keys pinned without verification: %v %v", keys, err)
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func writePEM(t *testing.T, path string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
