package scyllaops_test

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/backup"
	"github.com/scyllaops/scyllaops/scyllatest"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/boltstore"
)

// sstFiles maps each uploaded sstable file in the bucket to its inode: a
// file uploaded again (fileblob writes a new file and renames it) gets a
// new inode.
func sstFiles(t *testing.T, root string) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		// SSTable components only, not the renamed Scylla manifests that
		// the MANIFEST stage moves before UPLOAD.
		if err != nil || d.IsDir() || !strings.Contains(p, "/backup/sst/") || strings.HasSuffix(p, ".attrs") || strings.HasSuffix(p, "manifest.json") ||
			strings.HasSuffix(p, ".tmp") { // a file fileblob is still writing
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		out[p] = fi.Sys().(*syscall.Stat_t).Ino
		return nil
	})
	return out
}

// TestBackupResumesAfterManagerSIGKILL kills a Manager process with SIGKILL
// in the middle of a backup's UPLOAD stage. A new Manager on the same bolt
// file takes the run over after the lease TTL, finishes it (DONE), and
// never uploads a file that was already uploaded; the backup validates
// with 0 missing files.
func TestBackupResumesAfterManagerSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process and a listening simulated cluster")
	}
	ctx := t.Context()
	buckets := t.TempDir()
	if err := os.Mkdir(filepath.Join(buckets, "bucket"), 0o755); err != nil {
		t.Fatal(err)
	}
	sim := scyllatest.New(t, scyllatest.Options{
		Listen: true,
		OpenBucket: func(ctx context.Context, provider, bucket string) (*blob.Bucket, error) {
			return fileblob.OpenBucket(filepath.Join(buckets, bucket), &fileblob.Options{NoTempDir: true})
		},
		Keyspaces: []scyllatest.Keyspace{{
			Name: "ks", Replication: scyllatest.Simple(2),
			Tables: []scyllatest.Table{{Name: "t1", SSTables: 6, DataSize: 512 << 10}, {Name: "t2", SSTables: 6, DataSize: 512 << 10}},
		}},
	})
	db := filepath.Join(t.TempDir(), "state.db")

	// Set up the cluster and the task with a Manager that then goes away.
	st, err := boltstore.Open(ctx, db, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := scyllaops.New(st, nil, killTestOptions("setup"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := m.CreateCluster(ctx, scyllaops.Cluster{Name: "c", Host: sim.ContactHost(), AuthToken: sim.AuthToken()})
	if err != nil {
		t.Fatal(err)
	}
	// 1 MiB/s per node: the upload of ~3.5 MiB per node takes seconds.
	props := json.RawMessage(`{"location":["localstorage:bucket"],"rate_limit":["1"],"keyspace":["ks"]}`)
	task, err := m.CreateTask(ctx, store.Task{ClusterID: c.ID, Type: "backup", Name: "b", Enabled: true,
		Schedule: store.Schedule{Cron: "0 3 1 1 *"}, Properties: props})
	if err != nil {
		t.Fatal(err)
	}
	_ = m.Close()
	_ = st.Close()

	// The child Manager starts the backup; kill it once some sstables are
	// in the bucket.
	cmd := startKillChild(t, killChildArgs{DB: db, Cluster: c.ID.String(), Task: task.ID.String()})
	var before map[string]uint64
	deadline := time.Now().Add(90 * time.Second)
	for {
		before = sstFiles(t, buckets)
		if len(before) >= 8 {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("no upload progress in the child within 90s (%d files)", len(before))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	before = sstFiles(t, buckets) // what the child finished before it died
	killTags := manifestTags(filepath.Join(buckets, "bucket", "backup", "meta"))

	// A new Manager on the same file takes the run over and finishes it.
	m, run := survivor(ctx, t, db, c.ID, task.ID)
	if run.Status != store.StatusDone {
		hist, _ := m.TaskHistory(ctx, c.ID, task.ID, 10)
		t.Fatalf("run after takeover: %s (%s); history %+v", run.Status, run.Cause, hist)
	}
	hist, err := m.TaskHistory(ctx, c.ID, task.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("history: %d runs; killed after %d of the files", len(hist), len(before))

	after := sstFiles(t, buckets)
	if len(after) <= len(before) {
		t.Fatalf("no file uploaded after the takeover: %d before, %d after", len(before), len(after))
	}
	for p, ino := range before {
		if got, ok := after[p]; !ok {
			t.Errorf("%s vanished", p)
		} else if got != ino {
			t.Errorf("%s was uploaded again after the takeover", p)
		}
	}
	// The run continued its own snapshot: the tag it ends with is the tag
	// of the manifests the killed Manager had written.
	if len(killTags) != 1 {
		t.Fatalf("manifests at the kill carry tags %v, want one", killTags)
	}
	p, err := m.Backup().Progress(ctx, c.ID, task.ID, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !killTags[p.SnapshotTag] {
		t.Errorf("run ended with snapshot %s, not the interrupted one %v: the backup started over", p.SnapshotTag, killTags)
	}
	reports, err := m.Backup().Validate(ctx, "c", nil, backup.ValidateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reports {
		if r.MissingFiles != 0 || r.Manifests == 0 {
			t.Errorf("validate %s: %d manifests, %d missing", r.Host, r.Manifests, r.MissingFiles)
		}
	}
}

// manifestTags returns the snapshot tags of the manifests (final or .tmp)
// under dir.
func manifestTags(dir string) map[string]bool {
	tags := map[string]bool{}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(d.Name(), "_tag_") {
			tags[strings.SplitN(strings.SplitN(d.Name(), "_tag_", 2)[1], "_manifest", 2)[0]] = true
		}
		return nil
	})
	return tags
}
