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

// TestUnchangedBundleByDedupRule: SSTable bundles the destination already
// holds by the backup layout's deduplication rule are skipped without
// reading them, and only those. Proven by destinations whose content
// differs while the rule holds (the rule, not a checksum, decided): a
// UUID-generation bundle with the same names and sizes is skipped; an
// integer-generation bundle only when its Digest.crc32 reads the same on
// both sides, otherwise it is uploaded and the old copy versioned. Files
// outside a proven bundle are still decided by checksum.
func TestUnchangedBundleByDedupRule(t *testing.T) {
	data := t.TempDir()
	bk := memblob.OpenBucket(nil)
	t.Cleanup(func() { _ = bk.Close() })
	a, _ := newAgent(t, agent.Options{DataDir: data,
		OpenBucket: func(context.Context, string, string) (*blob.Bucket, error) { return bk, nil }})
	ctx := t.Context()
	const (
		uuidData = "me-3g8n_0tn4_2pfaw2bu2b5ypnalzg-big-Data.db"
		uuidTOC  = "me-3g8n_0tn4_2pfaw2bu2b5ypnalzg-big-TOC.txt"
		intData  = "mc-5-big-Data.db"
		intDig   = "mc-5-big-Digest.crc32"
		int6Data = "mc-6-big-Data.db"
		int6Dig  = "mc-6-big-Digest.crc32"
		other    = "manifest.json"
	)
	local := map[string]string{
		uuidData: "local-uuid", uuidTOC: "toc",
		intData: "local-int5", intDig: "111",
		int6Data: "local-int6", int6Dig: "666",
		other: "local-other",
	}
	// What the bucket already holds: same names and sizes everywhere,
	// different Data.db content; mc-5's digest equal, mc-6's not; other
	// differs in content.
	remote := map[string]string{
		uuidData: "REMOT-uuid", uuidTOC: "toc",
		intData: "REMOT-int5", intDig: "111",
		int6Data: "REMOT-int6", int6Dig: "999",
		other: "REMOT-other",
	}
	for n, c := range local {
		mustWrite(t, filepath.Join(data, "ks", "t-1", n), c)
	}
	for n, c := range remote {
		if err := bk.WriteAll(ctx, "up/t-1/"+n, []byte(c), nil); err != nil {
			t.Fatal(err)
		}
	}
	w := do(a, http.MethodPost, "/agent/rclone/sync/copydir?_async=true", "",
		`{"srcFs":"data:","srcRemote":"ks","dstFs":"s3:b","dstRemote":"up","suffix":".sm_20250102000000UTC"}`)
	var j struct {
		JobID int64 `json:"jobid"`
	}
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &j) != nil {
		t.Fatalf("copydir: %d %s", w.Code, w.Body.String())
	}
	var pr struct {
		Status   string `json:"status"`
		Skipped  int64  `json:"skipped"`
		Uploaded int64  `json:"uploaded"`
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
	want := map[string]string{
		uuidData: "REMOT-uuid", uuidTOC: "toc", // UUID bundle: skipped by names and sizes
		intData: "REMOT-int5", intDig: "111", // integer bundle, equal digest: skipped
		int6Data: "local-int6", int6Dig: "666", // digest differs: uploaded…
		int6Data + ".sm_20250102000000UTC": "REMOT-int6", int6Dig + ".sm_20250102000000UTC": "999", // …old copies versioned
		other:                           "local-other", // not an SSTable: checksum rule
		other + ".sm_20250102000000UTC": "REMOT-other",
	}
	for n, c := range want {
		got, err := bk.ReadAll(ctx, "up/t-1/"+n)
		if err != nil || string(got) != c {
			t.Errorf("up/t-1/%s = %q, %v; want %q", n, got, err, c)
		}
	}
	var skipped int64
	for _, n := range []string{uuidData, uuidTOC, intData, intDig} {
		skipped += int64(len(local[n]))
	}
	if pr.Skipped != skipped || pr.Uploaded != int64(len(local[int6Data])+len(local[int6Dig])+len(local[other])) {
		t.Fatalf("progress skipped %d uploaded %d; want skipped %d (the two proven bundles)", pr.Skipped, pr.Uploaded, skipped)
	}
}
