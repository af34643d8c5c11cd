package scyllaops_test

import (
	"encoding/json"
	"hash/crc32"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/scyllaops/scyllaops/backup"
	"github.com/scyllaops/scyllaops/internal/backupspec"
	"github.com/scyllaops/scyllaops/store"
)

// TestRestoreOlderSnapshotVersionedFiles backs the source up twice, with
// sstables rewritten in between under the same (integer) names, so the
// second backup keeps the first one's copies as versioned files
// ("<name>.<tag2>"). Restoring the first snapshot loads exactly its
// content: each versioned file resolved to the copy it needs. The backup
// was written by another cluster and task than the target's.
func TestRestoreOlderSnapshotVersionedFiles(t *testing.T) {
	e := newRestoreEnv(t, nil)
	tag1 := e.tag
	want := e.bucketDataCRCs(t) // the first snapshot's content
	if e.cs.ID == e.cd.ID {
		t.Fatal("source and target clusters share an ID")
	}

	// Rewrite the t1 sstables of a source node: same names and sizes,
	// other data (a node reusing integer generations).
	n := e.src.Nodes()[0]
	dir := e.src.TableDir(n, "ks", "t1")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(7, 7))
	changed := map[uint32]bool{}
	for _, en := range ents {
		if !strings.HasSuffix(en.Name(), "-Data.db") {
			continue
		}
		old, err := os.ReadFile(filepath.Join(dir, en.Name()))
		if err != nil {
			t.Fatal(err)
		}
		data := make([]byte, len(old))
		for i := range data {
			data[i] = byte(rnd.Uint32())
		}
		crc := crc32.ChecksumIEEE(data)
		changed[crc] = true
		replaceFile(t, filepath.Join(dir, en.Name()), data)
		replaceFile(t, filepath.Join(dir, strings.TrimSuffix(en.Name(), "Data.db")+"Digest.crc32"), []byte(strconv.FormatUint(uint64(crc), 10)))
	}
	if len(changed) == 0 {
		t.Fatal("no sstable to rewrite")
	}
	// The second snapshot needs a later tag (second resolution).
	t1, _ := backupspec.ParseSnapshotTag(tag1)
	for !time.Now().UTC().Truncate(time.Second).After(t1) {
		time.Sleep(10 * time.Millisecond)
	}
	bt, err := e.ms.CreateTask(t.Context(), store.Task{ClusterID: e.cs.ID, Type: "backup", Enabled: true, Schedule: store.Schedule{Cron: "0 3 1 1 *"},
		Properties: json.RawMessage(`{"location":["localstorage:b1"]}`)})
	if err != nil {
		t.Fatal(err)
	}
	if run := runOnce(t, e.ms, e.cs.ID, bt.ID); run.Status != store.StatusDone {
		t.Fatalf("second backup %s: %s", run.Status, run.Cause)
	}
	list, err := e.ms.Backup().List(t.Context(), "src", []string{"localstorage:b1"}, backup.ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	for _, it := range list {
		for _, si := range it.SnapshotInfo {
			tags = append(tags, si.SnapshotTag)
		}
	}
	slices.Sort(tags)
	if len(tags) != 2 || tags[0] != tag1 {
		t.Fatalf("snapshots %v, want %s and a later one", tags, tag1)
	}
	tag2 := tags[1]
	// The first snapshot's copies of the rewritten files are versioned.
	var versioned []string
	_ = filepath.WalkDir(filepath.Join(e.buckets, "b1", "backup", "sst"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, "-Data.db."+tag2) {
			versioned = append(versioned, p)
		}
		return err
	})
	if len(versioned) != len(changed) {
		t.Fatalf("%d versioned Data.db files after the second backup, want %d", len(versioned), len(changed))
	}

	task, err := e.restoreTask(t, e.tablesProps(tag1))
	if err != nil {
		t.Fatal(err)
	}
	if run := runOnce(t, e.md, e.cd.ID, task.ID); run.Status != store.StatusDone {
		t.Fatalf("restore of %s: %s (%s)", tag1, run.Status, run.Cause)
	}
	recs := e.dst.LoadedSSTables()
	if d := cmp.Diff(want, loadedCRCs(recs)); d != "" {
		t.Fatalf("loaded sstables (-first snapshot +loaded):\n%s", d)
	}
	for _, r := range recs {
		if changed[r.DataCRC32] {
			t.Fatalf("%s loaded with the second snapshot's content", r.Name)
		}
	}
	checkLanded(t, e.dst, recs)
}

// replaceFile writes data to a new file renamed over p (snapshots keep
// their hard links to the old content).
func replaceFile(t *testing.T, p string, data []byte) {
	t.Helper()
	tmp := p + ".new"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
}
