package scyllaops_test

import (
	"net/http"
	"testing"

	"github.com/scyllaops/scyllaops/store"
)

// TestRestoreAutoCompaction: by default auto-compaction of the restored
// tables is off on the target nodes while sstables are loaded and back on
// afterwards, also after a failed run; allow_compaction leaves it on.
func TestRestoreAutoCompaction(t *testing.T) {
	e := newRestoreEnv(t, nil)
	checkOn := func(when string) {
		t.Helper()
		for _, n := range e.dst.Nodes() {
			for _, tbl := range []string{"t1", "t2"} {
				if !e.dst.AutoCompaction(n, "ks", tbl) {
					t.Fatalf("%s: auto-compaction of ks.%s is off on %s", when, tbl, n.IP)
				}
			}
		}
	}
	checkLoads := func(from int, want bool) int {
		t.Helper()
		loads := e.dst.Loads()
		if len(loads) <= from {
			t.Fatalf("no load since the last check")
		}
		for _, l := range loads[from:] {
			if l.AutoCompaction != want {
				t.Fatalf("load of %s.%s on %s with auto-compaction %v, want %v", l.Keyspace, l.Table, l.Host, l.AutoCompaction, want)
			}
		}
		return len(loads)
	}

	task, err := e.restoreTask(t, e.tablesProps(e.tag))
	if err != nil {
		t.Fatal(err)
	}
	// A run that fails in the data stage turns it back on too.
	if err := e.dst.FailNext(e.dst.Nodes()[0], http.MethodPost, "/storage_service/sstables/", http.StatusInternalServerError); err != nil {
		t.Fatal(err)
	}
	if run := runOnce(t, e.md, e.cd.ID, task.ID); run.Status != store.StatusError {
		t.Fatalf("run with a failing load: %s (%s), want ERROR", run.Status, run.Cause)
	}
	n := checkLoads(0, false)
	checkOn("after the failed run")
	if run := runOnce(t, e.md, e.cd.ID, task.ID); run.Status != store.StatusDone {
		t.Fatalf("resumed run: %s (%s)", run.Status, run.Cause)
	}
	n = checkLoads(n, false)
	checkOn("after the restore")

	props := e.tablesProps(e.tag)
	props["allow_compaction"] = true
	task, err = e.restoreTask(t, props)
	if err != nil {
		t.Fatal(err)
	}
	if run := runOnce(t, e.md, e.cd.ID, task.ID); run.Status != store.StatusDone {
		t.Fatalf("allow_compaction run: %s (%s)", run.Status, run.Cause)
	}
	checkLoads(n, true)
	checkOn("after the allow_compaction restore")
}
