package agentclient_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/scyllaops/scyllaops/agentclient"
)

func TestPutCatFileInfoDelete(t *testing.T) {
	forEachTransport(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		content := []byte(`{"version":"v2"}`)
		key := "backup/meta/cluster/c1/dc/dc1/node/n1/manifest.json.gz"
		if err := e.c.Put(ctx, e.host, "s3:backups", key, bytes.NewReader(content)); err != nil {
			t.Fatalf("Put (seekable): %v", err)
		}
		// A non-seekable body streams once.
		if err := e.c.Put(ctx, e.host, "s3:backups", "backup/schema/s.cql", io.MultiReader(strings.NewReader("CREATE "), strings.NewReader("TABLE"))); err != nil {
			t.Fatalf("Put (stream): %v", err)
		}
		got, err := e.c.Cat(ctx, e.host, "s3:backups", key)
		if err != nil || !bytes.Equal(got, content) {
			t.Fatalf("Cat = %q, %v", got, err)
		}
		if got, _ := e.c.Cat(ctx, e.host, "s3:backups", "backup/schema/s.cql"); string(got) != "CREATE TABLE" {
			t.Fatalf("Cat schema = %q", got)
		}
		// Cat is restricted.
		if err := e.c.Put(ctx, e.host, "s3:backups", "backup/sst/secret", strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
		if _, err := e.c.Cat(ctx, e.host, "s3:backups", "backup/sst/secret"); agentclient.StatusCode(err) != http.StatusForbidden {
			t.Fatalf("Cat outside backup/meta = %v, want 403", err)
		}
		e.writeLocal(t, "ks/t-1/me-1-big-Digest.crc32", []byte("12345"))
		if got, err := e.c.Cat(ctx, e.host, "data:", "ks/t-1/me-1-big-Digest.crc32"); err != nil || string(got) != "12345" {
			t.Fatalf("Cat crc32 = %q, %v", got, err)
		}
		fi, err := e.c.FileInfo(ctx, e.host, "s3:backups", key)
		if err != nil || fi.Size != int64(len(content)) || fi.ModTime.IsZero() {
			t.Fatalf("FileInfo = %+v, %v", fi, err)
		}
		if _, err := e.c.FileInfo(ctx, e.host, "s3:backups", "nope"); !errors.Is(err, agentclient.ErrNotFound) {
			t.Fatalf("FileInfo missing = %v, want ErrNotFound", err)
		}
		if err := e.c.CopyFile(ctx, e.host, "s3:backups", key+".tmp", "s3:backups", key); err != nil {
			t.Fatalf("CopyFile: %v", err)
		}
		if err := e.c.MoveFile(ctx, e.host, "s3:backups", key+".moved", "s3:backups", key+".tmp"); err != nil {
			t.Fatalf("MoveFile same dir: %v", err)
		}
		if err := e.c.MoveFile(ctx, e.host, "s3:backups", "other/x", "s3:backups", key+".moved"); agentclient.StatusCode(err) != http.StatusForbidden {
			t.Fatalf("MoveFile across dirs of a remote = %v, want 403", err)
		}
		if _, err := e.c.FileInfo(ctx, e.host, "s3:backups", key+".tmp"); !errors.Is(err, agentclient.ErrNotFound) {
			t.Fatalf("moved source still there: %v", err)
		}
		if err := e.c.DeleteFile(ctx, e.host, "s3:backups", key+".moved"); err != nil {
			t.Fatalf("DeleteFile: %v", err)
		}
		n, err := e.c.DeletePaths(ctx, e.host, "s3:backups", "backup", []string{"schema/s.cql", "sst/secret", "sst/missing"})
		if err != nil || n != 2 {
			t.Fatalf("DeletePaths = %d, %v; want 2", n, err)
		}
		if err := e.c.Purge(ctx, e.host, "s3:backups", "backup"); err != nil {
			t.Fatalf("Purge: %v", err)
		}
		var left []string
		if err := e.c.List(ctx, e.host, agentclient.ListOptions{Fs: "s3:backups", Opt: &agentclient.ListOpt{Recurse: true}}, func(it agentclient.ListItem) error {
			left = append(left, it.Path)
			return nil
		}); err != nil || len(left) != 0 {
			t.Fatalf("after purge: %v, %v", left, err)
		}
	})
}

func TestList(t *testing.T) {
	forEachTransport(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		const n = 450 // more than two chunks of 200
		for i := range n {
			if err := e.bucket.WriteAll(ctx, fmt.Sprintf("backup/sst/f%03d", i), []byte("x"), nil); err != nil {
				t.Fatal(err)
			}
		}
		_ = e.bucket.WriteAll(ctx, "backup/sst/sub/a-Data.db", []byte("abc"), nil)
		_ = e.bucket.WriteAll(ctx, "backup/sst/sub/a-Data.db.sm_20250101000000UTC", []byte("ab"), nil)

		var flat, files []agentclient.ListItem
		err := e.c.List(ctx, e.host, agentclient.ListOptions{Fs: "s3:backups", Remote: "backup/sst"}, func(it agentclient.ListItem) error {
			flat = append(flat, it)
			return nil
		})
		if err != nil || len(flat) != n+1 {
			t.Fatalf("List = %d items, %v; want %d", len(flat), err, n+1)
		}
		if i := slices.IndexFunc(flat, func(it agentclient.ListItem) bool { return it.IsDir }); i < 0 || flat[i].Path != "sub" {
			t.Fatalf("dir entry missing: %+v", flat)
		}
		err = e.c.List(ctx, e.host, agentclient.ListOptions{Fs: "s3:backups", Remote: "backup/sst", Opt: &agentclient.ListOpt{Recurse: true, FilesOnly: true, ShowHash: true}, NewestOnly: true}, func(it agentclient.ListItem) error {
			files = append(files, it)
			return nil
		})
		if err != nil || len(files) != n+1 {
			t.Fatalf("recursive newestOnly = %d, %v", len(files), err)
		}
		last := files[len(files)-1]
		if last.Path != "sub/a-Data.db" || last.Name != "a-Data.db" || last.Size != 3 || last.Hashes["md5"] == "" {
			t.Fatalf("last item = %+v", last)
		}
		var versioned []string
		_ = e.c.List(ctx, e.host, agentclient.ListOptions{Fs: "s3:backups", Remote: "backup/sst/sub", VersionedOnly: true}, func(it agentclient.ListItem) error {
			versioned = append(versioned, it.Name)
			return nil
		})
		if !slices.Equal(versioned, []string{"a-Data.db.sm_20250101000000UTC"}) {
			t.Fatalf("versionedOnly = %v", versioned)
		}
		// A callback error stops the listing and comes back as is.
		stop := errors.New("enough")
		count := 0
		err = e.c.List(ctx, e.host, agentclient.ListOptions{Fs: "s3:backups", Remote: "backup/sst"}, func(agentclient.ListItem) error {
			count++
			if count == 10 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || count != 10 {
			t.Fatalf("List stop = %v after %d", err, count)
		}
	})
}

func TestBadRequests(t *testing.T) {
	forEachTransport(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		raw := func(path string, body io.Reader) error {
			return e.c.Raw(ctx, e.host, http.MethodPost, path, nil, body, nil)
		}
		cases := []struct {
			name    string
			err     error
			code    int
			message string
		}{
			{"traversal fs", func() error { _, err := e.c.FileInfo(ctx, e.host, "data:../../etc", "passwd"); return err }(), 400, "escape"},
			{"traversal remote", func() error { _, err := e.c.FileInfo(ctx, e.host, "data:", "ks/../../../etc/passwd"); return err }(), 400, "escape"},
			{"absolute", func() error { _, err := e.c.FileInfo(ctx, e.host, "data:", "/etc/passwd"); return err }(), 400, "absolute"},
			{"nul", func() error { _, err := e.c.FileInfo(ctx, e.host, "data:", "a\x00b"); return err }(), 400, "NUL"},
			{"bad provider", func() error { _, err := e.c.FileInfo(ctx, e.host, "ftp:x", "a"); return err }(), 400, "invalid provider"},
			{"list traversal", e.c.List(ctx, e.host, agentclient.ListOptions{Fs: "s3:backups", Remote: "../x"}, func(agentclient.ListItem) error { return nil }), 400, "escape"},
			{"put traversal", e.c.Put(ctx, e.host, "data:", "../evil", strings.NewReader("x")), 400, "escape"},
			{"malformed json", raw("/agent/rclone/operations/fileinfo", strings.NewReader(`{"fs":`)), 400, "invalid JSON body"},
			{"json not object", raw("/agent/rclone/operations/fileinfo", strings.NewReader(`[1,2]`)), 400, "invalid JSON body"},
			{"wrong type", raw("/agent/rclone/operations/fileinfo", strings.NewReader(`{"fs":1}`)), 400, `"fs"`},
			{"oversized", raw("/agent/rclone/operations/deletepaths", io.MultiReader(strings.NewReader(`{"paths":["`), strings.NewReader(strings.Repeat("a", 2<<20)), strings.NewReader(`"]}`))), 413, "too large"},
			{"unknown call", raw("/agent/rclone/core/command", strings.NewReader(`{}`)), 404, "couldn't find method"},
			{"unknown job", e.c.JobStop(ctx, e.host, 12345), 404, "job not found"},
			{"source not local", func() error {
				_, err := e.c.CopyDir(ctx, e.host, agentclient.SyncOptions{SrcFs: "s3:backups", DstFs: "s3:other"})
				return err
			}(), 400, "must be local"},
		}
		for _, tc := range cases {
			if agentclient.StatusCode(tc.err) != tc.code || !strings.Contains(tc.err.Error(), tc.message) {
				t.Errorf("%s: error = %v; want status %d with %q", tc.name, tc.err, tc.code, tc.message)
			}
		}
		if n := testutil.CollectAndCount(e.reg, "scylla_manager_agent_unexposed_access"); n != 1 {
			t.Errorf("unexposed_access series = %d, want 1", n)
		}
		// GET on an rc call is refused.
		err := e.c.Raw(ctx, e.host, http.MethodGet, "/agent/rclone/operations/about", nil, nil, nil)
		if agentclient.StatusCode(err) != http.StatusMethodNotAllowed {
			t.Errorf("GET rc = %v, want 405", err)
		}
	})
}

func TestAboutAndCheckPermissions(t *testing.T) {
	forEachTransport(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		fs, err := e.c.About(ctx, e.host, "data:", "")
		if err != nil || fs.Total <= 0 || fs.Free <= 0 {
			t.Fatalf("About = %+v, %v", fs, err)
		}
		if err := e.c.CheckPermissions(ctx, e.host, "s3:backups", "backup"); err != nil {
			t.Fatalf("CheckPermissions: %v", err)
		}
		var left int
		_ = e.c.List(ctx, e.host, agentclient.ListOptions{Fs: "s3:backups", Opt: &agentclient.ListOpt{Recurse: true}}, func(agentclient.ListItem) error { left++; return nil })
		if left != 0 {
			t.Fatalf("check-permissions left %d objects", left)
		}
		if r, err := e.c.BwLimit(ctx, e.host, "10M"); err != nil || r != "10M" {
			t.Fatalf("BwLimit = %q, %v", r, err)
		}
		if r, err := e.c.BwLimit(ctx, e.host, ""); err != nil || r != "10M" {
			t.Fatalf("BwLimit query = %q, %v", r, err)
		}
		if r, _ := e.c.BwLimit(ctx, e.host, "off"); r != "off" {
			t.Fatalf("BwLimit off = %q", r)
		}
		if n, err := e.c.SetTransfers(ctx, e.host, 4); err != nil || n != 4 {
			t.Fatalf("SetTransfers = %d, %v", n, err)
		}
	})
}

// TestMoveDirVersioned uploads a snapshot dir with movedir, then uploads a
// changed file of the same name and size with a suffix: the old remote
// copy must be kept as <name><suffix>, identical files skipped.
func TestMoveDirVersioned(t *testing.T) {
	forEachTransport(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		snap := "ks/t-0123/snapshots/sm_20250101000000UTC"
		e.writeLocal(t, snap+"/mc-5-big-Data.db", bytes.Repeat([]byte("A"), 100<<10))
		e.writeLocal(t, snap+"/mc-5-big-Digest.crc32", []byte("111"))
		e.writeLocal(t, snap+"/me-3g8n-big-Data.db", []byte("uuid sstable"))
		opts := agentclient.SyncOptions{SrcFs: "data:", SrcRemote: snap, DstFs: "s3:backups", DstRemote: "backup/sst/t", Transfers: 2}
		id, err := e.c.MoveDir(ctx, e.host, opts)
		if err != nil {
			t.Fatalf("MoveDir: %v", err)
		}
		pr := waitJob(t, e, id)
		if pr.Status != agentclient.JobSuccess || pr.Uploaded != 100<<10+3+12 || pr.Skipped != 0 {
			t.Fatalf("first upload progress = %+v", pr)
		}
		if ents, _ := os.ReadDir(filepath.Join(e.dataDir, filepath.FromSlash(snap))); len(ents) != 0 {
			t.Fatalf("movedir left local files: %v", ents)
		}
		info, err := e.c.JobInfo(ctx, e.host, id, 0)
		if err != nil || !info.Job.Finished || !info.Job.Success || len(info.Transferred) != 3 || info.Stats.Transfers != 3 {
			t.Fatalf("JobInfo = %+v, %v", info, err)
		}

		// Second snapshot: same names; Data.db changed (same size), the
		// UUID sstable identical.
		snap2 := "ks/t-0123/snapshots/sm_20250102000000UTC"
		e.writeLocal(t, snap2+"/mc-5-big-Data.db", bytes.Repeat([]byte("B"), 100<<10))
		e.writeLocal(t, snap2+"/mc-5-big-Digest.crc32", []byte("222"))
		e.writeLocal(t, snap2+"/me-3g8n-big-Data.db", []byte("uuid sstable"))
		opts.SrcRemote, opts.Suffix = snap2, ".sm_20250102000000UTC"
		id, err = e.c.MoveDir(ctx, e.host, opts)
		if err != nil {
			t.Fatal(err)
		}
		pr = waitJob(t, e, id)
		if pr.Status != agentclient.JobSuccess || pr.Skipped != 12 || pr.Uploaded != 100<<10+3 {
			t.Fatalf("second upload progress = %+v", pr)
		}
		read := func(k string) string {
			b, err := e.bucket.ReadAll(ctx, k)
			if err != nil {
				t.Fatalf("read %s: %v", k, err)
			}
			return string(b)
		}
		if got := read("backup/sst/t/mc-5-big-Data.db"); got[0] != 'B' {
			t.Fatal("new version not uploaded")
		}
		if got := read("backup/sst/t/mc-5-big-Data.db.sm_20250102000000UTC"); got[0] != 'A' || len(got) != 100<<10 {
			t.Fatal("old version not kept under the suffix")
		}
		if got := read("backup/sst/t/mc-5-big-Digest.crc32.sm_20250102000000UTC"); got != "111" {
			t.Fatalf("old digest = %q", got)
		}
		if ok, _ := e.bucket.Exists(ctx, "backup/sst/t/me-3g8n-big-Data.db.sm_20250102000000UTC"); ok {
			t.Fatal("identical file was versioned")
		}
		// Progress of a finished job stays queryable; unknown jobs say so.
		if pr, err := e.c.JobProgress(ctx, e.host, 99999999999, 0); err != nil || pr.Status != agentclient.JobNotFound {
			t.Fatalf("unknown job progress = %+v, %v", pr, err)
		}
		if err := e.c.StatsDelete(ctx, e.host, agentclient.JobGroup(id)); err != nil {
			t.Fatalf("StatsDelete: %v", err)
		}
	})
}

func TestCopyPaths(t *testing.T) {
	forEachTransport(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		for _, f := range []string{"a-Data.db", "a-TOC.txt"} {
			if err := e.bucket.WriteAll(ctx, "backup/sst/t/"+f, []byte("content of "+f), nil); err != nil {
				t.Fatal(err)
			}
		}
		id, err := e.c.CopyPaths(ctx, e.host, agentclient.CopyPathsOptions{SrcFs: "s3:backups", SrcRemote: "backup/sst/t",
			DstFs: "data:", DstRemote: "ks/t-0123/upload", Paths: []string{"a-Data.db", "a-TOC.txt"}})
		if err != nil {
			t.Fatal(err)
		}
		if pr := waitJob(t, e, id); pr.Status != agentclient.JobSuccess {
			t.Fatalf("copypaths = %+v", pr)
		}
		b, err := os.ReadFile(filepath.Join(e.dataDir, "ks", "t-0123", "upload", "a-TOC.txt"))
		if err != nil || string(b) != "content of a-TOC.txt" {
			t.Fatalf("downloaded = %q, %v", b, err)
		}
		_, err = e.c.CopyPaths(ctx, e.host, agentclient.CopyPathsOptions{SrcFs: "data:", DstFs: "s3:backups", Paths: []string{"x"}})
		if agentclient.StatusCode(err) != http.StatusBadRequest || !strings.Contains(err.Error(), "must be local") {
			t.Fatalf("copypaths to a bucket = %v, want 400 before any job starts", err)
		}
	})
}

func TestJobStop(t *testing.T) {
	forEachTransport(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		e.writeLocal(t, "ks/t/snapshots/s/big-Data.db", bytes.Repeat([]byte("z"), 1<<20))
		id, err := e.c.CopyDir(ctx, e.host, agentclient.SyncOptions{SrcFs: "data:", SrcRemote: "ks/t/snapshots/s", DstFs: "s3:backups", DstRemote: "slow", BandwidthRate: "16k"})
		if err != nil {
			t.Fatal(err)
		}
		pr, err := e.c.JobProgress(ctx, e.host, id, 0)
		if err != nil || pr.Status != agentclient.JobRunning {
			t.Fatalf("progress of a 1 MiB upload at 16 KiB/s = %+v, %v; want running", pr, err)
		}
		if err := e.c.JobStop(ctx, e.host, id); err != nil {
			t.Fatalf("JobStop: %v", err)
		}
		pr = waitJob(t, e, id)
		if pr.Status != agentclient.JobError || !strings.Contains(pr.Error, "stopped") || pr.CompletedAt == nil {
			t.Fatalf("stopped job progress = %+v", pr)
		}
		if ok, _ := e.bucket.Exists(ctx, "slow/big-Data.db"); ok {
			t.Fatal("stopped upload left a partial object")
		}
	})
}

// waitJob long-polls until the job finishes.
func waitJob(t *testing.T, e *env, id int64) *agentclient.JobProgress {
	t.Helper()
	for range 60 {
		pr, err := e.c.JobProgress(t.Context(), e.host, id, 5*time.Second)
		if err != nil {
			t.Fatalf("JobProgress(%d): %v", id, err)
		}
		if pr.Status != agentclient.JobRunning {
			return pr
		}
	}
	t.Fatalf("job %d did not finish", id)
	return nil
}
