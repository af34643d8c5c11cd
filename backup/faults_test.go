package backup_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scyllaops/scyllaops/backup"
	"github.com/scyllaops/scyllaops/internal/ring"
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

// A purge started while a backup uploads waits for the upload to end.
func TestPurgeWaitsForUpload(t *testing.T) {
	ks := []scyllatest.Keyspace{{Name: "ks", Replication: ring.Replication{Strategy: ring.SimpleStrategy, RF: 3},
		Tables: []scyllatest.Table{{Name: "t", SSTables: 1, DataSize: 3 << 20}}}}
	e := newEnv(t, scyllatest.Options{Keyspaces: ks}, backupOptions())
	e.mustBackup(`{"location":["localstorage:bucket"],"rate_limit":["0"]}`)
	if _, err := e.cluster.WriteData(e.cluster.Nodes()[0], "ks", "t", 1); err != nil {
		t.Fatal(err)
	}
	e.advance(time.Minute)
	var (
		started  atomic.Bool
		wg       sync.WaitGroup
		stageAt  atomic.Value
		purgeErr error
	)
	e.setHook(func(p *store.Progress) {
		if p.Key != "run" || !strings.Contains(string(p.Data), `"stage":"UPLOAD"`) || !started.CompareAndSwap(false, true) {
			return
		}
		runID := p.RunID
		wg.Go(func() {
			_, purgeErr = e.svc.Purge(t.Context(), e.clusterID, e.taskID, []byte(`{"location":["localstorage:bucket"],"retention":1}`))
			pr, err := e.svc.RunProgress(t.Context(), e.clusterID, e.taskID, runID)
			if err != nil {
				t.Error(err)
				return
			}
			stageAt.Store(pr.Stage)
		})
	})
	p := e.mustBackup(`{"location":["localstorage:bucket"],"rate_limit":["1"]}`)
	wg.Wait()
	if !started.Load() || p.Uploaded < 3<<20 {
		t.Fatalf("upload stage not seen (%v) or too little uploaded (%d)", started.Load(), p.Uploaded)
	}
	if purgeErr != nil {
		t.Fatal(purgeErr)
	}
	switch st := stageAt.Load().(string); st {
	case string(backup.StageMoveManifest), string(backup.StagePurge), string(backup.StageDone):
	default:
		t.Fatalf("purge finished while the backup was in stage %s", st)
	}
	e.validate()
}

// A run that failed before INIT finished does not break the resume of
// the run before it.
func TestResumeSkipsRunsFailedAtInit(t *testing.T) {
	e := newEnv(t, scyllatest.Options{}, backupOptions())
	ctx, cancel := context.WithCancel(t.Context())
	var done atomic.Int32
	e.setHook(func(p *store.Progress) {
		if r, ok := parseTableRow(p); ok && r.Done && done.Add(1) == 2 {
			cancel()
		}
	})
	id1, err := e.backup(ctx, localProps)
	if err == nil {
		t.Fatal("canceled run succeeded")
	}
	e.setHook(nil)
	p1, err := e.svc.RunProgress(t.Context(), e.clusterID, e.taskID, id1)
	if err != nil {
		t.Fatal(err)
	}
	n := e.cluster.Nodes()[0]
	if err := e.cluster.Stop(n); err != nil {
		t.Fatal(err)
	}
	if _, err := e.backup(t.Context(), localProps); err == nil || !strings.Contains(err.Error(), n.IP) {
		t.Fatalf("run with node down: %v", err)
	}
	if err := e.cluster.Start(n); err != nil {
		t.Fatal(err)
	}
	p3 := e.mustBackup(localProps)
	if p3.SnapshotTag != p1.SnapshotTag {
		t.Fatalf("run after the INIT failure used tag %s, want the interrupted run's %s", p3.SnapshotTag, p1.SnapshotTag)
	}
	e.validate()
}
