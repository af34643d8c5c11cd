package main

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/scyllaops/scyllaops/agentclient"
)

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "agent.yaml")
	yml := `auth_token: abc
https: 127.0.0.1:0
prometheus: ""
data_directory: ` + dir + `
scylla:
  api_address: 10.1.2.3
  api_port: 10010
s3:
  endpoint: http://127.0.0.1:9000
  force_path_style: true
  region: eu-west-1
localstorage:
  path: /mnt/backups
`
	if err := os.WriteFile(p, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	o := c.agentOptions()
	if o.AuthToken != "abc" || o.ScyllaAPI != "http://10.1.2.3:10010" || o.ScyllaPrometheus != "http://10.1.2.3:9180" ||
		!o.Storage.S3.ForcePathStyle || o.Storage.S3.Region != "eu-west-1" || o.Storage.LocalStoragePath != "/mnt/backups" || o.DataDir != dir {
		t.Fatalf("options = %+v", o)
	}
	if d, err := LoadConfig(filepath.Join(dir, "missing.yaml")); err != nil || d.HTTPS != ":10001" || *d.Prometheus != ":5090" {
		t.Fatalf("defaults = %+v, %v", d, err)
	}
	for _, bad := range []string{"nope: 1\n", "https: nohost\n", "tls_cert_file: x\n", "logger:\n  level: loud\n"} {
		if err := os.WriteFile(p, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadConfig(p); err == nil {
			t.Errorf("config %q accepted", bad)
		}
	}
}

// TestRun starts the daemon on a free port, calls it over TCP+TLS (the
// self-signed certificate) and stops it by canceling the context.
func TestRun(t *testing.T) {
	empty := ""
	cfg := Config{AuthToken: "tok", HTTPS: "127.0.0.1:0", Prometheus: &empty, DataDirectory: t.TempDir()}.withDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, slog.New(slog.NewTextHandler(t.Output(), nil)), func(a string) { addrc <- a })
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	c, err := agentclient.New(nil, agentclient.Options{AuthToken: "tok", Port: p, RetryMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := c.Version(t.Context(), host); err != nil || v != Version {
		t.Fatalf("Version = %q, %v", v, err)
	}
	fs, err := c.About(t.Context(), host, "data:", "")
	if err != nil || fs.Total == 0 {
		t.Fatalf("About = %+v, %v", fs, err)
	}
	// Scylla is not running: the proxy answers 502 with a clear message.
	if _, err := c.ClusterName(t.Context(), host); agentclient.StatusCode(err) != 502 || !strings.Contains(err.Error(), "scylla api") {
		t.Fatalf("ClusterName without scylla = %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
}
