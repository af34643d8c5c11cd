package backup_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/scyllaops/scyllaops/backup"
	"github.com/scyllaops/scyllaops/scyllatest"
)

func TestRetentionPurgeAndListing(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	bo := backupOptions()
	bo.Registerer = reg
	e := newEnv(t, scyllatest.Options{}, bo)
	props := `{"location":["localstorage:bucket"],"retention":2}`
	n := e.cluster.Nodes()[0]
	var tags []string
	var firstOnly []string
	for i := range 3 {
		tags = append(tags, e.mustBackup(props).SnapshotTag)
		if i == 0 {
			// Files of the first backup that compaction will drop.
			for f := range e.bucketFiles() {
				if strings.Contains(f, "/keyspace/ks/table/t/") && strings.Contains(f, "/node/") {
					firstOnly = append(firstOnly, f)
				}
			}
		}
		if _, err := e.cluster.Compact(n, "ks", "t"); err != nil {
			t.Fatal(err)
		}
		e.advance(time.Hour)
	}
	items, err := e.svc.List(t.Context(), e.clusterID, []string{"localstorage:bucket"}, backup.ListFilter{ClusterID: e.clusterID})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || len(items[0].SnapshotInfo) != 2 || items[0].TaskID != e.taskID {
		t.Fatalf("list after 3 backups with retention 2: %+v", items)
	}
	if items[0].SnapshotInfo[0].SnapshotTag != tags[2] || items[0].SnapshotInfo[1].SnapshotTag != tags[1] || items[0].SnapshotInfo[0].Nodes != 3 {
		t.Fatalf("kept %+v, want %s and %s", items[0].SnapshotInfo, tags[2], tags[1])
	}
	reps := e.validate()
	for _, r := range reps {
		if r.OrphanedFiles != 0 {
			t.Errorf("node %s: %d orphaned files after purge", r.Host, r.OrphanedFiles)
		}
	}
	// The compacted-away files of node 0 that only the first snapshot
	// referenced are gone.
	now := e.bucketFiles()
	gone := 0
	for _, f := range firstOnly {
		if _, ok := now[f]; !ok {
			gone++
		}
	}
	if gone == 0 {
		t.Error("purge deleted none of the files only the purged snapshot referenced")
	}
	// ListFiles of the newest snapshot: 3 nodes, each with ks.t.
	files, err := e.svc.ListFiles(t.Context(), e.clusterID, []string{"localstorage:bucket"}, backup.ListFilter{SnapshotTag: tags[2], Keyspace: []string{"ks"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 || len(files[0].Files) != 1 || files[0].Files[0].Table != "t" || len(files[0].Files[0].Files) == 0 {
		t.Fatalf("files %+v", files)
	}
	for _, f := range files[0].Files[0].Files {
		if _, ok := now[strings.TrimPrefix(files[0].Files[0].Path+"/"+f, "")]; !ok {
			t.Errorf("listed file %s/%s not in bucket", files[0].Files[0].Path, f)
		}
	}
	// Delete the middle snapshot explicitly.
	if err := e.svc.DeleteSnapshot(t.Context(), e.clusterID, []string{"localstorage:bucket"}, []string{tags[1]}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteSnapshot(t.Context(), e.clusterID, []string{"localstorage:bucket"}, []string{tags[1]}); !errors.Is(err, backup.ErrSnapshotNotFound) {
		t.Errorf("deleting again: %v, want ErrSnapshotNotFound", err)
	}
	items, err = e.svc.List(t.Context(), e.clusterID, []string{"localstorage:bucket"}, backup.ListFilter{ClusterID: e.clusterID})
	if err != nil || len(items) != 1 || len(items[0].SnapshotInfo) != 1 || items[0].SnapshotInfo[0].SnapshotTag != tags[2] {
		t.Fatalf("after delete: %+v %v", items, err)
	}
	for _, r := range e.validate() {
		if r.OrphanedFiles != 0 {
			t.Errorf("node %s: %d orphaned files after delete", r.Host, r.OrphanedFiles)
		}
	}
	// A purge_only run deletes by retention without a snapshot.
	pp := e.mustBackup(`{"location":["localstorage:bucket"],"purge_only":true,"retention":1}`)
	if pp.Size != 0 || len(pp.Hosts) != 0 {
		t.Errorf("purge_only run backed up data: %+v", pp)
	}
	for _, n := range e.cluster.Nodes() {
		if snaps, _ := e.cluster.Snapshots(n); len(snaps) != 0 {
			t.Errorf("purge_only run left a snapshot on %s", n.IP)
		}
	}
	// Metrics: SM names, lint-clean.
	// Lint-clean except the two "_count" names Scylla Manager's
	// dashboards need.
	probs, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range probs {
		if p.Metric != "scylla_manager_backup_files_count" && p.Metric != "scylla_manager_backup_files_skipped_count" {
			t.Errorf("metric lint: %s: %s", p.Metric, p.Text)
		}
	}
	n2, err := testutil.GatherAndCount(reg, "scylla_manager_backup_files_size_bytes", "scylla_manager_backup_snapshot", "scylla_manager_backup_purge_deleted_files")
	if err != nil || n2 == 0 {
		t.Errorf("backup metrics missing: %d %v", n2, err)
	}
}

func TestValidateFindsMissingAndOrphans(t *testing.T) {
	e := newEnv(t, scyllatest.Options{}, backupOptions())
	e.mustBackup(localProps)
	files := e.bucketFiles()
	var victim string
	for f := range files {
		if strings.HasSuffix(f, "-big-Data.db") && strings.Contains(f, "/keyspace/ks/") {
			victim = f
			break
		}
	}
	if victim == "" {
		t.Fatal("no data file in the bucket")
	}
	root := e.bucketDir + "/bucket/"
	if err := renameFile(root+victim, root+victim+".orphan"); err != nil {
		t.Fatal(err)
	}
	reps, err := e.svc.Validate(t.Context(), e.clusterID, []string{"localstorage:bucket"}, backup.ValidateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	missing, orphans := 0, 0
	for _, r := range reps {
		missing += r.MissingFiles
		orphans += r.OrphanedFiles
		if r.MissingFiles > 0 && len(r.BrokenSnapshots) != 1 {
			t.Errorf("broken snapshots %v", r.BrokenSnapshots)
		}
	}
	if missing != 1 || orphans != 1 {
		t.Fatalf("missing %d orphans %d, want 1 and 1", missing, orphans)
	}
	reps, err = e.svc.Validate(t.Context(), e.clusterID, []string{"localstorage:bucket"}, backup.ValidateOptions{DeleteOrphanedFiles: true})
	if err != nil {
		t.Fatal(err)
	}
	deleted := 0
	for _, r := range reps {
		deleted += r.DeletedFiles
	}
	if _, ok := e.bucketFiles()[victim+".orphan"]; ok || deleted != 1 {
		t.Errorf("orphan not deleted (deleted %d)", deleted)
	}
}

func TestProgressJSONShape(t *testing.T) {
	e := newEnv(t, scyllatest.Options{}, backupOptions())
	id, err := e.backup(t.Context(), localProps)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := e.svc.Progress(t.Context(), e.clusterID, e.taskID, id)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"snapshot_tag", "dcs", "hosts", "stage", "size", "uploaded", "skipped", "failed", "started_at", "completed_at"} {
		if _, ok := m[k]; !ok {
			t.Errorf("progress lacks %q", k)
		}
	}
	h := m["hosts"].([]any)[0].(map[string]any)
	ks := h["keyspaces"].([]any)[0].(map[string]any)
	tb := ks["tables"].([]any)[0].(map[string]any)
	for obj, keys := range map[string][]string{"host": {"host", "size", "uploaded", "skipped", "failed", "started_at", "completed_at", "keyspaces"},
		"keyspace": {"keyspace", "tables", "size"}, "table": {"table", "size", "uploaded", "skipped", "failed", "started_at", "completed_at"}} {
		src := map[string]map[string]any{"host": h, "keyspace": ks, "table": tb}[obj]
		for _, k := range keys {
			if _, ok := src[k]; !ok {
				t.Errorf("%s progress lacks %q", obj, k)
			}
		}
	}
	if !bytes.Contains(raw, []byte(`"stage":"DONE"`)) {
		t.Errorf("stage not DONE: %s", raw)
	}
}

func TestValidateContentCheck(t *testing.T) {
	e := newEnv(t, scyllatest.Options{}, backupOptions())
	e.mustBackup(localProps)
	o := backup.ValidateOptions{ContentSample: 1000}
	reps, err := e.svc.Validate(t.Context(), e.clusterID, []string{"localstorage:bucket"}, o)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	var victim string
	for _, r := range reps {
		checked += r.ContentChecked
		if len(r.ContentErrors) != 0 {
			t.Fatalf("content errors on a fresh backup: %v", r.ContentErrors)
		}
	}
	for f := range e.bucketFiles() {
		if strings.HasSuffix(f, "-big-Data.db") && strings.Contains(f, "/keyspace/ks/") {
			victim = f
			break
		}
	}
	if checked == 0 || victim == "" {
		t.Fatalf("checked %d files, victim %q", checked, victim)
	}
	// Flip one byte of a Data.db in the bucket: the check names it.
	p := e.bucketDir + "/bucket/" + victim
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	reps, err = e.svc.Validate(t.Context(), e.clusterID, []string{"localstorage:bucket"}, o)
	if err != nil {
		t.Fatal(err)
	}
	var errs []string
	for _, r := range reps {
		errs = append(errs, r.ContentErrors...)
		if r.MissingFiles != 0 || r.OrphanedFiles != 0 {
			t.Errorf("node %s: %d missing %d orphans (scratch copies left?)", r.Host, r.MissingFiles, r.OrphanedFiles)
		}
	}
	if len(errs) != 1 || !strings.Contains(errs[0], victim) {
		t.Fatalf("content errors %v, want one naming %s", errs, victim)
	}
	for f := range e.bucketFiles() {
		if strings.Contains(f, "backup/meta/.validate") {
			t.Errorf("scratch file left: %s", f)
		}
	}
}

func TestValidateRunner(t *testing.T) {
	e := newEnv(t, scyllatest.Options{}, backupOptions())
	e.mustBackup(localProps)
	vr := e.svc.ValidateRunner()
	if err := vr.ValidateProperties([]byte(`{"location":["localstorage:bucket"],"x":1}`)); err == nil {
		t.Error("unknown property accepted")
	}
	props := []byte(`{"location":["localstorage:bucket"],"content_sample":2}`)
	id := e.newRun()
	if err := vr.Run(t.Context(), e.clusterID, e.taskID, id, props); err != nil {
		t.Fatal(err)
	}
	raw, err := vr.Progress(t.Context(), e.clusterID, e.taskID, id)
	if err != nil {
		t.Fatal(err)
	}
	var reps []map[string]any
	if err := json.Unmarshal(raw, &reps); err != nil || len(reps) != 3 {
		t.Fatalf("progress %s: %v", raw, err)
	}
	for _, k := range []string{"dc", "host", "location", "manifests", "scanned_files", "broken_snapshots", "missing_files", "orphaned_files", "orphaned_bytes", "deleted_files", "started_at", "completed_at"} {
		if _, ok := reps[0][k]; !ok {
			t.Errorf("validate progress lacks %q", k)
		}
	}
	// A missing file fails the run, naming the snapshot.
	for f := range e.bucketFiles() {
		if strings.HasSuffix(f, "-big-Index.db") {
			if err := os.Remove(e.bucketDir + "/bucket/" + f); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	err = vr.Run(t.Context(), e.clusterID, e.taskID, e.newRun(), props)
	if err == nil || !strings.Contains(err.Error(), "1 missing files") {
		t.Fatalf("run with a missing file: %v", err)
	}
}
