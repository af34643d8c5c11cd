package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"

	"github.com/scyllaops/scyllaops/agent"
)

// TestUnchangedFileByChecksum: a file with the same name and size is
// skipped only when its content is the same, whatever the timestamps say:
// on a destination that reports MD5 (memblob, like S3 single-part) and on
// a localstorage destination (CRC32C stored with the file).
func TestUnchangedFileByChecksum(t *testing.T) {
	for _, dstFs := range []string{"s3:b", "localstorage:b"} {
		t.Run(dstFs, func(t *testing.T) {
			data, ls := t.TempDir(), t.TempDir()
			bk := memblob.OpenBucket(nil)
			t.Cleanup(func() { _ = bk.Close() })
			opts := agent.Options{DataDir: data, Storage: agent.StorageOptions{LocalStoragePath: ls}}
			if dstFs == "s3:b" {
				opts.OpenBucket = func(context.Context, string, string) (*blob.Bucket, error) { return bk, nil }
			}
			a, _ := newAgent(t, opts)
			src := filepath.Join(data, "ks", "t", "f")
			upload := func(content string, age time.Duration) (skipped int64) {
				t.Helper()
				mustWrite(t, src, content)
				// A source older than the destination: the timestamp
				// rule took it for unchanged.
				old := time.Now().Add(-age)
				if err := os.Chtimes(src, old, old); err != nil {
					t.Fatal(err)
				}
				w := do(a, http.MethodPost, "/agent/rclone/sync/copydir?_async=true", "", fmt.Sprintf(`{"srcFs":"data:","srcRemote":"ks","dstFs":%q,"dstRemote":"up"}`, dstFs))
				var j struct {
					JobID int64 `json:"jobid"`
				}
				if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &j) != nil {
					t.Fatalf("copydir: %d %s", w.Code, w.Body.String())
				}
				var pr struct {
					Status  string `json:"status"`
					Skipped int64  `json:"skipped"`
				}
				for pr.Status == "" || pr.Status == "running" {
					w = do(a, http.MethodPost, "/agent/rclone/job/progress", "", fmt.Sprintf(`{"jobid":%d,"wait":5}`, j.JobID))
					if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &pr) != nil {
						t.Fatalf("job/progress: %d %s", w.Code, w.Body.String())
					}
				}
				if pr.Status != "success" {
					t.Fatalf("copydir job: %s", w.Body.String())
				}
				var got []byte
				var err error
				if dstFs == "s3:b" {
					got, err = bk.ReadAll(t.Context(), "up/t/f")
				} else {
					got, err = os.ReadFile(filepath.Join(ls, "b", "up", "t", "f"))
				}
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != content {
					t.Fatalf("destination = %q after uploading %q: a changed file of the same size was skipped", got, content)
				}
				return pr.Skipped
			}
			upload("AAAA", time.Hour)
			if n := upload("BBBB", 2*time.Hour); n != 0 { // same size, older mtime, new content
				t.Fatalf("changed file: %d bytes skipped, want 0", n)
			}
			if n := upload("BBBB", 3*time.Hour); n != 4 { // identical: proven by checksum
				t.Fatalf("identical file: %d bytes skipped, want 4", n)
			}
		})
	}
}
