// Command agent is the scyllaops node agent daemon: it serves the agent
// handler (package agent) over HTTPS next to a ScyllaDB node, wire
// compatible with scylla-manager-agent.
//
//	go run ./examples/agent -c /etc/scylla-manager-agent/scylla-manager-agent.yaml
//
// The YAML keys are those of scylla-manager-agent.yaml where they exist
// (see config.go). Without tls_cert_file/tls_key_file it serves a
// self-signed EC P-256 certificate. SIGTERM or SIGINT shut it down
// gracefully: the listener stops, running requests get ShutdownTimeout to
// finish, and running upload jobs are canceled.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/scyllaops/scyllaops/agent"
)

// Version is reported by GET /version.
const Version = "scyllaops-agent-0.1.0"

func main() {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	cfgPath := fs.String("c", "/etc/scylla-manager-agent/scylla-manager-agent.yaml", "config file (YAML)")
	version := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if *version {
		fmt.Fprintln(os.Stdout, Version)
		return
	}
	cfg, err := LoadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log := newLogger(os.Stderr, cfg.Logger.Level)
	if err := Run(ctx, cfg, log, nil); err != nil {
		log.Error("agent failed", "error", err)
		os.Exit(1)
	}
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	if level == "" {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// Run serves the agent until ctx ends, then shuts down gracefully. ready,
// when not nil, receives the HTTPS listen address once listening.
func Run(ctx context.Context, cfg Config, log *slog.Logger, ready func(addr string)) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	opts := cfg.agentOptions()
	opts.Logger, opts.Registerer, opts.Version = log, reg, Version
	a, err := agent.New(opts)
	if err != nil {
		return err
	}
	defer a.Close()

	var cert tls.Certificate
	if cfg.TLSCertFile != "" {
		cert, err = tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
	} else {
		host, _, _ := net.SplitHostPort(cfg.HTTPS)
		hosts := []string{"localhost", "127.0.0.1"}
		if host != "" && host != "0.0.0.0" && host != "::" {
			hosts = append(hosts, host)
		}
		cert, err = agent.SelfSignedCert(hosts...)
		log.Info("no tls_cert_file configured: serving a self-signed certificate")
	}
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.HTTPS)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           a,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	servers := []*http.Server{srv}
	errc := make(chan error, 2)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	n := 1
	if p := *cfg.Prometheus; p != "" {
		pln, err := net.Listen("tcp", p)
		if err != nil {
			_ = srv.Close()
			<-errc
			return fmt.Errorf("prometheus listener: %w", err)
		}
		ps := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, ps)
		go func() { errc <- ps.Serve(pln) }()
		n++
	}
	log.Info("agent listening", "https", ln.Addr().String(), "scylla_api", opts.ScyllaAPI, "data_dir", opts.DataDir)
	if ready != nil {
		ready(ln.Addr().String())
	}
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
		n--
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	for _, s := range servers {
		if err := s.Shutdown(sctx); err != nil {
			_ = s.Close()
		}
	}
	for ; n > 0; n-- {
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) && runErr == nil {
			runErr = err
		}
	}
	if errors.Is(runErr, http.ErrServerClosed) {
		runErr = nil
	}
	return errors.Join(runErr, a.Close())
}
