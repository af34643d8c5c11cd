package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scyllaops/scyllaops/restapi"
	"github.com/scyllaops/scyllaops/scyllatest"
)

// serverBin is the server binary TestMain builds once for the process
// tests ("" with -short).
var serverBin string

func TestMain(m *testing.M) {
	flag.Parse()
	code := func() int {
		if !testing.Short() {
			dir, err := os.MkdirTemp("", "scyllaops-server-test-")
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			defer os.RemoveAll(dir)
			serverBin = filepath.Join(dir, "server")
			if out, err := exec.Command("go", "build", "-o", serverBin, ".").CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
				return 1
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

// buildServer returns the server binary built by TestMain.
func buildServer(t *testing.T) string {
	t.Helper()
	if serverBin == "" {
		t.Skip("process tests need the server binary (not built with -short)")
	}
	return serverBin
}

func TestServerProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	bin := buildServer(t)
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "server.yaml")
	cfg := "http: 127.0.0.1:0\nprometheus: 127.0.0.1:0\ndata_dir: " + filepath.Join(dir, "data") + "\nlogger:\n  level: info\n"
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startProc(t, bin, cfgFile)
	cmd, httpAddr, promAddr := p.cmd, p.http, p.prom

	c, err := restapi.NewClient("http://"+httpAddr+"/api/v1", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Version(ctx); err != nil || v != restapi.DefaultVersion {
		t.Errorf("Version = %q, %v", v, err)
	}
	cs, err := c.ListClusters(ctx)
	if err != nil || len(cs) != 0 {
		t.Errorf("ListClusters = %v, %v; want none", cs, err)
	}
	if _, err := c.GetCluster(ctx, "nope"); !isStatus(err, 404) {
		t.Errorf("GetCluster(nope) = %v, want a 404", err)
	}

	// A real (simulated) cluster: add it, ask its status, and its
	// health-check gauges show up under Scylla Manager's names.
	sc := scyllatest.New(t, scyllatest.Options{Listen: true})
	if _, err := c.CreateCluster(ctx, restapi.Cluster{Name: "sim", Host: sc.ContactHost(), AuthToken: sc.AuthToken()}); err != nil {
		t.Fatal(err)
	}
	ns, err := c.ClusterStatus(ctx, "sim")
	if err != nil || len(ns) != len(sc.Hosts()) {
		t.Fatalf("ClusterStatus = %v, %v", ns, err)
	}

	// Run the health checks now; their gauges and the scheduler's
	// counters show up under Scylla Manager's names.
	hcs, err := c.ListTasks(ctx, "sim", restapi.ListTasksOptions{Type: "healthcheck"})
	if err != nil || len(hcs) == 0 {
		t.Fatalf("health-check tasks = %v, %v", hcs, err)
	}
	for _, hc := range hcs {
		if err := c.StartTask(ctx, "sim", "healthcheck", hc.ID, false); err != nil {
			t.Fatal(err)
		}
	}
	for _, hc := range hcs {
		for deadline := time.Now().Add(time.Minute); ; {
			p, err := c.RunProgress(ctx, "sim", "healthcheck", hc.ID, "latest")
			if err != nil {
				t.Fatal(err)
			}
			if p.Run.Status == "DONE" || p.Run.Status == "ERROR" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("health check %s not done: %+v", hc.ID, p.Run)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	resp, err := http.Get("http://" + promAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"go_goroutines", "process_cpu_seconds_total", "scylla_manager_healthcheck_rest_status{", "scylla_manager_healthcheck_cql_rtt_ms{", "scylla_manager_scheduler_run_total{", "scyllaops_store_requests_total{"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// SIGTERM: graceful, exit 0, "stopped" logged.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-p.done
	if err := cmd.Wait(); err != nil {
		t.Errorf("server exit after SIGTERM: %v", err)
	}
	if !p.logged("stopped") {
		t.Error("no \"stopped\" log line after SIGTERM")
	}
	if bad := p.notJSON(); len(bad) > 0 {
		t.Errorf("log lines that are not JSON: %q", bad)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "state.db")); err != nil {
		t.Errorf("state.db: %v", err)
	}
}

func isStatus(err error, code int) bool {
	var ae *restapi.APIError
	return errors.As(err, &ae) && ae.StatusCode == code
}
