package backup_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/backup"
	"github.com/scyllaops/scyllaops/scyllatest"
	"github.com/scyllaops/scyllaops/store"
)

// runRowStage is the stage of a run progress row; ok is false for other
// rows.
func runRowStage(p *store.Progress) (backup.Stage, bool) {
	if p.Key != "run" {
		return "", false
	}
	var r struct {
		Stage backup.Stage `json:"stage"`
	}
	if json.Unmarshal(p.Data, &r) != nil {
		return "", false
	}
	return r.Stage, true
}

// interrupt starts a run and cancels it when stop says so for a progress
// write; it returns the run's ID and snapshot tag and asserts the run
// failed with the cancellation.
func (e *env) interrupt(stop func(*store.Progress) bool) (uuid.UUID, string) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(e.t.Context())
	defer cancel()
	var fired atomic.Bool
	e.setHook(func(p *store.Progress) {
		if stop(p) && fired.CompareAndSwap(false, true) {
			cancel()
		}
	})
	id, err := e.backup(ctx, localProps)
	e.setHook(nil)
	if !fired.Load() {
		e.t.Fatalf("the run ended (%v) before the interruption point", err)
	}
	if err == nil || !errors.Is(err, context.Canceled) {
		e.t.Fatalf("interrupted run: error %v, want context.Canceled", err)
	}
	p, err := e.svc.RunProgress(e.t.Context(), e.clusterID, e.taskID, id)
	if err != nil {
		e.t.Fatal(err)
	}
	if p.SnapshotTag == "" {
		e.t.Fatal("interrupted run has no snapshot tag")
	}
	return id, p.SnapshotTag
}

// clearSnapshot deletes snapshot tag on the node with the IP, as
// `nodetool clearsnapshot -t tag` would.
func (e *env) clearSnapshot(ip, tag string) {
	e.t.Helper()
	if err := e.cluster.Client().DeleteSnapshot(e.t.Context(), ip, tag, ""); err != nil {
		e.t.Fatal(err)
	}
}

// assertComplete asserts run id is DONE under a tag other than oldTag,
// that every node of the cluster has uploaded tables in it, that every
// table row is done, and that no kept snapshot misses a file.
func (e *env) assertComplete(id uuid.UUID, oldTag string) {
	e.t.Helper()
	p, err := e.svc.RunProgress(e.t.Context(), e.clusterID, e.taskID, id)
	if err != nil {
		e.t.Fatal(err)
	}
	if p.Stage != string(backup.StageDone) {
		e.t.Fatalf("stage %s, want DONE", p.Stage)
	}
	if p.SnapshotTag == oldTag {
		e.t.Fatalf("the run continued snapshot %s, which is gone from a node", oldTag)
	}
	rows, err := e.st.ListProgress(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	hosts := map[string]int{}
	for _, r := range rows {
		tr, ok := parseTableRow(r)
		if !ok {
			continue
		}
		if !tr.Done {
			e.t.Errorf("table row %s not done in a DONE run", r.Key)
		}
		hosts[tr.Host]++
	}
	for _, n := range e.cluster.Nodes() {
		if hosts[n.IP] == 0 {
			e.t.Errorf("node %s has no table in the DONE run", n.IP)
		}
	}
	reps := e.validate()
	if len(reps) != len(e.cluster.Nodes()) {
		e.t.Fatalf("%d nodes validated, want %d", len(reps), len(e.cluster.Nodes()))
	}
	items, err := e.svc.List(e.t.Context(), e.clusterID, []string{"localstorage:bucket"}, backup.ListFilter{ClusterID: e.clusterID})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, it := range items {
		for _, si := range it.SnapshotInfo {
			if si.SnapshotTag == oldTag {
				e.t.Errorf("list shows the abandoned snapshot %s", oldTag)
			}
		}
	}
}

// firstTableDone stops a run when its first table is uploaded.
func firstTableDone(p *store.Progress) bool {
	r, ok := parseTableRow(p)
	return ok && r.Done
}

// A new run does not continue an earlier run whose snapshot was cleared
// from a node during its upload: it takes a new snapshot.
func TestResumeSnapshotClearedDuringUpload(t *testing.T) {
	e := newEnv(t, scyllatest.Options{}, backupOptions())
	_, tag := e.interrupt(firstTableDone)
	// A half-finished run is not listed (its manifests are .tmp).
	items, err := e.svc.List(t.Context(), e.clusterID, []string{"localstorage:bucket"}, backup.ListFilter{ClusterID: e.clusterID})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 0 {
		t.Fatalf("list shows %v after an interrupted first run, want nothing", items)
	}
	e.clearSnapshot(e.cluster.Nodes()[1].IP, tag)
	p := e.mustBackup(localProps)
	id := e.lastRun()
	if p.SnapshotTag == tag {
		t.Fatalf("continued snapshot %s although node %s lost it", tag, e.cluster.Nodes()[1].IP)
	}
	e.assertComplete(id, tag)
}

// The same run re-executed after a takeover starts over with a new tag
// when a node lost its snapshot; its stale rows of the old snapshot are
// gone.
func TestResumeSnapshotClearedSameRun(t *testing.T) {
	e := newEnv(t, scyllatest.Options{}, backupOptions())
	id, tag := e.interrupt(firstTableDone)
	for _, n := range e.cluster.Nodes() {
		e.clearSnapshot(n.IP, tag) // a wiped cluster: every node lost it
	}
	e.advance(2e9) // a takeover comes later: the new tag differs
	if err := e.svc.Run(t.Context(), e.clusterID, e.taskID, id, json.RawMessage(localProps)); err != nil {
		t.Fatalf("re-executed run: %v", err)
	}
	e.finish(id, nil)
	e.assertComplete(id, tag)
}

// A run interrupted after SNAPSHOT but before INDEX and continued after a
// node lost the snapshot must not end DONE without that node's data.
func TestResumeSnapshotClearedBeforeIndex(t *testing.T) {
	e := newEnv(t, scyllatest.Options{}, backupOptions())
	_, tag := e.interrupt(func(p *store.Progress) bool {
		st, ok := runRowStage(p)
		return ok && st == backup.StageAwaitSchema
	})
	e.clearSnapshot(e.cluster.Nodes()[2].IP, tag)
	e.mustBackup(localProps)
	e.assertComplete(e.lastRun(), tag)
}

// A snapshot intact on every node is continued under its tag, also when
// the tables already uploaded lost their snapshot (the run deletes it
// itself after each table).
func TestResumeSnapshotIntactContinues(t *testing.T) {
	e := newEnv(t, scyllatest.Options{}, backupOptions())
	_, tag := e.interrupt(firstTableDone)
	p := e.mustBackup(localProps)
	if p.SnapshotTag != tag {
		t.Fatalf("tag %s, want the interrupted run's %s continued", p.SnapshotTag, tag)
	}
	e.validate()
}

// lastRun is the newest run of the task.
func (e *env) lastRun() uuid.UUID {
	e.t.Helper()
	runs, err := e.st.ListRuns(e.t.Context(), e.taskID, 1)
	if err != nil || len(runs) == 0 {
		e.t.Fatalf("list runs: %v (%d)", err, len(runs))
	}
	return runs[0].ID
}

// A snapshot cleared from a node while the run uploads fails the run
// instead of ending it DONE with files missing from the bucket; the next
// run starts over and completes.
func TestSnapshotClearedDuringOwnUpload(t *testing.T) {
	e := newEnv(t, scyllatest.Options{}, backupOptions())
	n := e.cluster.Nodes()[1]
	var (
		cleared atomic.Bool
		tag     atomic.Value
	)
	e.setHook(func(p *store.Progress) {
		if st, ok := runRowStage(p); ok && st == backup.StageUpload && cleared.CompareAndSwap(false, true) {
			var r struct {
				Tag string `json:"snapshot_tag"`
			}
			if err := json.Unmarshal(p.Data, &r); err != nil {
				t.Error(err)
				return
			}
			tag.Store(r.Tag)
			if err := e.cluster.Client().DeleteSnapshot(t.Context(), n.IP, r.Tag, ""); err != nil {
				t.Error(err)
			}
		}
	})
	_, err := e.backup(t.Context(), localProps)
	e.setHook(nil)
	if !cleared.Load() {
		t.Fatal("the run never reached UPLOAD")
	}
	if err == nil || !strings.Contains(err.Error(), n.IP) {
		t.Fatalf("error %v, want the upload to fail naming node %s", err, n.IP)
	}
	e.mustBackup(localProps)
	e.assertComplete(e.lastRun(), tag.Load().(string))
}

// The no_continue suspension path: Clean deletes an interrupted run's
// snapshots, the next run fails at INIT (a node is down) before writing a
// plan, so the run after it finds the cleaned run as the one to continue;
// it takes a new snapshot instead.
func TestResumeAfterClean(t *testing.T) {
	e := newEnv(t, scyllatest.Options{}, backupOptions())
	id, tag := e.interrupt(firstTableDone)
	if err := e.svc.Clean(t.Context(), e.clusterID, e.taskID, id); err != nil {
		t.Fatal(err)
	}
	n := e.cluster.Nodes()[0]
	if err := e.cluster.Stop(n); err != nil {
		t.Fatal(err)
	}
	if _, err := e.backup(t.Context(), localProps); err == nil || !strings.Contains(err.Error(), n.IP) {
		t.Fatalf("run with node %s down: %v, want an error naming it", n.IP, err)
	}
	if err := e.cluster.Start(n); err != nil {
		t.Fatal(err)
	}
	e.mustBackup(localProps)
	e.assertComplete(e.lastRun(), tag)
}
