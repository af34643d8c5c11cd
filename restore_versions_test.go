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
	"github.com/scyllaops/scyllaops/internal/agentapi"
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
	e, tag1, want, changed, _ := versionedSnapshots(t)
	task, err := e.restoreTask(t, e.tablesProps(tag1))
	if err != nil {
		t.Fatal(err)
	}
	if run := runOnce(t, e.md, e.cd.ID, task.ID); run.Status != store.StatusDone {
		t.Fatalf("restore of %s: %s (%s)", tag1, run.Status, run.Cause)
	}
	checkFirstSnapshotLoaded(t, e, want, changed)
}

// checkFirstSnapshotLoaded checks that the target loaded exactly the first
// snapshot's sstables (want), none with a rewritten (changed) content,
// each on its replicas.
func checkFirstSnapshotLoaded(t *testing.T, e *restoreEnv, want []uint32, changed map[uint32]bool) {
	t.Helper()
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

// versionedSnapshots backs the source up twice, rewriting its first
// node's t1 Data.db files in between (same names and sizes), and returns
// the first snapshot's tag, its Data.db CRCs, the rewritten contents'
// CRCs and the versioned copies' bucket paths.
func versionedSnapshots(t *testing.T) (e *restoreEnv, tag1 string, want []uint32, changed map[uint32]bool, versioned []string) {
	t.Helper()
	e = newRestoreEnv(t, nil)
	tag1 = e.tag
	want = e.bucketDataCRCs(t) // the first snapshot's content
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
	changed = map[uint32]bool{}
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
	_ = filepath.WalkDir(filepath.Join(e.buckets, "b1", "backup", "sst"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, "-Data.db."+tag2) {
			versioned = append(versioned, p)
		}
		return err
	})
	if len(versioned) != len(changed) {
		t.Fatalf("%d versioned Data.db files after the second backup, want %d", len(versioned), len(changed))
	}
	return e, tag1, want, changed, versioned
}

// TestRestoreVersionedFilesResume: a versioned copy is an agent job, and
// a continued run does not download again the versioned copies the
// failed run completed. The first run fails on an sstable whose other
// components' download fails, after its versioned Data.db was copied;
// with the fault gone, the continued run ends DONE having asked
// for every versioned file once. A new run before it deletes what it
// finds in the upload directories: whole sstables of the second
// snapshot's content under the first's names and sizes, planted there as
// an abandoned restore of the newer snapshot would leave them, are not
// loaded.
func TestRestoreVersionedFilesResume(t *testing.T) {
	e, tag1, want, changed, versioned := versionedSnapshots(t)
	// Plant, on every target node, the newest content of each rewritten
	// sstable under its name in the upload directory.
	srcDir := e.src.TableDir(e.src.Nodes()[0], "ks", "t1")
	for _, n := range e.dst.Nodes() {
		up := filepath.Join(e.dst.TableDir(n, "ks", "t1"), "upload")
		if err := os.MkdirAll(up, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, v := range versioned {
			gen := versionedGen(v)
			ents, err := os.ReadDir(srcDir)
			if err != nil {
				t.Fatal(err)
			}
			for _, en := range ents {
				if strings.HasPrefix(en.Name(), gen) {
					data, err := os.ReadFile(filepath.Join(srcDir, en.Name()))
					if err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(filepath.Join(up, en.Name()), data, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	// The download of the first versioned sstable's other components
	// fails (after its versioned copies, which go first).
	gen := versionedGen(versioned[0])
	e.dst.FailDownloads(gen + "Index.db")
	task, err := e.restoreTask(t, e.tablesProps(tag1))
	if err != nil {
		t.Fatal(err)
	}
	run := runOnce(t, e.md, e.cd.ID, task.ID)
	if run.Status != store.StatusError || !strings.Contains(run.Cause, gen) {
		t.Fatalf("restore with %sIndex.db failing: %s (%s), want ERROR naming its sstable", gen, run.Status, run.Cause)
	}
	e.dst.FailDownloads()
	if run := runOnce(t, e.md, e.cd.ID, task.ID); run.Status != store.StatusDone {
		t.Fatalf("continued restore of %s: %s (%s)", tag1, run.Status, run.Cause)
	}
	checkFirstSnapshotLoaded(t, e, want, changed)
	// Every versioned copy was one agent job, asked for once.
	asked := map[string]int{}
	for _, d := range e.dst.Downloads() {
		if d.Call != agentapi.CallOperationsCopyFile {
			continue
		}
		for _, f := range d.Files {
			asked[d.Host+" "+d.Src+"/"+f]++
			if d.JobID == 0 {
				t.Errorf("versioned copy of %s to %s: a synchronous call, want an agent job", f, d.Host)
			}
		}
	}
	// Data.db and Digest.crc32 of each rewritten sstable are versioned.
	var all []string
	_ = filepath.WalkDir(filepath.Join(e.buckets, "b1", "backup", "sst"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, filepath.Ext(versioned[0])) {
			all = append(all, p)
		}
		return err
	})
	if len(asked) != len(all) || len(all) != 2*len(versioned) {
		t.Errorf("versioned copies asked for: %v, want the %d versioned files %v", asked, len(all), all)
	}
	for k, n := range asked {
		if n != 1 {
			t.Errorf("%s asked for %d times, want once", k, n)
		}
	}
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

// versionedGen is the sstable prefix ("me-3-big-") of a versioned Data.db
// copy's bucket path ("…/me-3-big-Data.db.sm_…").
func versionedGen(p string) string {
	name := strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
	return strings.TrimSuffix(name, "Data.db")
}
