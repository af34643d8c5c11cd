package backup_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/backup"
	"github.com/scyllaops/scyllaops/internal/backupspec"
	"github.com/scyllaops/scyllaops/scyllatest"
	"github.com/scyllaops/scyllaops/store"
)

// assertNoSnapshot fails the test if any node keeps a snapshot.
func (e *env) assertNoSnapshot() {
	e.t.Helper()
	for _, n := range e.cluster.Nodes() {
		snaps, err := e.cluster.Snapshots(n)
		if err != nil {
			e.t.Fatal(err)
		}
		if len(snaps) != 0 {
			e.t.Errorf("node %s keeps %d snapshots, e.g. %s of %s.%s", n.IP, len(snaps), snaps[0].Tag, snaps[0].Keyspace, snaps[0].Table)
		}
	}
}

// assertStage asserts the stored stage of run id.
func (e *env) assertStage(id uuid.UUID, want backup.Stage) {
	e.t.Helper()
	p, err := e.svc.RunProgress(e.t.Context(), e.clusterID, e.taskID, id)
	if err != nil {
		e.t.Fatal(err)
	}
	if p.Stage != string(want) {
		e.t.Errorf("run stage %s, want %s", p.Stage, want)
	}
}

// With a minimum of 100% no disk with data qualifies (the sim's data dirs
// hold files): the agent's operations/about answers each node's simulated
// disk (scyllatest.Options.DiskSize, its data dir as the used part), every node
// fails the check, the old sm_* snapshot was still deleted first, and no
// snapshot is left on any node.
func TestDiskSpaceFreeMinPercentFailsRun(t *testing.T) {
	bo := backupOptions()
	bo.DiskSpaceFreeMinPercent = 100
	e := newEnv(t, scyllatest.Options{}, bo)
	old := backupspec.NewSnapshotTag(time.Now().Add(-48 * time.Hour))
	for _, n := range e.cluster.Nodes() {
		if err := e.cluster.Client().TakeSnapshot(t.Context(), n.IP, old, "ks"); err != nil {
			t.Fatal(err)
		}
	}
	id, err := e.backup(t.Context(), localProps)
	if err == nil {
		t.Fatal("backup with disk_space_free_min_percent 100 succeeded")
	}
	for _, n := range e.cluster.Nodes() {
		re := regexp.MustCompile(`backup: host ` + regexp.QuoteMeta(n.IP) + `: \d+% free on data:, below disk_space_free_min_percent 100`)
		if !re.MatchString(err.Error()) {
			t.Errorf("error %q does not match %s", err, re)
		}
	}
	e.assertNoSnapshot()
	e.assertStage(id, backup.StageSnapshot)
	if files := e.bucketFiles(); len(files) != 0 {
		t.Errorf("bucket holds %d files after a run failed at SNAPSHOT", len(files))
	}
}

// One node below the minimum fails the run before any snapshot is taken:
// the nodes with enough space get none either. Exactly the minimum is
// enough; a negative minimum disables the check.
func TestDiskSpaceOneLowNode(t *testing.T) {
	e := newEnv(t, scyllatest.Options{}, backupOptions()) // default minimum 10%
	low := e.cluster.Nodes()[1]
	if err := e.cluster.SetDiskFree(low, 7); err != nil {
		t.Fatal(err)
	}
	_, err := e.backup(t.Context(), localProps)
	want := "backup: host " + low.IP + ": 7% free on data:, below disk_space_free_min_percent 10"
	if err == nil || err.Error() != want {
		t.Fatalf("backup error = %v, want exactly %q", err, want)
	}
	e.assertNoSnapshot()

	if err := e.cluster.SetDiskFree(low, 10); err != nil {
		t.Fatal(err)
	}
	e.mustBackup(localProps)

	off := backupOptions()
	off.DiskSpaceFreeMinPercent = -1
	e2 := newEnv(t, scyllatest.Options{}, off)
	for _, n := range e2.cluster.Nodes() {
		if err := e2.cluster.SetDiskFree(n, 0); err != nil {
			t.Fatal(err)
		}
	}
	e2.mustBackup(localProps)
}

// A run continuing a snapshot that exists does not check the disk again:
// the snapshot already pins its sstables.
func TestDiskSpaceNotCheckedOnResume(t *testing.T) {
	e := newEnv(t, scyllatest.Options{}, backupOptions())
	_, tag := e.interrupt(func(p *store.Progress) bool {
		st, ok := runRowStage(p)
		return ok && st == backup.StageAwaitSchema
	})
	for _, n := range e.cluster.Nodes() {
		if err := e.cluster.SetDiskFree(n, 1); err != nil {
			t.Fatal(err)
		}
	}
	p := e.mustBackup(localProps)
	if p.SnapshotTag != tag {
		t.Fatalf("tag %s, want the interrupted run's %s continued", p.SnapshotTag, tag)
	}
	// A new snapshot is checked.
	if _, err := e.backup(t.Context(), localProps); err == nil || !strings.Contains(err.Error(), "1% free on data:") {
		t.Fatalf("new run on 1%% free disks: %v, want the disk space error", err)
	}
}

func TestOptionsValidateDiskSpaceFreeMinPercent(t *testing.T) {
	for _, v := range []int{-1, 0, 1, 100} {
		if err := (backup.Options{DiskSpaceFreeMinPercent: v}).Validate(); err != nil {
			t.Errorf("DiskSpaceFreeMinPercent %d: %v", v, err)
		}
	}
	err := backup.Options{DiskSpaceFreeMinPercent: 101}.Validate()
	if err == nil || !strings.Contains(err.Error(), "DiskSpaceFreeMinPercent 101") {
		t.Errorf("DiskSpaceFreeMinPercent 101: %v, want an error naming the option", err)
	}
}
