package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scyllaops/scyllaops/scyllatest"
)

func goBuild(t *testing.T, pkg, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	out, err := exec.CommandContext(t.Context(), "go", "build", "-o", bin, pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// startServerProcess runs examples/server on loopback with a bbolt store
// in a temp dir and returns its API URL; SIGTERM at cleanup.
func startServerProcess(t *testing.T) string {
	t.Helper()
	bin := goBuild(t, "../server", "server")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "server.yaml")
	if err := os.WriteFile(cfg, []byte("http: 127.0.0.1:0\nprometheus: '-'\ndata_dir: "+dir+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", cfg)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == "serving" {
				a, _ := m["http"].(string)
				addr <- a
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-done
		if err := cmd.Wait(); err != nil {
			t.Errorf("server exit: %v", err)
		}
	})
	select {
	case a := <-addr:
		return "http://" + a + "/api/v1"
	case <-done:
		t.Fatal("server exited before serving")
	case <-time.After(time.Minute):
		t.Fatal("server not serving within a minute")
	}
	return ""
}

func TestCLIAgainstServerProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server and CLI binaries")
	}
	sc := scyllatest.New(t, scyllatest.Options{Listen: true})
	url := startServerProcess(t)
	cli := goBuild(t, ".", "sctool")
	sctool := func(args ...string) (string, error) {
		cmd := exec.CommandContext(t.Context(), cli, args...)
		cmd.Env = append(os.Environ(), "SCYLLA_MANAGER_API_URL="+url)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := sctool("version")
	if err != nil || !strings.Contains(out, "Server version: Snapshot") {
		t.Fatalf("version: %v\n%s", err, out)
	}
	out, err = sctool("cluster", "add", "--id", id1, "--name", "prod", "--host", sc.ContactHost(), "--auth-token", sc.AuthToken())
	if err != nil || !strings.HasPrefix(out, id1) {
		t.Fatalf("cluster add against the real agent: %v\n%s", err, out)
	}
	out, err = sctool("cluster", "list")
	if err != nil {
		t.Fatal(err, out)
	}
	golden(t, "process_cluster_list", out)
	out, err = sctool("status", "-c", "prod")
	if err != nil || strings.Count(out, "│ UN │") != len(sc.Hosts()) || !strings.Contains(out, "UP (") {
		t.Errorf("status: %v, want every node UN with pings UP:\n%s", err, out)
	}
	out, err = sctool("status", "-c", "prod", "--format", "json")
	var ns []map[string]any
	if err != nil || json.Unmarshal([]byte(out), &ns) != nil || len(ns) != len(sc.Hosts()) {
		t.Errorf("status --format json: %v\n%s", err, out)
	}
	// A wrong token is refused by the agent: nothing is added.
	if out, err := sctool("cluster", "add", "--name", "bad", "--host", sc.ContactHost(), "--auth-token", "wrong"); err == nil {
		t.Errorf("cluster add with a wrong token succeeded:\n%s", out)
	}
	// --api-url wins over the environment.
	if out, err := sctool("--api-url", "http://127.0.0.1:1/api/v1", "cluster", "list"); err == nil {
		t.Errorf("--api-url to a closed port succeeded:\n%s", out)
	}
}
