package scyllaops_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/scyllaops/scyllaops/backup"
	"github.com/scyllaops/scyllaops/store"
)

// TestValidateMarksIncompleteSnapshot: a snapshot a node never finished
// (only its .tmp manifest, as after a manager killed in MOVE_MANIFEST) is
// reported incomplete on that node by backup validate, through the API
// and in the validate_backup task's progress; the other nodes' reports
// do not name it.
func TestValidateMarksIncompleteSnapshot(t *testing.T) {
	e := newRestoreEnv(t, nil)
	var manifest string
	_ = filepath.WalkDir(filepath.Join(e.buckets, "b1", "backup", "meta"), func(p string, d os.DirEntry, err error) error {
		if err == nil && manifest == "" && strings.HasSuffix(p, "_manifest.json.gz") {
			manifest = p
		}
		return err
	})
	if err := os.Rename(manifest, manifest+".tmp"); err != nil {
		t.Fatal(err)
	}
	node := filepath.Base(filepath.Dir(manifest))
	check := func(how string, reps []backup.ValidateReport) {
		t.Helper()
		if len(reps) != 6 {
			t.Fatalf("%s: %d reports, want one per source node (6)", how, len(reps))
		}
		for _, r := range reps {
			want := []string(nil)
			if r.NodeID == node {
				want = []string{e.tag}
			}
			if !slices.Equal(r.IncompleteSnapshots, want) || r.MissingFiles != 0 {
				t.Errorf("%s: node %s: incomplete %v, missing %d; want incomplete %v, missing 0", how, r.NodeID, r.IncompleteSnapshots, r.MissingFiles, want)
			}
		}
	}
	reps, err := e.ms.Backup().Validate(t.Context(), "src", []string{"localstorage:b1"}, backup.ValidateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	check("Validate", reps)

	task, err := e.ms.CreateTask(t.Context(), store.Task{ClusterID: e.cs.ID, Type: backup.ValidateTaskType, Enabled: true,
		Schedule: store.Schedule{Cron: "0 3 1 1 *"}, Properties: json.RawMessage(`{"location":["localstorage:b1"]}`)})
	if err != nil {
		t.Fatal(err)
	}
	runOnce(t, e.ms, e.cs.ID, task.ID)
	_, raw, err := e.ms.RunProgress(t.Context(), e.cs.ID, task.ID, "latest")
	if err != nil {
		t.Fatal(err)
	}
	reps = nil
	if err := json.Unmarshal(raw, &reps); err != nil {
		t.Fatalf("progress %s: %v", raw, err)
	}
	check("validate_backup progress", reps)
}
