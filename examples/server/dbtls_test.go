package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/scyllaops/scyllaops/internal/testenv"
)

// TestDBTLSConfig checks the TLS config built from the ssl section, and
// its errors, which name the key and the accepted form.
func TestDBTLSConfig(t *testing.T) {
	dir := t.TempDir()
	ca := testenv.NewCA(t, "db ca")
	caFile := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(caFile, ca.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := testenv.WriteCertFiles(t, dir, "client", ca.ClientCert(t, "scyllaops"))
	_, otherKeyFile := testenv.WriteCertFiles(t, dir, "other", ca.ClientCert(t, "other"))
	var logBuf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logBuf, nil))
	no := false

	tc, err := dbTLSConfig(Config{SSL: SSLConfig{CertFile: caFile}}, log)
	if err != nil || tc != nil {
		t.Errorf("without database.ssl: %v, %v; want no TLS", tc, err)
	}
	tc, err = dbTLSConfig(Config{Database: DatabaseConfig{SSL: true}}, log)
	if err != nil || tc == nil || tc.RootCAs != nil || tc.InsecureSkipVerify || len(tc.Certificates) != 0 {
		t.Errorf("database.ssl alone = %+v, %v; want TLS verified against the system roots, no client certificate", tc, err)
	}
	tc, err = dbTLSConfig(Config{Database: DatabaseConfig{SSL: true}, SSL: SSLConfig{CertFile: caFile, UserCertFile: certFile, UserKeyFile: keyFile}}, log)
	if err != nil {
		t.Fatal(err)
	}
	if tc.RootCAs == nil || !tc.RootCAs.Equal(ca.Pool()) || tc.InsecureSkipVerify || len(tc.Certificates) != 1 {
		t.Errorf("full ssl section = %+v; want RootCAs = the CA, verification, one client certificate", tc)
	}
	if logBuf.Len() != 0 {
		t.Errorf("verified TLS logged: %s", logBuf.String())
	}
	tc, err = dbTLSConfig(Config{Database: DatabaseConfig{SSL: true}, SSL: SSLConfig{CertFile: caFile, Validate: &no}}, log)
	if err != nil || !tc.InsecureSkipVerify {
		t.Errorf("validate: false = %+v, %v; want InsecureSkipVerify", tc, err)
	}
	if !strings.Contains(logBuf.String(), "level=WARN") || !strings.Contains(logBuf.String(), "ssl.validate: false") {
		t.Errorf("validate: false logged %q, want a warning naming ssl.validate", logBuf.String())
	}

	for _, tc := range []struct {
		name string
		ssl  SSLConfig
		want []string
	}{
		{"missing CA file", SSLConfig{CertFile: filepath.Join(dir, "nope.crt")}, []string{"ssl.cert_file", "nope.crt", "no such file", "want a PEM file"}},
		{"no certificate in CA file", SSLConfig{CertFile: keyFile}, []string{"ssl.cert_file " + keyFile, "no PEM certificate found", "BEGIN CERTIFICATE"}},
		{"key of another certificate", SSLConfig{UserCertFile: certFile, UserKeyFile: otherKeyFile},
			[]string{"ssl.user_cert_file " + certFile, "ssl.user_key_file " + otherKeyFile, "private key does not match", "want a PEM client certificate"}},
		{"missing client certificate", SSLConfig{UserCertFile: filepath.Join(dir, "nope.crt"), UserKeyFile: keyFile}, []string{"ssl.user_cert_file", "no such file"}},
		{"not PEM", SSLConfig{UserCertFile: certFile, UserKeyFile: caFile}, []string{"ssl.user_key_file", "want a PEM client certificate and its PEM private key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dbTLSConfig(Config{Database: DatabaseConfig{SSL: true}, SSL: tc.ssl}, log)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}

	// A bad file stops the server at start, before it connects.
	cfg, err := ParseConfig([]byte(fmt.Sprintf("http: 127.0.0.1:0\nprometheus: '-'\ndatabase:\n  hosts: [127.0.0.1:1]\n  ssl: true\nssl:\n  cert_file: %s\n",
		filepath.Join(dir, "nope.crt"))))
	if err != nil {
		t.Fatal(err)
	}
	if err := Run(t.Context(), cfg, slog.New(slog.DiscardHandler), nil); err == nil || !strings.Contains(err.Error(), "ssl.cert_file") {
		t.Errorf("Run with a missing ssl.cert_file = %v, want an error naming it", err)
	}
}

// TestServerDatabaseTLS runs the server on the test Cassandra behind a
// TLS proxy that requires client certificates (testenv.TLSProxy: the
// Cassandra 2.1 test server does not serve TLS and plaintext at once),
// configured by the ssl section as an SRE would.
func TestServerDatabaseTLS(t *testing.T) {
	hosts, user, password := testenv.CQL(t)
	keyspace := fmt.Sprintf("server_tls_%d_%d", os.Getpid(), time.Now().Unix()%100000)
	t.Cleanup(func() { dropTestKeyspace(t, hosts, user, password, keyspace) })
	dir := t.TempDir()
	ca := testenv.NewCA(t, "db ca")
	otherCA := testenv.NewCA(t, "other ca")
	caFile, otherCAFile := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "other-ca.crt")
	for f, b := range map[string][]byte{caFile: ca.PEM(), otherCAFile: otherCA.PEM()} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	certFile, keyFile := testenv.WriteCertFiles(t, dir, "client", ca.ClientCert(t, "scyllaops-server"))
	proxy := testenv.NewTLSProxy(t, hosts[0], &tls.Config{Certificates: []tls.Certificate{ca.ServerCert(t, "127.0.0.1")},
		MinVersion: tls.VersionTLS12, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool()})

	config := func(t *testing.T, ssl string) Config {
		t.Helper()
		y := fmt.Sprintf("http: 127.0.0.1:0\nprometheus: '-'\ndata_dir: %s\nshutdown_timeout: 10s\n", t.TempDir()) +
			fmt.Sprintf("database:\n  hosts: [%s]\n  user: %q\n  password: %q\n  keyspace: %s\n", proxy.Addr, user, password, keyspace) +
			"  timeout: 20s\n  proto_version: 3\n  disable_initial_host_lookup: true\n  ssl: true\nssl:\n" + ssl
		cfg, err := ParseConfig([]byte(y))
		if err != nil {
			t.Fatalf("ParseConfig:\n%s\n%v", y, err)
		}
		return cfg
	}
	withClientCert := fmt.Sprintf("  user_cert_file: %s\n  user_key_file: %s\n", certFile, keyFile)

	t.Run("verified, client certificate", func(t *testing.T) {
		addrs, logs := runServer(t, config(t, "  cert_file: "+caFile+"\n"+withClientCert))
		resp, err := http.Get("http://" + addrs.HTTP + "/api/v1/clusters")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET /api/v1/clusters = %d %s, want 200", resp.StatusCode, body)
		}
		if names := proxy.ClientNames(); !slices.Contains(names, "scyllaops-server") {
			t.Errorf("the proxy saw client certificates %q, want the server's (scyllaops-server)", names)
		}
		if l := logs(); !strings.Contains(l, `"tls":true`) || strings.Contains(l, "BEGIN") {
			t.Errorf("log does not say the store uses TLS, or shows PEM: %s", l)
		}
	})
	t.Run("validate false, wrong CA", func(t *testing.T) {
		_, logs := runServer(t, config(t, "  cert_file: "+otherCAFile+"\n  validate: false\n"+withClientCert))
		if l := logs(); !strings.Contains(l, "ssl.validate: false") {
			t.Errorf("no warning about ssl.validate: false in the log: %s", l)
		}
	})
	for _, tc := range []struct{ name, ssl, want string }{
		{"wrong CA", "  cert_file: " + otherCAFile + "\n" + withClientCert, "x509: certificate signed by unknown authority"},
		{"no client certificate", "  cert_file: " + caFile + "\n", "certificate required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			err := Run(ctx, config(t, tc.ssl), slog.New(slog.DiscardHandler), nil)
			if err == nil {
				t.Fatal("Run succeeded, want a TLS error at start")
			}
			t.Logf("error: %v", err)
			for _, w := range []string{"with TLS (database.ssl; check ssl.cert_file", proxy.Addr, tc.want} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q", w)
				}
			}
		})
	}
}

// runServer runs the server in-process until the test ends and returns
// its addresses and a function returning its JSON log so far. The log
// is a buffer, not the test's output, because it outlives the test: the
// database driver may log a moment after the store is closed.
func runServer(t *testing.T, cfg Config) (Addrs, func() string) {
	t.Helper()
	var w testenv.Buffer
	ctx, cancel := context.WithCancel(t.Context())
	addrs := make(chan Addrs, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, newLogger(&w, "info"), func(a Addrs) { addrs <- a })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case a := <-addrs:
		return a, w.String
	case err := <-done:
		t.Fatalf("Run ended early: %v\nlog:\n%s", err, w.String())
	}
	return Addrs{}, nil
}

// dropTestKeyspace drops keyspace on the test Cassandra, directly.
func dropTestKeyspace(t *testing.T, hosts []string, user, password, keyspace string) {
	c := gocql.NewCluster(hosts...)
	c.ProtoVersion, c.DisableInitialHostLookup, c.Timeout = 3, true, 30*time.Second
	if user != "" {
		c.Authenticator = gocql.PasswordAuthenticator{Username: user, Password: password}
	}
	s, err := c.CreateSession()
	if err != nil {
		t.Logf("drop keyspace %s: %v", keyspace, err)
		return
	}
	defer s.Close()
	if err := s.Query(fmt.Sprintf("DROP KEYSPACE IF EXISTS %q", keyspace)).Exec(); err != nil {
		t.Logf("drop keyspace %s: %v", keyspace, err)
	}
}
