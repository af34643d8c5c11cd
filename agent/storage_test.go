package agent_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scyllaops/scyllaops/agent"
	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/internal/testenv"
)

// needEnv returns the env values (testenv.Need: skipped, or failed under
// CI, when one is missing).
func needEnv(t testing.TB, keys ...string) []string {
	t.Helper()
	return testenv.Need(t, keys...)
}

// TestRealStorage runs the rclone subset against real object-storage
// servers through the agent's built-in providers (no OpenBucket override).
func TestRealStorage(t *testing.T) {
	cases := []struct {
		name string
		fs   func(t *testing.T) (agent.StorageOptions, string)
	}{
		{"s3", func(t *testing.T) (agent.StorageOptions, string) {
			v := needEnv(t, "SCYLLAOPS_S3_ENDPOINT", "SCYLLAOPS_S3_BUCKET", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
			return agent.StorageOptions{S3: agent.S3Options{Endpoint: v[0], AccessKeyID: v[2], SecretAccessKey: v[3], Region: "us-east-1", ForcePathStyle: true}}, "s3:" + v[1]
		}},
		{"gcs", func(t *testing.T) (agent.StorageOptions, string) {
			v := needEnv(t, "STORAGE_EMULATOR_HOST", "SCYLLAOPS_GCS_BUCKET")
			return agent.StorageOptions{GCS: agent.GCSOptions{Endpoint: "http://" + v[0]}}, "gcs:" + v[1]
		}},
		{"azure-connection-string", func(t *testing.T) (agent.StorageOptions, string) {
			v := needEnv(t, "AZURE_STORAGE_CONNECTION_STRING", "SCYLLAOPS_AZURE_CONTAINER")
			return agent.StorageOptions{Azure: agent.AzureOptions{ConnectionString: v[0]}}, "azure:" + v[1]
		}},
		{"azure-shared-key", func(t *testing.T) (agent.StorageOptions, string) {
			v := needEnv(t, "AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_KEY", "SCYLLAOPS_AZURE_CONTAINER")
			var ep string
			for _, part := range strings.Split(v[0], ";") {
				if after, ok := strings.CutPrefix(part, "BlobEndpoint="); ok {
					ep = after
				}
			}
			return agent.StorageOptions{Azure: agent.AzureOptions{Account: v[1], Key: v[2], Endpoint: ep}}, "azure:" + v[3]
		}},
		{"localstorage", func(t *testing.T) (agent.StorageOptions, string) {
			return agent.StorageOptions{LocalStoragePath: t.TempDir()}, "localstorage:nfs-bucket"
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			so, fs := tc.fs(t)
			testStorage(t, so, fs)
		})
	}
}

func testStorage(t *testing.T, so agent.StorageOptions, fs string) {
	ctx := t.Context()
	dataDir := t.TempDir()
	a, err := agent.New(agent.Options{DataDir: dataDir, Storage: so, AuthToken: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	tr := agentclient.NewInProcessTransport()
	tr.Register("n1", a)
	c, err := agentclient.New(tr, agentclient.Options{AuthToken: "tok", RetryMax: -1, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	root := "agent-test-" + hex.EncodeToString(rnd[:])
	t.Cleanup(func() { _ = c.Purge(ctx, "n1", fs, root) })

	if err := c.CheckPermissions(ctx, "n1", fs, root); err != nil {
		t.Fatalf("CheckPermissions: %v", err)
	}
	// 12 MiB: multipart on S3 (5 MiB parts), block upload on Azure.
	big := make([]byte, 12<<20)
	_, _ = rand.Read(big)
	snap := filepath.Join(dataDir, "ks", "t-1", "snapshots", "s1")
	if err := os.MkdirAll(snap, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(snap, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("mc-1-big-Data.db", big)
	write("mc-1-big-Digest.crc32", []byte("1"))
	created := time.Now().Add(-time.Hour)
	sst := root + "/backup/sst"
	opts := agentclient.SyncOptions{SrcFs: "data:", SrcRemote: "ks/t-1/snapshots/s1", DstFs: fs, DstRemote: sst, Transfers: 2}
	id, err := c.MoveDir(ctx, "n1", opts)
	if err != nil {
		t.Fatalf("MoveDir: %v", err)
	}
	if pr := waitJob(t, c, id); pr.Status != agentclient.JobSuccess || pr.Uploaded != int64(len(big))+1 {
		t.Fatalf("upload = %+v", pr)
	}
	// Again with a changed digest and a suffix: versioned. The Data file
	// is the same sstable (a hard link in a real snapshot: old mtime).
	write("mc-1-big-Data.db", big)
	if err := os.Chtimes(filepath.Join(snap, "mc-1-big-Data.db"), created, created); err != nil {
		t.Fatal(err)
	}
	write("mc-1-big-Digest.crc32", []byte("2"))
	opts.Suffix = ".sm_20250101000000UTC"
	if id, err = c.MoveDir(ctx, "n1", opts); err != nil {
		t.Fatal(err)
	}
	pr := waitJob(t, c, id)
	if pr.Status != agentclient.JobSuccess || pr.Uploaded != 1 {
		t.Fatalf("second upload = %+v (the identical 12 MiB file must be skipped)", pr)
	}
	if got, err := c.Cat(ctx, "n1", fs, sst+"/mc-1-big-Digest.crc32"); err != nil || string(got) != "2" {
		t.Fatalf("new digest = %q, %v", got, err)
	}
	if fi, err := c.FileInfo(ctx, "n1", fs, sst+"/mc-1-big-Digest.crc32.sm_20250101000000UTC"); err != nil || fi.Size != 1 {
		t.Fatalf("versioned digest = %+v, %v", fi, err)
	}
	var names []string
	if err := c.List(ctx, "n1", agentclient.ListOptions{Fs: fs, Remote: sst, NewestOnly: true}, func(it agentclient.ListItem) error {
		names = append(names, it.Name)
		return nil
	}); err != nil || strings.Join(names, ",") != "mc-1-big-Data.db,mc-1-big-Digest.crc32" {
		t.Fatalf("List = %v, %v", names, err)
	}
	fi, err := c.FileInfo(ctx, "n1", fs, sst+"/mc-1-big-Data.db")
	if err != nil || fi.Size != int64(len(big)) {
		t.Fatalf("FileInfo = %+v, %v", fi, err)
	}
	// Download back.
	id, err = c.CopyPaths(ctx, "n1", agentclient.CopyPathsOptions{SrcFs: fs, SrcRemote: sst, DstFs: "data:", DstRemote: "ks/t-1/upload", Paths: []string{"mc-1-big-Data.db"}})
	if err != nil {
		t.Fatal(err)
	}
	if pr := waitJob(t, c, id); pr.Status != agentclient.JobSuccess {
		t.Fatalf("download = %+v", pr)
	}
	got, err := os.ReadFile(filepath.Join(dataDir, "ks", "t-1", "upload", "mc-1-big-Data.db"))
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("downloaded file differs (%d bytes, %v)", len(got), err)
	}
	// Manifest-style put, copy and move within the directory.
	meta := root + "/backup/meta/m.json.tmp"
	if err := c.Put(ctx, "n1", fs, meta, strings.NewReader(`{"v":2}`)); err != nil {
		t.Fatal(err)
	}
	if err := c.MoveFile(ctx, "n1", fs, strings.TrimSuffix(meta, ".tmp"), fs, meta); err != nil {
		t.Fatalf("MoveFile: %v", err)
	}
	if _, err := c.FileInfo(ctx, "n1", fs, meta); !errors.Is(err, agentclient.ErrNotFound) {
		t.Fatalf("tmp manifest still there: %v", err)
	}
	n, err := c.DeletePaths(ctx, "n1", fs, sst, []string{"mc-1-big-Digest.crc32.sm_20250101000000UTC", "nope"})
	if err != nil || n != 1 {
		t.Fatalf("DeletePaths = %d, %v", n, err)
	}
	if err := c.Purge(ctx, "n1", fs, root); err != nil {
		t.Fatal(err)
	}
	var left int
	_ = c.List(ctx, "n1", agentclient.ListOptions{Fs: fs, Remote: root, Opt: &agentclient.ListOpt{Recurse: true}}, func(agentclient.ListItem) error { left++; return nil })
	if left != 0 {
		t.Fatalf("%d objects left after purge", left)
	}
	_, err = c.FileInfo(ctx, "n1", fs, "x")
	if agentclient.StatusCode(err) != http.StatusNotFound {
		t.Fatalf("missing object = %v, want 404", err)
	}
}

func waitJob(t testing.TB, c *agentclient.Client, id int64) *agentclient.JobProgress {
	t.Helper()
	for range 60 {
		pr, err := c.JobProgress(t.Context(), "n1", id, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if pr.Status != agentclient.JobRunning {
			return pr
		}
	}
	t.Fatalf("job %d did not finish", id)
	return nil
}
