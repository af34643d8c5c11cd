package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/backup"
	"github.com/scyllaops/scyllaops/restapi"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/boltstore"
	"github.com/scyllaops/scyllaops/store/cqlstore"
)

// Version is the version the server reports; set with
// -ldflags "-X main.Version=…".
var Version = restapi.DefaultVersion

// Addrs receives the bound listener addresses once the server serves
// (useful with port 0).
type Addrs struct {
	HTTP, HTTPS, Prometheus string
}

// openStore opens the CQL store when database.hosts is set, else the
// embedded bbolt store in the data dir.
func openStore(ctx context.Context, cfg Config, log *slog.Logger) (store.Store, error) {
	if len(cfg.Database.Hosts) > 0 {
		hosts := make([]string, len(cfg.Database.Hosts))
		for i, h := range cfg.Database.Hosts {
			if _, _, err := net.SplitHostPort(h); err != nil {
				h = net.JoinHostPort(h, strconv.Itoa(cfg.Database.Port))
			}
			hosts[i] = h
		}
		o := cqlstore.Options{
			Hosts: hosts, Keyspace: cfg.Database.Keyspace, Username: cfg.Database.User, Password: cfg.Database.Password,
			LocalDC: cfg.Database.LocalDC, Timeout: cfg.Database.Timeout, Logger: log.With("component", "cqlstore"),
			ProtoVersion: cfg.Database.ProtoVersion, DisableInitialHostLookup: cfg.Database.DisableInitialHostLookup,
			Replication: map[string]string{"class": "SimpleStrategy", "replication_factor": strconv.Itoa(cfg.Database.ReplicationFactor)},
		}
		tc, err := dbTLSConfig(cfg, log)
		if err != nil {
			return nil, err
		}
		o.TLS = tc
		st, err := cqlstore.Open(ctx, o)
		if errors.Is(err, cqlstore.ErrTLS) {
			return nil, fmt.Errorf("server: open database %v with TLS (database.ssl; check ssl.cert_file, ssl.user_cert_file and ssl.user_key_file): %w", hosts, err)
		}
		if err != nil {
			return nil, fmt.Errorf("server: open database %v: %w", hosts, err)
		}
		log.Info("store: CQL database", "hosts", hosts, "keyspace", cfg.Database.Keyspace, "tls", tc != nil)
		return st, nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("server: data dir: %w", err)
	}
	p := filepath.Join(cfg.DataDir, "state.db")
	st, err := boltstore.Open(ctx, p, boltstore.Options{Logger: log.With("component", "boltstore")})
	if err != nil {
		return nil, fmt.Errorf("server: open %s: %w", p, err)
	}
	log.Info("store: embedded bbolt", "path", p)
	return st, nil
}

// dbTLSConfig is the TLS config of the database connection, built from
// the ssl section; nil when database.ssl is false. It fails, naming the
// key, on a file that cannot be read or holds no usable PEM.
func dbTLSConfig(cfg Config, log *slog.Logger) (*tls.Config, error) {
	if !cfg.Database.SSL {
		return nil, nil
	}
	s := cfg.SSL
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.CertFile != "" {
		pool, err := loadCAPool("ssl.cert_file", s.CertFile, "the CA certificates that signed the database's certificates")
		if err != nil {
			return nil, err
		}
		tc.RootCAs = pool
	}
	if !s.validate() {
		// gocql sets no ServerName then, and Go skips all verification.
		tc.InsecureSkipVerify = true
		log.Warn("database TLS without certificate verification (ssl.validate: false): the connection is encrypted, " +
			"but the database is not authenticated and ssl.cert_file is not used")
	}
	if s.UserCertFile != "" {
		cert, err := tls.LoadX509KeyPair(s.UserCertFile, s.UserKeyFile)
		if err != nil {
			return nil, fmt.Errorf("server: ssl.user_cert_file %s / ssl.user_key_file %s: %w: want a PEM client certificate and its PEM private key",
				s.UserCertFile, s.UserKeyFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// Run serves until ctx is done, then shuts down gracefully. ready, if
// non-nil, receives the bound addresses once every listener is up.
func Run(ctx context.Context, cfg Config, log *slog.Logger, ready func(Addrs)) (err error) {
	log.Info("starting", "version", Version, "config", cfg.Redacted())
	if ig := cfg.Ignored(); len(ig) > 0 {
		log.Warn("scylla-manager.yaml keys not implemented, ignored", "keys", ig)
	}
	if w := cfg.sslUnused(); w != "" {
		log.Warn(w)
	}
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := st.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("server: close store: %w", cerr))
		}
	}()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := scyllaops.New(st, nil, scyllaops.Options{Logger: log, Registerer: reg, OwnerID: cfg.OwnerID, LeaseTTL: cfg.LeaseTTL, SyncInterval: cfg.SyncInterval,
		DisableScheduler: !cfg.HasRole(RoleScheduler),
		Backup: backup.Options{LongPoll: time.Duration(cfg.Backup.LongPollingTimeoutSeconds) * time.Second, AgeMax: cfg.Backup.AgeMax,
			DiskSpaceFreeMinPercent: cfg.Backup.backupDiskFreeMin()}})
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	defer m.Close()

	api := restapi.NewHandler(m, restapi.Options{Logger: log, Version: Version})
	var servers []*http.Server
	var lns []net.Listener
	var addrs Addrs
	defer func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}()
	listen := func(addr string) (net.Listener, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("server: listen %s: %w", addr, err)
		}
		lns = append(lns, ln)
		return ln, nil
	}
	type serve struct {
		srv *http.Server
		ln  net.Listener
		tls bool
	}
	var toServe []serve
	serveAPI := cfg.HasRole(RoleAPI)
	if !serveAPI && (cfg.HTTP != "" || cfg.HTTPS != "") {
		log.Warn("http and https ignored: roles has no api", "roles", cfg.Roles)
	}
	if serveAPI && cfg.HTTP != "" {
		ln, err := listen(cfg.HTTP)
		if err != nil {
			return err
		}
		addrs.HTTP = ln.Addr().String()
		s := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		toServe = append(toServe, serve{s, ln, false})
	}
	if serveAPI && cfg.HTTPS != "" {
		tc, err := tlsConfig(cfg)
		if err != nil {
			return err
		}
		ln, err := listen(cfg.HTTPS)
		if err != nil {
			return err
		}
		addrs.HTTPS = ln.Addr().String()
		s := &http.Server{Handler: api, TLSConfig: tc, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		toServe = append(toServe, serve{s, ln, true})
	}
	if cfg.Prometheus != "-" {
		ln, err := listen(cfg.Prometheus)
		if err != nil {
			return err
		}
		addrs.Prometheus = ln.Addr().String()
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
		s := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		toServe = append(toServe, serve{s, ln, false})
	}

	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRun()
	g := new(errgroup.Group)
	g.Go(func() error {
		if err := m.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("server: manager: %w", err)
		}
		return nil
	})
	for _, s := range toServe {
		servers = append(servers, s.srv)
		g.Go(func() error {
			var err error
			if s.tls {
				err = s.srv.ServeTLS(s.ln, "", "")
			} else {
				err = s.srv.Serve(s.ln)
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("server: serve %s: %w", s.ln.Addr(), err)
			}
			return nil
		})
	}
	log.Info("serving", "roles", cfg.Roles, "http", addrs.HTTP, "https", addrs.HTTPS, "prometheus", addrs.Prometheus)
	if ready != nil {
		ready(addrs)
	}
	<-ctx.Done()
	log.Info("shutting down", "cause", context.Cause(ctx))
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	for _, s := range servers {
		if err := s.Shutdown(sctx); err != nil {
			errs = append(errs, fmt.Errorf("server: shutdown: %w", err))
		}
	}
	// Stopping the Manager's Run stops its runs with a cause that leaves
	// them resumable; Run returns after every goroutine it started exited.
	stopRun()
	if err := g.Wait(); err != nil {
		errs = append(errs, err)
	}
	log.Info("stopped")
	return errors.Join(errs...)
}

// tlsConfig builds the HTTPS config: the configured or a self-signed
// identity, and client certificates required when tls_ca_file is set.
func tlsConfig(cfg Config) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLSVersion == "TLSv1.3" {
		tc.MinVersion = tls.VersionTLS13
	}
	if cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("server: tls_cert_file/tls_key_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	} else {
		cert, err := selfSigned()
		if err != nil {
			return nil, err
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	if cfg.TLSCAFile != "" {
		pool, err := loadCAPool("tls_ca_file", cfg.TLSCAFile, "the CA certificates that sign the API clients' certificates")
		if err != nil {
			return nil, err
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// selfSigned makes an ECDSA P-256 certificate valid for a year, as Scylla
// Manager does when no identity is configured.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("server: self-signed key: %w", err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{"scyllaops"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("server: self-signed certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// loadCAPool reads the PEM CA certificates of the config key from path;
// its errors name the key and what the file must hold (what).
func loadCAPool(key, path, what string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("server: %s: %w: want a PEM file of %s", key, err, what)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("server: %s %s: no PEM certificate found: want the PEM (-----BEGIN CERTIFICATE-----) %s", key, path, what)
	}
	return pool, nil
}
