package agent_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"

	"github.com/scyllaops/scyllaops/agent"
)

// TestDownloadVerifiesStoredCRC32C: sync/copypaths checks what it wrote
// against the CRC32C stored with the object (by the agent's upload) in
// the same pass: a stored checksum that does not match the content fails
// the file and leaves nothing in the destination; a matching one, or
// none, succeeds.
func TestDownloadVerifiesStoredCRC32C(t *testing.T) {
	data := t.TempDir()
	bk := memblob.OpenBucket(nil)
	t.Cleanup(func() { _ = bk.Close() })
	a, _ := newAgent(t, agent.Options{DataDir: data,
		OpenBucket: func(context.Context, string, string) (*blob.Bucket, error) { return bk, nil }})
	content := []byte(strings.Repeat("sstable bytes ", 100_000))
	sum := crc32.Checksum(content, crc32.MakeTable(crc32.Castagnoli))
	good := hex.EncodeToString([]byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)})
	for name, meta := range map[string]map[string]string{
		"good": {"crc32c": good},
		"bad":  {"crc32c": "0badc0de"},
		"none": nil,
	} {
		if err := bk.WriteAll(t.Context(), "src/"+name, content, &blob.WriterOptions{Metadata: meta}); err != nil {
			t.Fatal(err)
		}
	}
	download := func(name string) (status, errMsg string) {
		t.Helper()
		w := do(a, http.MethodPost, "/agent/rclone/sync/copypaths?_async=true", "",
			fmt.Sprintf(`{"srcFs":"s3:b","srcRemote":"src","dstFs":"data:","dstRemote":"ks/t-1/upload","paths":[%q]}`, name))
		var j struct {
			JobID int64 `json:"jobid"`
		}
		if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &j) != nil {
			t.Fatalf("copypaths: %d %s", w.Code, w.Body.String())
		}
		var pr struct {
			Status string `json:"status"`
			Error  string `json:"error"`
		}
		for pr.Status == "" || pr.Status == "running" {
			w = do(a, http.MethodPost, "/agent/rclone/job/progress", "", fmt.Sprintf(`{"jobid":%d,"wait":5}`, j.JobID))
			if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &pr) != nil {
				t.Fatalf("job/progress: %d %s", w.Code, w.Body.String())
			}
		}
		return pr.Status, pr.Error
	}
	for _, name := range []string{"good", "none"} {
		if st, msg := download(name); st != "success" {
			t.Fatalf("download %s: %s %s", name, st, msg)
		}
		if got, err := os.ReadFile(filepath.Join(data, "ks", "t-1", "upload", name)); err != nil || string(got) != string(content) {
			t.Fatalf("downloaded %s: %d bytes, %v", name, len(got), err)
		}
	}
	st, msg := download("bad")
	if st != "error" || !strings.Contains(msg, "crc32c") {
		t.Fatalf("download with a wrong stored crc32c: status %s, error %q; want an error naming crc32c", st, msg)
	}
	if _, err := os.Stat(filepath.Join(data, "ks", "t-1", "upload", "bad")); !os.IsNotExist(err) {
		t.Fatalf("a file failing verification was left in the destination: %v", err)
	}
}
