package cqlstore_test

import (
	"crypto/tls"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/internal/testenv"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/cqlstore"
)

// TestOpenTLS connects to the test Cassandra through a TLS-terminating
// proxy (Cassandra 2.1 serves TLS or plaintext, not both, and the test
// server is plaintext): the store's TLS, certificate and host
// verification and client certificates are real, the database behind is
// real.
func TestOpenTLS(t *testing.T) {
	base := testOptions(t) // one keyspace for all cases, dropped at the end
	cassandra := base.Hosts[0]
	ca := testenv.NewCA(t, "db ca")
	otherCA := testenv.NewCA(t, "other ca")
	serverCert := ca.ServerCert(t, "127.0.0.1")
	clientCert := ca.ClientCert(t, "scyllaops")

	proxy := testenv.NewTLSProxy(t, cassandra, &tls.Config{Certificates: []tls.Certificate{serverCert}, MinVersion: tls.VersionTLS12})
	mtlsProxy := testenv.NewTLSProxy(t, cassandra, &tls.Config{Certificates: []tls.Certificate{serverCert}, MinVersion: tls.VersionTLS12,
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool()})
	// A certificate signed by the right CA, for another host.
	wrongSANProxy := testenv.NewTLSProxy(t, cassandra, &tls.Config{Certificates: []tls.Certificate{ca.ServerCert(t, "10.9.9.9", "db.example.com")},
		MinVersion: tls.VersionTLS12})

	opts := func(addr string, c *tls.Config) cqlstore.Options {
		o := base
		o.Hosts = []string{addr}
		o.TLS = c
		o.ConnectTimeout = 5 * time.Second
		return o
	}
	// works opens the store and writes and reads a cluster through it.
	works := func(t *testing.T, o cqlstore.Options) {
		t.Helper()
		s := openStore(t, o)
		c := &store.Cluster{ID: uuid.New(), Name: "tls-" + t.Name()}
		if err := s.CreateCluster(t.Context(), c); err != nil {
			t.Fatalf("CreateCluster over TLS: %v", err)
		}
		got, err := s.GetCluster(t.Context(), c.ID)
		if err != nil || got.Name != c.Name {
			t.Fatalf("GetCluster over TLS = %+v, %v; want %q", got, err, c.Name)
		}
		if err := s.DeleteCluster(t.Context(), c.ID); err != nil {
			t.Fatalf("DeleteCluster over TLS: %v", err)
		}
	}
	// fails opens the store and wants ErrTLS naming TLS and the host,
	// within a few connect timeouts.
	fails := func(t *testing.T, o cqlstore.Options, want string) {
		t.Helper()
		start := time.Now()
		s, err := cqlstore.Open(t.Context(), o)
		took := time.Since(start)
		if err == nil {
			_ = s.Close()
			t.Fatal("Open succeeded, want a TLS error")
		}
		t.Logf("error after %s: %v", took.Round(time.Millisecond), err)
		if !errors.Is(err, cqlstore.ErrTLS) {
			t.Errorf("error does not match cqlstore.ErrTLS")
		}
		for _, w := range []string{"TLS failed", o.Hosts[0], want} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error does not contain %q", w)
			}
		}
		if took > 3*o.ConnectTimeout {
			t.Errorf("Open took %s, want at most 3 connect timeouts (%s)", took, 3*o.ConnectTimeout)
		}
	}

	t.Run("CA verified", func(t *testing.T) {
		works(t, opts(proxy.Addr, &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}))
		// Every connection went through the proxy's TLS.
		if ok, failed := proxy.Handshakes(); ok == 0 || len(failed) > 0 {
			t.Errorf("proxy handshakes: %d ok, failed %q; want some, none failed", ok, failed)
		}
	})
	t.Run("wrong CA", func(t *testing.T) {
		fails(t, opts(proxy.Addr, &tls.Config{RootCAs: otherCA.Pool(), MinVersion: tls.VersionTLS12}), "x509: certificate signed by unknown authority")
	})
	t.Run("system roots", func(t *testing.T) {
		fails(t, opts(proxy.Addr, &tls.Config{MinVersion: tls.VersionTLS12}), "x509: certificate signed by unknown authority")
	})
	t.Run("no verification with a wrong CA", func(t *testing.T) {
		works(t, opts(proxy.Addr, &tls.Config{RootCAs: otherCA.Pool(), InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})) //nolint:gosec // what is tested
	})
	t.Run("host not in certificate", func(t *testing.T) {
		fails(t, opts(wrongSANProxy.Addr, &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}), "not 127.0.0.1")
	})
	t.Run("host not in certificate, ServerName set", func(t *testing.T) {
		// An explicit ServerName replaces the per-host name.
		works(t, opts(wrongSANProxy.Addr, &tls.Config{RootCAs: ca.Pool(), ServerName: "db.example.com", MinVersion: tls.VersionTLS12}))
	})
	t.Run("client certificate required, none given", func(t *testing.T) {
		// With TLS 1.3 the client learns it at its first read, from the
		// server's alert.
		fails(t, opts(mtlsProxy.Addr, &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}), "certificate required")
	})
	t.Run("client certificate required, TLS 1.2", func(t *testing.T) {
		fails(t, opts(mtlsProxy.Addr, &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12}), "tls: ")
	})
	t.Run("client certificate", func(t *testing.T) {
		works(t, opts(mtlsProxy.Addr, &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{clientCert}, MinVersion: tls.VersionTLS12}))
		if names := mtlsProxy.ClientNames(); len(names) == 0 || slices.ContainsFunc(names, func(n string) bool { return n != "scyllaops" }) {
			t.Errorf("proxy saw client certificates %q, want only scyllaops", names)
		}
	})
	t.Run("plaintext server", func(t *testing.T) {
		// The test Cassandra itself speaks plaintext only.
		fails(t, opts(cassandra, &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}), "first record does not look like a TLS handshake")
	})
}

// TestOpenTLSHandshakeTimeout needs no database: a server that accepts TCP
// connections and never answers the handshake must make Open fail within
// the connect timeout (gocql's own TLS dialer would wait forever).
func TestOpenTLSHandshakeTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	o := cqlstore.Options{Hosts: []string{ln.Addr().String()}, ConnectTimeout: time.Second, ProtoVersion: 3, DisableInitialHostLookup: true,
		TLS: &tls.Config{MinVersion: tls.VersionTLS12}}
	start := time.Now()
	s, err := cqlstore.Open(t.Context(), o)
	took := time.Since(start)
	if err == nil {
		_ = s.Close()
		t.Fatal("Open succeeded on a server that never answers")
	}
	t.Logf("error after %s: %v", took.Round(time.Millisecond), err)
	if !errors.Is(err, cqlstore.ErrTLS) || !strings.Contains(err.Error(), "TLS handshake with "+ln.Addr().String()) ||
		!strings.Contains(err.Error(), "connect timeout") {
		t.Errorf("error does not match ErrTLS or does not name the handshake, the host and the connect timeout")
	}
	if took > 5*time.Second {
		t.Errorf("Open took %s, want about the connect timeout (1s)", took)
	}
}
