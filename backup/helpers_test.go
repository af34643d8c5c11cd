package backup_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/backup"
	"github.com/scyllaops/scyllaops/scyllatest"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/memstore"
)

type resolver struct{ c *scyllatest.Cluster }

func (r resolver) Client(context.Context, uuid.UUID) (*agentclient.Client, string, error) {
	return r.c.Client(), r.c.ContactHost(), nil
}

// hookStore calls onPut after every progress write (each row of a batch), so tests can act at
// a precise point of a run (cancel it, stop a node).
type hookStore struct {
	*memstore.Store
	onPut atomic.Pointer[func(*store.Progress)]
}

func (h *hookStore) PutProgress(ctx context.Context, p *store.Progress) error {
	err := h.Store.PutProgress(ctx, p)
	if f := h.onPut.Load(); f != nil && err == nil {
		(*f)(p)
	}
	return err
}

func (h *hookStore) PutProgressBatch(ctx context.Context, ps []*store.Progress) error {
	err := h.Store.PutProgressBatch(ctx, ps) // *memstore.Store: a store.ProgressBatcher
	if f := h.onPut.Load(); f != nil && err == nil {
		for _, p := range ps {
			(*f)(p)
		}
	}
	return err
}

// setHook installs f (nil removes the hook).
func (e *env) setHook(f func(*store.Progress)) {
	if f == nil {
		e.st.onPut.Store(nil)
		return
	}
	e.st.onPut.Store(&f)
}

type env struct {
	t         *testing.T
	cluster   *scyllatest.Cluster
	st        *hookStore
	svc       *backup.Service
	clusterID uuid.UUID
	taskID    uuid.UUID
	bucketDir string // root of localstorage buckets
	offset    atomic.Int64
}

// advance moves the service's clock forward.
func (e *env) advance(d time.Duration) { e.offset.Add(int64(d)) }

// localBuckets opens "localstorage:<b>" as the existing directory
// root/<b>; other providers open through openCloud.
func localBuckets(root string) func(ctx context.Context, provider, bucket string) (*blob.Bucket, error) {
	return func(ctx context.Context, provider, bucket string) (*blob.Bucket, error) {
		if provider != "localstorage" {
			return openCloud(ctx, provider, bucket)
		}
		return fileblob.OpenBucket(filepath.Join(root, bucket), &fileblob.Options{NoTempDir: true, Metadata: fileblob.MetadataDontWrite})
	}
}

func newEnv(t *testing.T, opts scyllatest.Options, bo backup.Options) *env {
	t.Helper()
	e := &env{t: t, st: &hookStore{Store: memstore.New()}, clusterID: uuid.New(), taskID: uuid.New(), bucketDir: t.TempDir()}
	if err := os.Mkdir(filepath.Join(e.bucketDir, "bucket"), 0o755); err != nil {
		t.Fatal(err)
	}
	opts.OpenBucket = localBuckets(e.bucketDir)
	e.cluster = scyllatest.New(t, opts)
	if bo.Logger == nil {
		lvl := slog.LevelWarn
		if os.Getenv("SCYLLAOPS_BACKUP_DEBUG") != "" {
			lvl = slog.LevelDebug
		}
		bo.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: lvl}))
	}
	if bo.Now == nil {
		bo.Now = func() time.Time { return time.Now().Add(time.Duration(e.offset.Load())) }
	}
	if bo.LongPoll == 0 {
		bo.LongPoll = time.Second
	}
	svc, err := backup.New(e.st, resolver{e.cluster}, bo)
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	ctx := t.Context()
	if err := e.st.CreateCluster(ctx, &store.Cluster{ID: e.clusterID, Name: "c1", Host: e.cluster.ContactHost()}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.CreateTask(ctx, &store.Task{ClusterID: e.clusterID, ID: e.taskID, Type: "backup", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.st.Close() })
	return e
}

// newRun creates a run record of the task.
func (e *env) newRun() uuid.UUID {
	e.t.Helper()
	id, err := uuid.NewUUID()
	if err != nil {
		e.t.Fatal(err)
	}
	r := &store.Run{ClusterID: e.clusterID, TaskID: e.taskID, ID: id, Type: "backup", Status: store.StatusRunning, StartTime: time.Now()}
	if err := e.st.CreateRun(e.t.Context(), r); err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *env) finish(runID uuid.UUID, err error) {
	e.t.Helper()
	r, gerr := e.st.GetRun(e.t.Context(), e.taskID, runID)
	if gerr != nil {
		e.t.Fatal(gerr)
	}
	r.Status = store.StatusDone
	if err != nil {
		r.Status, r.Cause = store.StatusError, err.Error()
	}
	if uerr := e.st.UpdateRun(e.t.Context(), r); uerr != nil {
		e.t.Fatal(uerr)
	}
}

// backup runs one backup run with props and returns its ID and error.
func (e *env) backup(ctx context.Context, props string) (uuid.UUID, error) {
	e.t.Helper()
	id := e.newRun()
	err := e.svc.Run(ctx, e.clusterID, e.taskID, id, json.RawMessage(props))
	e.finish(id, err)
	return id, err
}

func (e *env) mustBackup(props string) *backup.RunProgress {
	e.t.Helper()
	id, err := e.backup(e.t.Context(), props)
	if err != nil {
		e.t.Fatalf("backup: %v", err)
	}
	p, err := e.svc.RunProgress(e.t.Context(), e.clusterID, e.taskID, id)
	if err != nil {
		e.t.Fatal(err)
	}
	if p.Stage != string(backup.StageDone) {
		e.t.Fatalf("stage %s after a successful run", p.Stage)
	}
	return p
}

// validate asserts that no kept snapshot misses a file and returns the
// reports.
func (e *env) validate(locs ...string) []backup.ValidateReport {
	e.t.Helper()
	if len(locs) == 0 {
		locs = []string{"localstorage:bucket"}
	}
	reps, err := e.svc.Validate(e.t.Context(), e.clusterID, locs, backup.ValidateOptions{})
	if err != nil {
		e.t.Fatalf("validate: %v", err)
	}
	for _, r := range reps {
		if r.MissingFiles != 0 {
			e.t.Fatalf("validate: node %s (%s): %d missing files in %v: %v", r.Host, r.NodeID, r.MissingFiles, r.BrokenSnapshots, r.Missing[:min(3, len(r.Missing))])
		}
	}
	return reps
}

// bucketFiles returns every file path under the bucket dir.
func (e *env) bucketFiles() map[string]int64 {
	e.t.Helper()
	out := map[string]int64{}
	root := filepath.Join(e.bucketDir, "bucket")
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out[filepath.ToSlash(rel)] = fi.Size()
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

const localProps = `{"location":["localstorage:bucket"]}`

// tableRow is the subset of a table progress row the tests read.
type tableRow struct {
	Host     string `json:"host"`
	Keyspace string `json:"keyspace"`
	Table    string `json:"table"`
	Done     bool   `json:"done"`
	Uploaded int64  `json:"uploaded"`
}

func parseTableRow(p *store.Progress) (tableRow, bool) {
	var r tableRow
	if len(p.Key) < 6 || p.Key[:6] != "table/" || json.Unmarshal(p.Data, &r) != nil {
		return r, false
	}
	return r, true
}

// fileIDs maps every bucket file to its inode and mtime: a rewritten file
// gets a new identity.
func (e *env) fileIDs() map[string]string {
	e.t.Helper()
	out := map[string]string{}
	root := filepath.Join(e.bucketDir, "bucket")
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // a temp file of an upload that is ending
		}
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out[filepath.ToSlash(rel)] = fmt.Sprintf("%v/%d", fileIno(fi), fi.ModTime().UnixNano())
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func fileIno(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

func renameFile(from, to string) error { return os.Rename(from, to) }
