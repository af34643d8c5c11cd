package agentclient_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scyllaops/scyllaops/agent"
	"github.com/scyllaops/scyllaops/agentclient"
)

// tlsServer serves h over TLS with cert on addr ("127.0.0.1:0" for any
// port) and returns its address; it stops at the end of the test or when
// stop is called.
func tlsServer(t *testing.T, addr string, cert tls.Certificate, h http.Handler) (string, func()) {
	t.Helper()
	var ln net.Listener
	var err error
	// The port of a just-closed server may take a moment to be free.
	for deadline := time.Now().Add(30 * time.Second); ; {
		ln, err = net.Listen("tcp", addr)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = srv.Close()
			<-done
		})
	}
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

// realAgent is the agent's own handler (no Scylla behind it: /agent/*
// calls work).
func realAgent(t *testing.T, token string) http.Handler {
	t.Helper()
	a, err := agent.New(agent.Options{AuthToken: token, DataDir: t.TempDir(), AuthPenalty: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

// recorder counts the requests that carried a bearer token.
type recorder struct {
	mu     sync.Mutex
	tokens []string
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.tokens = append(r.tokens, req.Header.Get("Authorization"))
	r.mu.Unlock()
	_, _ = w.Write([]byte(`{"version":"impostor"}`))
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.tokens)
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	c, err := agent.SelfSignedCert("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func client(t *testing.T, addr string, o agentclient.TLSOptions) (*agentclient.Client, string) {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	c, err := agentclient.New(nil, agentclient.Options{AuthToken: "tok", Port: p, RetryMax: 3, RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond, TLS: o})
	if err != nil {
		t.Fatal(err)
	}
	return c, host
}

func TestPinnedKeyAcceptedChangedKeyRefused(t *testing.T) {
	cert := selfSigned(t)
	addr, stop := tlsServer(t, "127.0.0.1:0", cert, realAgent(t, "tok"))
	pins := &agentclient.MemoryPins{}
	c, host := client(t, addr, agentclient.TLSOptions{Pins: pins})
	for range 2 { // first use pins, second use matches
		if _, err := c.Version(t.Context(), host); err != nil {
			t.Fatalf("Version through the pinned key: %v", err)
		}
	}
	want := agentclient.Fingerprint(cert.Leaf)
	if got := pins.Pinned(); len(got) != 1 || got[addr] != want {
		t.Fatalf("pins %v, want %s -> %s", got, addr, want)
	}

	// An impostor with another key takes the address.
	stop()
	imp := &recorder{}
	other := selfSigned(t)
	tlsServer(t, addr, other, imp)
	_, err := c.Version(t.Context(), host)
	var kc *agentclient.KeyChangedError
	if !errors.As(err, &kc) {
		t.Fatalf("Version through a changed key = %v, want *KeyChangedError", err)
	}
	if kc.Addr != addr || kc.Pinned != want || kc.Presented != agentclient.Fingerprint(other.Leaf) {
		t.Errorf("error %+v, want addr %s pinned %s presented %s", kc, addr, want, agentclient.Fingerprint(other.Leaf))
	}
	for _, s := range []string{addr, want, agentclient.Fingerprint(other.Leaf), "token was not sent"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	if n := imp.count(); n != 0 {
		t.Fatalf("the impostor received %d requests (the token leaked)", n)
	}
	// The pin stays: a second client sharing it is refused as well.
	c2, _ := client(t, addr, agentclient.TLSOptions{Pins: pins})
	if _, err := c2.Version(t.Context(), host); !errors.As(err, &kc) || imp.count() != 0 {
		t.Fatalf("second client: %v, impostor requests %d", err, imp.count())
	}
	// Skipping verification, only when asked, reaches the impostor.
	c3, _ := client(t, addr, agentclient.TLSOptions{InsecureSkipVerify: true})
	if v, err := c3.Version(t.Context(), host); err != nil || v != "impostor" || imp.count() != 1 {
		t.Fatalf("insecure client: %q %v, impostor requests %d", v, err, imp.count())
	}
}

// newCA returns a CA and a function issuing server certificates signed by
// it for the given IP.
func newCA(t *testing.T) (*x509.CertPool, func(ip string) tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test agents CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	serial := int64(1)
	issue := func(ip string) tls.Certificate {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		serial++
		leaf := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: ip},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			IPAddresses: []net.IP{net.ParseIP(ip)},
		}
		d, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &k.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{d}, PrivateKey: k}
	}
	return pool, issue
}

func TestCAMode(t *testing.T) {
	pool, issue := newCA(t)
	addr, stop := tlsServer(t, "127.0.0.1:0", issue("127.0.0.1"), realAgent(t, "tok"))
	c, host := client(t, addr, agentclient.TLSOptions{RootCAs: pool})
	if _, err := c.Version(t.Context(), host); err != nil {
		t.Fatalf("Version of a CA-signed agent: %v", err)
	}
	// A new key signed by the CA is fine (no pinning in CA mode).
	stop()
	addr2, stop2 := tlsServer(t, addr, issue("127.0.0.1"), realAgent(t, "tok"))
	if _, err := c.Version(t.Context(), host); err != nil {
		t.Fatalf("Version of a re-keyed CA-signed agent at %s: %v", addr2, err)
	}
	// A self-signed impostor is refused before any request.
	stop2()
	imp := &recorder{}
	tlsServer(t, addr, selfSigned(t), imp)
	_, err := c.Version(t.Context(), host)
	var ua x509.UnknownAuthorityError
	if !errors.As(err, &ua) {
		t.Fatalf("Version of a self-signed impostor = %v, want x509.UnknownAuthorityError", err)
	}
	if imp.count() != 0 {
		t.Fatalf("the impostor received %d requests", imp.count())
	}
}
