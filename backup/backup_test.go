package backup_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scyllaops/scyllaops/backup"
	"github.com/scyllaops/scyllaops/scyllatest"
	"github.com/scyllaops/scyllaops/store"
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
	// Runs within one second still get distinct, ordered tags.
	if p2.SnapshotTag <= p.SnapshotTag {
		t.Fatalf("second tag %s not after first %s", p2.SnapshotTag, p.SnapshotTag)
	}
	for _, r := range e.validate() {
		if r.Manifests != 2 {
			t.Errorf("node %s: %d manifests, want 2", r.Host, r.Manifests)
		}
	}
}

func TestBackupChangedDataUploadsOnlyNewFiles(t *testing.T) {
	e := newEnv(t, scyllatest.Options{}, backupOptions())
	p1 := e.mustBackup(localProps)
	n := e.cluster.Nodes()[0]
	added, err := e.cluster.WriteData(n, "ks", "t", 2)
	if err != nil {
		t.Fatal(err)
	}
	before := e.fileIDs()
	p2 := e.mustBackup(localProps)
	want := p2.Size - p1.Size // the new sstables
	if want <= 0 || len(added) != 18 || p2.Uploaded != want {
		t.Fatalf("second backup uploaded %d bytes, want %d (the %d new files)", p2.Uploaded, want, len(added))
	}
	if p2.Skipped != p1.Size {
		t.Fatalf("second backup size %d skipped %d, first size %d", p2.Size, p2.Skipped, p1.Size)
	}
	after := e.fileIDs()
	for f, id := range before {
		if strings.Contains(f, "/sst/") && after[f] != id {
			t.Errorf("file %s was rewritten", f)
		}
	}
	// Compaction: old files go, new ones come; still only new bytes.
	if _, err := e.cluster.Compact(n, "ks", "t"); err != nil {
		t.Fatal(err)
	}
	p3 := e.mustBackup(localProps)
	if p3.Uploaded == 0 || p3.Uploaded >= p3.Size {
		t.Fatalf("after compaction: uploaded %d of %d", p3.Uploaded, p3.Size)
	}
	e.validate()
}

func TestBackupResumeNeverReuploads(t *testing.T) {
	e := newEnv(t, scyllatest.Options{}, backupOptions())
	ctx, cancel := context.WithCancel(t.Context())
	var done atomic.Int32
	e.setHook(func(p *store.Progress) {
		if r, ok := parseTableRow(p); ok && r.Done && done.Add(1) == 3 {
			cancel()
		}
	})
	props := `{"location":["localstorage:bucket"],"rate_limit":["0"],"upload_parallel":["2"],"snapshot_parallel":["dc1:1"]}`
	id1, err := e.backup(ctx, props)
	if err == nil {
		t.Fatal("canceled run succeeded")
	}
	e.setHook(nil)
	p1, err := e.svc.RunProgress(t.Context(), e.clusterID, e.taskID, id1)
	if err != nil {
		t.Fatal(err)
	}
	if p1.Stage != string(backup.StageUpload) {
		t.Fatalf("canceled in stage %s, want UPLOAD", p1.Stage)
	}
	before := e.fileIDs()
	var sstBefore int
	for f := range before {
		if strings.Contains(f, "/sst/") {
			sstBefore++
		}
	}
	if sstBefore == 0 {
		t.Fatal("nothing uploaded before the cancel")
	}
	// Rows of finished tables must not be written again by the new run.
	var rewritten atomic.Int32
	finished := map[string]bool{}
	for _, h := range p1.Hosts {
		for _, k := range h.Keyspaces {
			for _, tb := range k.Tables {
				if tb.CompletedAt != nil {
					finished[h.Host+"/"+k.Keyspace+"/"+tb.Table] = true
				}
			}
		}
	}
	e.setHook(func(p *store.Progress) {
		if r, ok := parseTableRow(p); ok && finished[r.Host+"/"+r.Keyspace+"/"+r.Table] && p.RunID != id1 {
			if r.Uploaded != 0 && !r.Done {
				rewritten.Add(1)
			}
		}
	})
	p2 := e.mustBackup(props)
	if p2.SnapshotTag != p1.SnapshotTag {
		t.Fatalf("resumed run has tag %s, want %s", p2.SnapshotTag, p1.SnapshotTag)
	}
	after := e.fileIDs()
	for f, id := range before {
		if strings.HasSuffix(f, ".tmp") {
			continue // fileblob's in-flight temp file of the canceled upload
		}
		if after[f] != id && strings.Contains(f, "/sst/") {
			t.Errorf("file %s uploaded again", f)
		}
	}
	if rewritten.Load() != 0 {
		t.Errorf("%d finished table rows were uploaded again", rewritten.Load())
	}
	if p2.Uploaded+p2.Skipped != p2.Size {
		t.Errorf("resumed run: uploaded %d + skipped %d != size %d", p2.Uploaded, p2.Skipped, p2.Size)
		for _, h := range p2.Hosts {
			for _, k := range h.Keyspaces {
				for _, tb := range k.Tables {
					if tb.Uploaded+tb.Skipped != tb.Size {
						t.Logf("%s %s.%s: uploaded %d skipped %d size %d", h.Host, k.Keyspace, tb.Table, tb.Uploaded, tb.Skipped, tb.Size)
					}
				}
			}
		}
	}
	e.validate()
	// continue=false starts from scratch with a new tag.
	e.advance(time.Minute)
	p3 := e.mustBackup(`{"location":["localstorage:bucket"],"continue":false}`)
	if p3.SnapshotTag == p1.SnapshotTag || p3.Uploaded != 0 {
		t.Errorf("fresh run: tag %s (first %s), uploaded %d", p3.SnapshotTag, p1.SnapshotTag, p3.Uploaded)
	}
}
