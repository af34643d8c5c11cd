package backup_test

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/scyllaops/scyllaops/backup"
	"github.com/scyllaops/scyllaops/scyllatest"
	"github.com/scyllaops/scyllaops/store"
)

func TestBackupNodeDownAtStart(t *testing.T) {
	e := newEnv(t, scyllatest.Options{}, backupOptions())
	n := e.cluster.Nodes()[1]
	if err := e.cluster.Stop(n); err != nil {
		t.Fatal(err)
	}
	_, err := e.backup(t.Context(), localProps)
	if err == nil || !strings.Contains(err.Error(), n.IP) {
		t.Fatalf("error %v, want it to name node %s", err, n.IP)
	}
	if err := e.cluster.Start(n); err != nil {
		t.Fatal(err)
	}
	e.mustBackup(localProps)
	e.validate()
}

func TestBackupNodeDownDuringUpload(t *testing.T) {
	e := newEnv(t, scyllatest.Options{}, backupOptions())
	n := e.cluster.Nodes()[2]
	var stopped atomic.Bool
	e.setHook(func(p *store.Progress) {
		if r, ok := parseTableRow(p); ok && r.Done && r.Host != n.IP && stopped.CompareAndSwap(false, true) {
			if err := e.cluster.Stop(n); err != nil {
				t.Error(err)
			}
		}
	})
	id, err := e.backup(t.Context(), localProps)
	if err == nil || !strings.Contains(err.Error(), n.IP) {
		t.Fatalf("error %v, want it to name node %s", err, n.IP)
	}
	p, err := e.svc.RunProgress(t.Context(), e.clusterID, e.taskID, id)
	if err != nil {
		t.Fatal(err)
	}
	if p.Stage != string(backup.StageUpload) {
		t.Fatalf("failed at stage %s, want UPLOAD", p.Stage)
	}
	e.setHook(nil)
	if err := e.cluster.Start(n); err != nil {
		t.Fatal(err)
	}
	// The retry continues the run and completes it.
	p2 := e.mustBackup(localProps)
	if p2.SnapshotTag != p.SnapshotTag {
		t.Errorf("retry used tag %s, want %s", p2.SnapshotTag, p.SnapshotTag)
	}
	reps := e.validate()
	if len(reps) != 3 {
		t.Fatalf("%d nodes validated, want 3", len(reps))
	}
}
