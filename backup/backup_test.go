package backup_test

import (
	"testing"

	"github.com/scyllaops/scyllaops/scyllatest"
)

func TestBackupEndToEnd(t *testing.T) {
	e := newEnv(t, scyllatest.Options{}, backupOptions())
	p := e.mustBackup(localProps)
	if p.Size == 0 || p.Uploaded != p.Size || p.Skipped != 0 || p.Failed != 0 {
		t.Fatalf("first backup: size %d uploaded %d skipped %d failed %d", p.Size, p.Uploaded, p.Skipped, p.Failed)
	}
	if len(p.Hosts) != 3 {
		t.Fatalf("hosts in progress: %d", len(p.Hosts))
	}
	reps := e.validate()
	if len(reps) != 3 {
		t.Fatalf("validate reports: %d, want 3 nodes", len(reps))
	}
	for _, r := range reps {
		if r.OrphanedFiles != 0 || r.Manifests != 1 {
			t.Errorf("node %s: %d orphans, %d manifests", r.Host, r.OrphanedFiles, r.Manifests)
		}
	}
	// No snapshot is left on the nodes.
	for _, n := range e.cluster.Nodes() {
		snaps, err := e.cluster.Snapshots(n)
		if err != nil {
			t.Fatal(err)
		}
		if len(snaps) != 0 {
			t.Errorf("node %s keeps %d snapshots", n.IP, len(snaps))
		}
	}
	t.Logf("first backup: %d bytes, %d files in bucket", p.Size, len(e.bucketFiles()))
	// Second backup of unchanged data uploads nothing.
	p2 := e.mustBackup(localProps)
	if p2.Uploaded != 0 || p2.Skipped != p2.Size || p2.Size != p.Size {
		t.Fatalf("second backup: size %d uploaded %d skipped %d", p2.Size, p2.Uploaded, p2.Skipped)
	}
	e.validate()
}
