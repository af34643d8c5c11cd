package main

import (
	"bytes"
	"flag"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/restapi"
	"github.com/scyllaops/scyllaops/scyllatest"
	"github.com/scyllaops/scyllaops/store/memstore"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fixture is a Manager over memstore and an in-process simulated cluster,
// served by the REST handler.
type fixture struct {
	t   *testing.T
	url string
	sc  *scyllatest.Cluster
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	sc := scyllatest.New(t, scyllatest.Options{})
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	m, err := scyllaops.New(st, sc.Transport(), scyllaops.Options{
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	srv := httptest.NewServer(restapi.NewHandler(m, restapi.Options{Version: "test-1.0"}))
	t.Cleanup(srv.Close)
	return &fixture{t: t, url: srv.URL + "/api/v1", sc: sc}
}

// sctool runs the CLI in-process and returns stdout, stderr and the code.
func (f *fixture) sctool(args ...string) (string, string, int) {
	f.t.Helper()
	var out, errb bytes.Buffer
	env := map[string]string{"SCYLLA_MANAGER_API_URL": f.url}
	code := run(f.t.Context(), args, &out, &errb, func(k string) string { return env[k] })
	return out.String(), errb.String(), code
}

func (f *fixture) ok(args ...string) string {
	f.t.Helper()
	out, errs, code := f.sctool(args...)
	if code != 0 {
		f.t.Fatalf("sctool %s: exit %d: %s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// golden compares got with testdata/<name>.golden (-update rewrites it).
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (go test -update rewrites it)\n--- got\n%s\n--- want\n%s", name, p, got, want)
	}
}

const (
	id1 = "11111111-1111-4111-8111-111111111111"
	id2 = "22222222-2222-4222-8222-222222222222"
)

func TestClusterCommands(t *testing.T) {
	f := newFixture(t)
	host, token := f.sc.ContactHost(), f.sc.AuthToken()
	out := f.ok("cluster", "add", "--id", id1, "--name", "prod", "--host", host, "--auth-token", token, "--label", "env=prod,team=db", "-u", "cassandra", "-p", "secret")
	if !strings.HasPrefix(out, id1+"\n") || !strings.Contains(out, "export SCYLLA_MANAGER_CLUSTER="+id1) {
		t.Errorf("cluster add output:\n%s", out)
	}
	f.ok("cluster", "add", "--id", id2, "--name", "staging", "--host", host, "--auth-token", token)
	golden(t, "cluster_list", f.ok("cluster", "list"))
	golden(t, "cluster_list_json", f.ok("cluster", "list", "--format", "json"))
	golden(t, "cluster_list_yaml", f.ok("cluster", "list", "--format", "yaml"))

	f.ok("cluster", "update", "-c", "staging", "--label", "env=stage", "--name", "stage")
	f.ok("cluster", "update", "-c", "prod", "--delete-cql-credentials", "--label", "team-")
	golden(t, "cluster_list_updated", f.ok("cluster", "list"))

	f.ok("cluster", "delete", "-c", "stage")
	out = f.ok("cluster", "list")
	if strings.Contains(out, "stage") || !strings.Contains(out, "prod") {
		t.Errorf("after delete:\n%s", out)
	}
	golden(t, "version", f.ok("version"))
}

func TestCLIErrors(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"cluster", "delete"}, "missing cluster"},
		{[]string{"cluster", "delete", "-c", "nope"}, "HTTP 404"},
		{[]string{"cluster", "add", "--name", "x"}, `required flag "host"`},
		{[]string{"cluster", "add", "--host", "127.0.0.1", "--name", "00000000-0000-4000-8000-000000000000"}, "cluster.name"},
		{[]string{"cluster", "list", "--format", "xml"}, "--format"},
		{[]string{"cluster", "list", "--api-url", "ftp://x"}, "api url"},
		{[]string{"tasks", "-c", "nope"}, "HTTP"},
		{[]string{"info", "-c", "nope", "backup"}, "HTTP"},
	} {
		out, errs, code := f.sctool(tc.args...)
		if code == 0 || !strings.Contains(errs, tc.want) {
			t.Errorf("sctool %v: exit %d, stdout %q, stderr %q; want a failure mentioning %q", tc.args, code, out, errs, tc.want)
		}
	}
}

func TestCompletion(t *testing.T) {
	f := newFixture(t)
	for _, sh := range []string{"bash", "zsh", "fish"} {
		if out := f.ok("completion", sh); !strings.Contains(out, "sctool") {
			t.Errorf("completion %s lacks the command name", sh)
		}
	}
	f.ok("cluster", "add", "--id", id1, "--name", "prod", "--host", f.sc.ContactHost(), "--auth-token", f.sc.AuthToken())
	out := f.ok("__complete", "tasks", "--cluster", "")
	if !strings.Contains(out, "prod\t"+id1) {
		t.Errorf("cluster completion:\n%s", out)
	}
}
