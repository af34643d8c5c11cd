package scyllaops_test

import (
	"os/exec"
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
