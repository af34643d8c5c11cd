package testenv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// CA is a certificate authority made for one test: it issues server and
// client certificates valid for a day.
type CA struct {
	// Cert is the CA's self-signed certificate.
	Cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// NewCA makes a CA named name.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(t), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &CA{Cert: cert, key: key}
}

// Pool returns a pool holding only the CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// PEM returns the CA certificate PEM-encoded.
func (ca *CA) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// ServerCert issues a server certificate for hosts: IP SANs for the
// entries that are IPs, DNS SANs for the others.
func (ca *CA) ServerCert(t testing.TB, hosts ...string) tls.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: "server"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return ca.issue(t, tmpl)
}

// ClientCert issues a client certificate with common name cn.
func (ca *CA) ClientCert(t testing.TB, cn string) tls.Certificate {
	t.Helper()
	return ca.issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: cn}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
}

func (ca *CA) issue(t testing.TB, tmpl *x509.Certificate) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = serial(t)
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// WriteCertFiles writes c's certificate chain and private key as PEM files
// in dir, named name.crt and name.key, and returns their paths.
func WriteCertFiles(t testing.TB, dir, name string, c tls.Certificate) (certFile, keyFile string) {
	t.Helper()
	var chain []byte
	for _, der := range c.Certificate {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	key, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, chain, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TLSProxy terminates TLS on 127.0.0.1 and forwards the plaintext to a
// target address: it puts TLS in front of a test server that cannot serve
// it (the test Cassandra 2.1 serves TLS or plaintext, not both). It stops
// when the test ends.
type TLSProxy struct {
	// Addr is the proxy's host:port.
	Addr string

	mu       sync.Mutex
	ok       int
	failed   []string
	clients  []string
	conns    map[net.Conn]struct{}
	closed   bool
	wg       sync.WaitGroup
	listener net.Listener
	target   string
	config   *tls.Config
}

// NewTLSProxy listens on 127.0.0.1:0 with config (which holds the server
// certificate and, with ClientAuth, the client certificate policy) and
// forwards every connection that completes its handshake to target.
func NewTLSProxy(t testing.TB, target string, config *tls.Config) *TLSProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &TLSProxy{Addr: ln.Addr().String(), conns: map[net.Conn]struct{}{}, listener: ln, target: target, config: config}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

// Handshakes returns how many handshakes succeeded, and the errors of
// those that failed.
func (p *TLSProxy) Handshakes() (ok int, failed []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ok, append([]string(nil), p.failed...)
}

// ClientNames returns the common names of the verified client
// certificates presented in successful handshakes, one per connection.
func (p *TLSProxy) ClientNames() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.clients...)
}

func (p *TLSProxy) accept() {
	for {
		c, err := p.listener.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			_ = c.Close()
			return
		}
		p.wg.Go(func() { p.serve(c) })
	}
}

// track registers c, so close can end it; false once closed.
func (p *TLSProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *TLSProxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
		_ = c.Close()
	}
}

func (p *TLSProxy) serve(raw net.Conn) {
	defer p.untrack(raw)
	tc := tls.Server(raw, p.config)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	err := tc.HandshakeContext(ctx)
	cancel()
	p.mu.Lock()
	if err != nil {
		p.failed = append(p.failed, err.Error())
	} else {
		p.ok++
		if pc := tc.ConnectionState().PeerCertificates; len(pc) > 0 {
			p.clients = append(p.clients, pc[0].Subject.CommonName)
		}
	}
	p.mu.Unlock()
	if err != nil {
		return
	}
	up, err := net.DialTimeout("tcp", p.target, 10*time.Second)
	if err != nil {
		return
	}
	if !p.track(up) {
		_ = up.Close()
		return
	}
	defer p.untrack(up)
	// Either direction ending ends both: closing the connections unblocks
	// the other copy.
	done := make(chan struct{}, 2)
	pipe := func(dst io.Writer, src io.Reader) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	p.wg.Go(func() { pipe(up, tc) })
	p.wg.Go(func() { pipe(tc, up) })
	<-done
	_ = tc.Close()
	_ = up.Close()
	<-done
}

// close stops the listener, ends every connection and waits for the
// proxy's goroutines.
func (p *TLSProxy) close() {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	_ = p.listener.Close()
	p.wg.Wait()
}
