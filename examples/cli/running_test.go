package main

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/healthcheck"
	"github.com/scyllaops/scyllaops/restapi"
	"github.com/scyllaops/scyllaops/scyllatest"
	"github.com/scyllaops/scyllaops/store/memstore"
)

// newRunningFixture is newFixture with a running Manager and agents that
// open "localstorage:bucket" as a directory.
func newRunningFixture(t *testing.T) *fixture {
	t.Helper()
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "bucket"), 0o755); err != nil {
		t.Fatal(err)
	}
	sc := scyllatest.New(t, scyllatest.Options{OpenBucket: func(ctx context.Context, provider, bucket string) (*blob.Bucket, error) {
		return fileblob.OpenBucket(filepath.Join(root, bucket), &fileblob.Options{NoTempDir: true})
	}})
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	m, err := scyllaops.New(st, sc.Transport(), scyllaops.Options{
		CQLDial: sc.CQLDialer().DialContext,
		// A loaded test machine must not turn pings into TIMEOUTs.
		Healthcheck: healthcheck.Options{Timeout: 15 * time.Second},
		Logger:      slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = m.Close()
	})
	srv := httptest.NewServer(restapi.NewHandler(m, restapi.Options{Version: "test-1.0"}))
	t.Cleanup(srv.Close)
	return &fixture{t: t, url: srv.URL + "/api/v1", sc: sc}
}

// waitDone polls sctool progress until the run is DONE.
func (f *fixture) waitDone(cluster, task string) string {
	f.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		out := f.ok("progress", "-c", cluster, task)
		if strings.Contains(out, "Status:\t\tDONE") {
			return out
		}
		if strings.Contains(out, "Status:\t\tERROR") || time.Now().After(deadline) {
			f.t.Fatalf("progress %s:\n%s", task, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestTaskCommandsEndToEnd(t *testing.T) {
	f := newRunningFixture(t)
	f.ok("cluster", "add", "--id", id1, "--name", "prod", "--host", f.sc.ContactHost(), "--auth-token", f.sc.AuthToken())

	out := f.ok("tasks", "-c", "prod")
	for _, want := range []string{"healthcheck/cql", "healthcheck/rest", "* * * * *", "NEW"} {
		if !strings.Contains(out, want) {
			t.Errorf("tasks lacks %q:\n%s", want, out)
		}
	}
	f.ok("start", "-c", "prod", "healthcheck/rest")
	out = f.waitDone("prod", "healthcheck/rest")
	if !strings.Contains(out, "Run:") {
		t.Errorf("progress:\n%s", out)
	}
	out = f.ok("info", "-c", "prod", "healthcheck/rest")
	if !strings.Contains(out, "Name:\thealthcheck/rest") || !strings.Contains(out, "DONE") || !strings.Contains(out, `mode: "rest"`) {
		t.Errorf("info:\n%s", out)
	}
	out = f.ok("tasks", "-c", "prod", "--type", "healthcheck", "--status", "DONE", "--format", "json")
	if !strings.Contains(out, `"success_count": 1`) {
		t.Errorf("tasks --status DONE --format json:\n%s", out)
	}
	// Ambiguous bare type, unknown name.
	if _, errs, code := f.sctool("info", "-c", "prod", "healthcheck"); code == 0 || !strings.Contains(errs, "ambiguous") {
		t.Errorf("info healthcheck: exit %d, %s", code, errs)
	}
	if _, errs, code := f.sctool("start", "-c", "prod", "healthcheck/nope"); code == 0 || !strings.Contains(errs, "not found") {
		t.Errorf("start healthcheck/nope: exit %d, %s", code, errs)
	}
	f.ok("stop", "-c", "prod", "healthcheck/alternator", "--disable")
	out = f.ok("tasks", "-c", "prod", "-a")
	if !strings.Contains(out, "*healthcheck/alternator") {
		t.Errorf("disabled task not starred:\n%s", out)
	}
	f.ok("suspend", "-c", "prod")
	if out := f.ok("tasks", "-c", "prod", "--format", "yaml"); !strings.Contains(out, "suspended: false") {
		// Health checks keep running while suspended.
		t.Errorf("tasks while suspended:\n%s", out)
	}
	f.ok("resume", "-c", "prod", "--start-tasks")
	if _, errs, code := f.sctool("suspend", "-c", "prod", "--suspend-policy", "later"); code == 0 || !strings.Contains(errs, "suspend-policy") {
		t.Errorf("bad --suspend-policy: exit %d, %s", code, errs)
	}
}
