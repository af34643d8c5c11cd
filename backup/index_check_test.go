package backup_test

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/scyllaops/scyllaops/scyllatest"
	"github.com/scyllaops/scyllaops/store"
)

// A snapshot cleared on one node between SNAPSHOT and INDEX (`nodetool
// clearsnapshot` while the run waits for the schema) fails the run with
// an error naming the table, the node and the snapshot, instead of a
// DONE run whose manifest lacks the table.
func TestIndexFailsOnClearedSnapshot(t *testing.T) {
	e := newEnv(t, scyllatest.Options{}, backupOptions())
	node := e.cluster.Nodes()[1]
	var cleared atomic.Bool
	var tag string
	e.setHook(func(p *store.Progress) {
		if p.Key != "run" || !strings.Contains(string(p.Data), `"stage":"AWAIT_SCHEMA"`) || !cleared.CompareAndSwap(false, true) {
			return
		}
		tag = snapshotTagOf(t, p)
		if err := e.cluster.Client().DeleteSnapshot(t.Context(), node.IP, tag, "ks", "t"); err != nil {
			t.Errorf("clear the snapshot of ks.t on %s: %v", node.IP, err)
		}
	})
	id, err := e.backup(t.Context(), localProps)
	e.setHook(nil)
	if !cleared.Load() {
		t.Fatal("the run never reached AWAIT_SCHEMA")
	}
	if err == nil {
		t.Fatalf("run %s with a cleared snapshot succeeded", id)
	}
	for _, want := range []string{"snapshot " + tag, "ks.t", "node " + node.IP, "gone"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	p, perr := e.svc.RunProgress(t.Context(), e.clusterID, e.taskID, id)
	if perr != nil {
		t.Fatal(perr)
	}
	if p.Stage != "INDEX" {
		t.Errorf("the run stopped at %s, want INDEX", p.Stage)
	}
	// The next run takes a new snapshot and completes.
	e.mustBackup(localProps)
}

// snapshotTagOf reads snapshot_tag from a run row.
func snapshotTagOf(t *testing.T, p *store.Progress) string {
	t.Helper()
	_, rest, ok := strings.Cut(string(p.Data), `"snapshot_tag":"`)
	tag, _, ok2 := strings.Cut(rest, `"`)
	if !ok || !ok2 || tag == "" {
		t.Fatalf("no snapshot_tag in the run row %s", p.Data)
	}
	return tag
}
