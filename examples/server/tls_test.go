package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/scyllaops/scyllaops/internal/testenv"
)

// testCA makes a CA and a client certificate it signs; it returns the
// CA written as a PEM file and the client identity.
func testCA(t *testing.T) (caFile string, client tls.Certificate) {
	t.Helper()
	ca := testenv.NewCA(t, "test ca")
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return caFile, ca.ClientCert(t, "sctool")
}

func TestHTTPSWithMTLS(t *testing.T) {
	caFile, clientCert := testCA(t)
	cfg, err := ParseConfig([]byte("https: 127.0.0.1:0\nprometheus: 127.0.0.1:0\ntls_ca_file: " + caFile + "\ndata_dir: " + t.TempDir() + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := runServer(t, cfg)
	url := "https://" + a.HTTPS + "/api/v1/clusters"

	noCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	if resp, err := noCert.Get(url); err == nil {
		resp.Body.Close()
		t.Fatalf("a client without a certificate got HTTP %d, want a TLS failure", resp.StatusCode)
	}
	withCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{clientCert}}}}
	resp, err := withCert.Get(url)
	if err != nil {
		t.Fatalf("a client with a CA-signed certificate: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET clusters with a client certificate: HTTP %d", resp.StatusCode)
	}
	// A certificate from another CA is refused too.
	_, otherCert := testCA(t)
	other := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{otherCert}}}}
	if resp, err := other.Get(url); err == nil {
		resp.Body.Close()
		t.Fatalf("a client with a certificate of another CA got HTTP %d, want a TLS failure", resp.StatusCode)
	}
}

// The configured identity (tls_cert_file/tls_key_file) is served: a
// client that trusts only that certificate connects, with tls_version
// TLSv1.3 enforced.
func TestHTTPSWithConfiguredCertificate(t *testing.T) {
	dir := t.TempDir()
	cert, err := selfSigned()
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig([]byte("https: 127.0.0.1:0\nprometheus: '-'\ntls_version: TLSv1.3\ntls_cert_file: " + certFile +
		"\ntls_key_file: " + keyFile + "\ndata_dir: " + dir + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := runServer(t, cfg)
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Get("https://" + a.HTTPS + "/ping")
	if err != nil {
		t.Fatalf("client trusting the configured certificate: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.TLS == nil || resp.TLS.Version != tls.VersionTLS13 {
		t.Errorf("GET /ping: HTTP %d, TLS %+v; want 204 over TLS 1.3", resp.StatusCode, resp.TLS)
	}
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS12}}}
	if resp, err := old.Get("https://" + a.HTTPS + "/ping"); err == nil {
		resp.Body.Close()
		t.Error("a TLS 1.2 client was accepted with tls_version TLSv1.3")
	}
}
