package healthcheck

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/internal/agentapi"
)

func TestNodeEndpoints(t *testing.T) {
	tests := []struct {
		name string
		ni   agentapi.NodeInfo
		c    Cluster
		want endpoints
	}{
		{
			name: "broadcast rpc first",
			ni:   agentapi.NodeInfo{BroadcastRPCAddress: "10.0.0.9", RPCAddress: "10.0.0.8", ListenAddress: "10.0.0.7", NativeTransportPort: "9042"},
			want: endpoints{cqlAddr: "10.0.0.9:9042"},
		},
		{
			name: "rpc then listen",
			ni:   agentapi.NodeInfo{ListenAddress: "10.0.0.7", NativeTransportPort: "19042"},
			want: endpoints{cqlAddr: "10.0.0.7:19042"},
		},
		{
			name: "wildcard falls back to the known host",
			ni:   agentapi.NodeInfo{RPCAddress: "0.0.0.0", ListenAddress: "10.0.0.7", NativeTransportPort: "9042"},
			want: endpoints{cqlAddr: "192.0.2.1:9042"},
		},
		{
			name: "ipv6 wildcard and empty port",
			ni:   agentapi.NodeInfo{RPCAddress: "::"},
			want: endpoints{cqlAddr: "192.0.2.1:9042"},
		},
		{
			name: "client encryption uses the ssl port",
			ni:   agentapi.NodeInfo{RPCAddress: "fd00::1", NativeTransportPort: "9042", NativeTransportPortSsl: "9142", ClientEncryptionEnabled: true},
			want: endpoints{cqlAddr: "[fd00::1]:9142", cqlTLS: true},
		},
		{
			name: "client encryption without an ssl port: tls on the native port",
			ni:   agentapi.NodeInfo{RPCAddress: "10.0.0.8", NativeTransportPort: "9042", NativeTransportPortSsl: "0", ClientEncryptionEnabled: true},
			want: endpoints{cqlAddr: "10.0.0.8:9042", cqlTLS: true},
		},
		{
			name: "force non-ssl session port",
			ni:   agentapi.NodeInfo{RPCAddress: "10.0.0.8", NativeTransportPort: "9042", NativeTransportPortSsl: "9142", ClientEncryptionEnabled: true},
			c:    Cluster{ForceNonSSLSessionPort: true},
			want: endpoints{cqlAddr: "10.0.0.8:9042", cqlTLS: true},
		},
		{
			name: "force tls disabled",
			ni:   agentapi.NodeInfo{RPCAddress: "10.0.0.8", NativeTransportPort: "9042", NativeTransportPortSsl: "9142", ClientEncryptionEnabled: true},
			c:    Cluster{ForceTLSDisabled: true},
			want: endpoints{cqlAddr: "10.0.0.8:9042"},
		},
		{
			name: "alternator http",
			ni:   agentapi.NodeInfo{RPCAddress: "10.0.0.8", AlternatorPort: "8000", AlternatorAddress: "0.0.0.0"},
			want: endpoints{cqlAddr: "10.0.0.8:9042", alternatorURL: "http://192.0.2.1:8000"},
		},
		{
			name: "alternator https preferred, enforce authorization",
			ni:   agentapi.NodeInfo{RPCAddress: "10.0.0.8", AlternatorPort: "8000", AlternatorHTTPSPort: "8043", AlternatorAddress: "10.0.0.5", AlternatorEnforceAuthorization: true},
			want: endpoints{cqlAddr: "10.0.0.8:9042", alternatorURL: "https://10.0.0.5:8043", alternatorEnforceAuth: true},
		},
		{
			name: "alternator ports zero: disabled",
			ni:   agentapi.NodeInfo{RPCAddress: "10.0.0.8", AlternatorPort: "0", AlternatorHTTPSPort: "0"},
			want: endpoints{cqlAddr: "10.0.0.8:9042"},
		},
	}
	for _, tc := range tests {
		got := nodeEndpoints(&tc.ni, "192.0.2.1", &tc.c)
		if got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// countingAgent counts node_info calls; with gate set, calls wait for it
// to close.
type countingAgent struct {
	gate  chan struct{}
	mu    sync.Mutex
	calls int
}

func (a *countingAgent) NodeInfo(context.Context, string) (*agentapi.NodeInfo, error) {
	a.mu.Lock()
	a.calls++
	a.mu.Unlock()
	if a.gate != nil {
		<-a.gate
	}
	return &agentapi.NodeInfo{RPCAddress: "10.0.0.1"}, nil
}

func (a *countingAgent) ScyllaReleaseVersion(context.Context, string) (string, error) {
	return "x", nil
}

func TestNodeInfoCacheTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newNodeInfoCache(5 * time.Minute)
		a := &countingAgent{}
		id := uuid.New()
		get := func() {
			if _, err := c.get(t.Context(), id, "h1", a); err != nil {
				t.Fatal(err)
			}
		}
		get()
		time.Sleep(4 * time.Minute)
		get()
		if a.calls != 1 {
			t.Fatalf("within the TTL: %d calls, want 1", a.calls)
		}
		time.Sleep(2 * time.Minute)
		get()
		if a.calls != 2 {
			t.Fatalf("after the TTL: %d calls, want 2", a.calls)
		}
		c.invalidate(id)
		if c.cached(id, "h1") != nil {
			t.Fatal("cached after invalidate")
		}
		get()
		if a.calls != 3 {
			t.Fatalf("after invalidate: %d calls, want 3", a.calls)
		}
	})
}

func TestNodeInfoCacheSharesConcurrentMisses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newNodeInfoCache(time.Minute)
		a := &countingAgent{gate: make(chan struct{})}
		id := uuid.New()
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() {
				if ni, err := c.get(t.Context(), id, "h1", a); err != nil || ni == nil {
					t.Errorf("get: %v %v", ni, err)
				}
			})
		}
		synctest.Wait() // all three are waiting on the one call
		close(a.gate)
		wg.Wait()
		if a.calls != 1 {
			t.Errorf("%d node_info calls for 3 concurrent misses, want 1", a.calls)
		}

		// A waiter whose context ends first does not wait for the call.
		a.gate = make(chan struct{})
		c.invalidate(id)
		wg.Go(func() { _, _ = c.get(t.Context(), id, "h1", a) })
		synctest.Wait()
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if _, err := c.get(ctx, id, "h1", a); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("waiter past its deadline: %v", err)
		}
		close(a.gate)
		wg.Wait()
	})
}

// selfSigned returns a fresh self-signed certificate for 127.0.0.1.
func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "node"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestCQLOverTLS(t *testing.T) {
	for _, user := range []string{"", "cassandra"} {
		t.Run("user="+user, func(t *testing.T) {
			lc := newLightCluster(t, 1, user, "secret")
			lc.user = user
			lc.pass = "secret"
			n := lc.nodes[0]
			// A TLS listener that requires a client certificate, next to
			// the plain one.
			srvCert := selfSigned(t)
			ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{srvCert}, ClientAuth: tls.RequireAnyClientCert})
			if err != nil {
				t.Fatal(err)
			}
			tlsSrv := &lightCQL{ln: ln, user: user, pass: "secret", conns: map[net.Conn]struct{}{}, done: make(chan struct{})}
			tlsSrv.wg.Go(tlsSrv.accept)
			t.Cleanup(tlsSrv.close)
			n.agent.ni.ClientEncryptionEnabled = true
			n.agent.ni.NativeTransportPortSsl = tlsSrv.port()

			id := selfSigned(t)
			src := &tlsSource{lightCluster: lc}
			s := newTestService(t, src, Options{Timeout: time.Second})

			check := func(name string, c func(*Cluster), wantStatus string, wantSSL bool) {
				t.Helper()
				src.mod = c
				s.InvalidateNodeInfo(lc.id)
				got, err := s.Check(t.Context(), lc.id, ModeCQL)
				if err != nil {
					t.Fatal(err)
				}
				if got[0].CQL.Status != wantStatus || got[0].SSL != wantSSL {
					t.Errorf("%s: status %q (%v) ssl %v, want %q ssl %v", name, got[0].CQL.Status, got[0].CQL.Err, got[0].SSL, wantStatus, wantSSL)
				}
			}
			check("tls with identity", func(c *Cluster) { c.TLSIdentity = &id }, StatusUp, true)
			check("tls without identity", func(*Cluster) {}, StatusDown, true)
			check("tls forced off", func(c *Cluster) { c.ForceTLSDisabled = true }, StatusUp, false)
		})
	}
}

// tlsSource lets a test modify the Cluster a lightCluster gives.
type tlsSource struct {
	*lightCluster
	mod func(*Cluster)
}

func (s *tlsSource) HealthcheckCluster(ctx context.Context, id uuid.UUID) (Cluster, error) {
	c, err := s.lightCluster.HealthcheckCluster(ctx, id)
	if err == nil && s.mod != nil {
		s.mod(&c)
	}
	return c, err
}

// fakeAlternator answers the two Alternator pings and records them.
type fakeAlternator struct {
	mu       sync.Mutex
	requests []string
	status   int
}

func (f *fakeAlternator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path+" "+r.Header.Get("X-Amz-Target")+" "+string(b))
	status := f.status
	f.mu.Unlock()
	if status != 0 {
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"__type":"com.amazonaws.dynamodb.v20120810#AccessDeniedException","message":"no"}`)
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/":
		_, _ = io.WriteString(w, "healthy: 127.0.0.1:8000")
	case r.Method == http.MethodPost && r.Header.Get("X-Amz-Target") == "DynamoDB_20120810.Scan" &&
		r.Header.Get("Content-Type") == "application/x-amz-json-1.0":
		var in struct {
			TableName string
			Limit     int
		}
		if json.Unmarshal(b, &in) != nil || in.TableName != ".scylla.alternator.system_schema.tables" || in.Limit != 1 {
			http.Error(w, `{"__type":"ValidationException"}`, http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, `{"Items":[],"Count":0,"ScannedCount":0}`)
	default:
		http.Error(w, `{"__type":"UnknownOperationException"}`, http.StatusBadRequest)
	}
}

func TestAlternator(t *testing.T) {
	fa := &fakeAlternator{}
	plain := httptest.NewServer(fa)
	t.Cleanup(plain.Close)
	secure := httptest.NewTLSServer(fa)
	t.Cleanup(secure.Close)
	port := func(srv *httptest.Server) string { return srv.URL[strings.LastIndex(srv.URL, ":")+1:] }

	lc := newLightCluster(t, 3, "", "")
	lc.nodes[0].agent.ni.AlternatorAddress = "127.0.0.1"
	lc.nodes[0].agent.ni.AlternatorPort = port(plain)
	lc.nodes[1].agent.ni.AlternatorAddress = "127.0.0.1"
	lc.nodes[1].agent.ni.AlternatorHTTPSPort = port(secure)
	lc.nodes[1].agent.ni.AlternatorEnforceAuthorization = true
	// node 2: Alternator disabled.
	s := newTestService(t, lc, Options{Timeout: time.Second})

	got, err := s.Status(t.Context(), lc.id, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Alternator.Status != StatusUp || got[1].Alternator.Status != StatusUp || got[2].Alternator.Status != "" {
		t.Errorf("alternator statuses %q %q %q, want UP UP \"\"", got[0].Alternator.Status, got[1].Alternator.Status, got[2].Alternator.Status)
	}
	if !got[0].AlternatorEnabled || !got[1].AlternatorEnabled || got[2].AlternatorEnabled {
		t.Errorf("alternator enabled %v %v %v, want true true false", got[0].AlternatorEnabled, got[1].AlternatorEnabled, got[2].AlternatorEnabled)
	}
	fa.mu.Lock()
	reqs := strings.Join(fa.requests, "\n")
	fa.requests = nil
	fa.mu.Unlock()
	for _, want := range []string{
		`POST / DynamoDB_20120810.Scan {"TableName":".scylla.alternator.system_schema.tables","Limit":1}`,
		"GET /  ",
	} {
		if !strings.Contains(reqs, want) {
			t.Errorf("requests:\n%s\nwant one %q", reqs, want)
		}
	}

	fa.mu.Lock()
	fa.status = http.StatusBadRequest
	fa.mu.Unlock()
	got, err = s.Check(t.Context(), lc.id, ModeAlternator)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Alternator.Status != StatusUnauthorized {
		t.Errorf("access denied: %q (%v), want UNAUTHORIZED", got[0].Alternator.Status, got[0].Alternator.Err)
	}

	plain.Close()
	got, err = s.Check(t.Context(), lc.id, ModeAlternator)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Alternator.Status != StatusDown {
		t.Errorf("stopped: %q (%v), want DOWN", got[0].Alternator.Status, got[0].Alternator.Err)
	}
}

func TestInjectedDialer(t *testing.T) {
	// CQL served in-process through net.Pipe: no CQL sockets.
	lc := newLightCluster(t, 2, "cassandra", "secret")
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	var dialed []string
	var mu sync.Mutex
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		dialed = append(dialed, addr)
		mu.Unlock()
		c, srv := net.Pipe()
		wg.Go(func() {
			defer srv.Close()
			serveCQL(srv, "cassandra", "secret")
		})
		return c, nil
	}
	for _, n := range lc.nodes {
		n.agent.ni.RPCAddress = "10.9.9." + n.Host[len(n.Host)-1:]
	}
	s := newTestService(t, lc, Options{Dialer: dial})
	got, err := s.Check(t.Context(), lc.id, ModeCQL)
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range got {
		if ns.CQL.Status != StatusUp {
			t.Errorf("%s: %q (%v)", ns.Host, ns.CQL.Status, ns.CQL.Err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(dialed) != 2 || !strings.HasPrefix(dialed[0], "10.9.9.") {
		t.Errorf("dialed %v, want the two node_info addresses", dialed)
	}
}
