package scyllaops_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestLibraryImportGraph fails if the library's own import graph pulls in a
// store driver, the simulator or package testing: embedders get neither
// unless they import them.
func TestLibraryImportGraph(t *testing.T) {
	out, err := exec.CommandContext(t.Context(), "go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	forbidden := []string{
		"github.com/scyllaops/scyllaops/store/memstore",
		"github.com/scyllaops/scyllaops/store/boltstore",
		"github.com/scyllaops/scyllaops/store/cqlstore",
		"github.com/scyllaops/scyllaops/scyllatest",
		"go.etcd.io/bbolt",
		"github.com/gocql/gocql",
		"testing",
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps returned only %d packages: %q", len(deps), deps)
	}
	for _, d := range deps {
		for _, f := range forbidden {
			if d == f || strings.HasPrefix(d, f+"/") {
				t.Errorf("library import graph contains %s", d)
			}
		}
	}
}

// servicePackages are the service packages of DESIGN.md §2, by name:
// those that do not exist yet are checked once they do.
var servicePackages = []string{"backup", "healthcheck", "repair", "restore"}

// serviceImportViolations returns, for each service package (or
// subpackage) in deps (import path → its transitive imports), the
// imports DESIGN.md §2 forbids it: another service package, the
// scheduler, the root package, a store driver or the simulator.
func serviceImportViolations(module string, deps map[string][]string) []string {
	under := func(pkg, dir string) bool {
		p := module + "/" + dir
		return pkg == p || strings.HasPrefix(pkg, p+"/")
	}
	var out []string
	for pkg, ds := range deps {
		own := ""
		for _, s := range servicePackages {
			if under(pkg, s) {
				own = s
			}
		}
		if own == "" {
			continue
		}
		for _, d := range ds {
			bad := d == module || under(d, "scheduler") || under(d, "scyllatest") ||
				under(d, "store/memstore") || under(d, "store/boltstore") || under(d, "store/cqlstore")
			for _, s := range servicePackages {
				bad = bad || (s != own && under(d, s))
			}
			if bad {
				out = append(out, pkg+" imports "+d)
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestServiceImportRules fails when a service package (backup,
// healthcheck, repair, restore) imports, directly or not, another service
// package, the scheduler, the root package, a store driver or scyllatest
// (go list -deps of the non-test build).
func TestServiceImportRules(t *testing.T) {
	const module = "github.com/scyllaops/scyllaops"
	out, err := exec.CommandContext(t.Context(), "go", "list", "-e", "-f", `{{.ImportPath}} {{join .Deps " "}}`, "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) > 0 {
			deps[f[0]] = f[1:]
		}
	}
	for _, s := range []string{"backup", "healthcheck"} {
		if _, ok := deps[module+"/"+s]; !ok {
			t.Fatalf("go list did not list %s/%s: %q", module, s, out)
		}
	}
	for _, v := range serviceImportViolations(module, deps) {
		t.Error(v)
	}
}

// TestServiceImportViolations: the rule catches each forbidden kind of
// import and lets the allowed ones through.
func TestServiceImportViolations(t *testing.T) {
	const m = "example.com/mod"
	got := serviceImportViolations(m, map[string][]string{
		m + "/backup":             {m + "/store", m + "/agentclient", m + "/topology", m + "/internal/backupspec", "context"},
		m + "/repair":             {m + "/scheduler"},
		m + "/restore/internal/x": {m + "/backup"},
		m + "/healthcheck":        {m},
		m + "/backup/sub":         {m + "/store/boltstore", m + "/scyllatest"},
		m + "/restapi":            {m + "/backup", m + "/scheduler"},
	})
	want := []string{
		m + "/backup/sub imports " + m + "/scyllatest",
		m + "/backup/sub imports " + m + "/store/boltstore",
		m + "/healthcheck imports " + m,
		m + "/repair imports " + m + "/scheduler",
		m + "/restore/internal/x imports " + m + "/backup",
	}
	if !slices.Equal(got, want) {
		t.Errorf("violations:\n got %q\nwant %q", got, want)
	}
}
