package agent

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// TestDirCache: writes of a download job go through its open directories:
// files land whole under their names with no temporary file left, a
// symlinked directory leading out of the bucket is refused (and nothing
// is written outside), and a directory replaced while the job writes
// into it fails the job at its end.
func TestDirCache(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "data")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{dir, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bk, err := openRootBucket(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	defer bk.Close()
	rb := localBucket(bk)
	ctx, dc := withDirCache(t.Context(), rb)
	data := randBytes(300_000)
	for _, key := range []string{"ks/t-1/upload/me-1-big-Data.db", "ks/t-1/upload/me-1-big-TOC.txt", "top.db"} {
		meta := map[string]string{metaCRC32C: crcHex(data)}
		if n, err := copyToLocal(ctx, rb, key, int64(len(data)), meta, bytes.NewReader(data)); err != nil || n != int64(len(data)) {
			t.Fatalf("%s: %d, %v", key, n, err)
		}
		if got, err := os.ReadFile(filepath.Join(dir, key)); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: read back %d bytes, %v", key, len(got), err)
		}
		if ok, err := exists(ctx, bk, key); !ok || err != nil {
			t.Fatalf("exists(%s) = %v, %v", key, ok, err)
		}
	}
	if ok, err := exists(ctx, bk, "ks/t-1/upload/missing"); ok || err != nil {
		t.Fatalf("exists(missing) = %v, %v", ok, err)
	}
	// A wrong checksum: nothing under the name, no temporary file.
	if _, err := copyToLocal(ctx, rb, "ks/t-1/upload/bad.db", int64(len(data)), map[string]string{metaCRC32C: "00000000"}, bytes.NewReader(data)); err == nil {
		t.Fatal("copy with a wrong stored crc32c: no error")
	}
	left, _ := filepath.Glob(filepath.Join(dir, "ks/t-1/upload/*"))
	if len(left) != 2 {
		t.Fatalf("files in upload/: %v, want the 2 written", left)
	}
	// A symlinked directory leading out of the bucket.
	if err := os.Symlink(outside, filepath.Join(dir, "ks", "escape")); err != nil {
		t.Fatal(err)
	}
	_, err = copyToLocal(ctx, rb, "ks/escape/f.db", int64(len(data)), nil, bytes.NewReader(data))
	if err == nil || statusOf(err) != http.StatusForbidden {
		t.Fatalf("write through a symlink leading out: %v (status %d), want 403", err, statusOf(err))
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Fatalf("files written outside the bucket: %v", ents)
	}
	if err := dc.close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	// A directory replaced during the job.
	ctx, dc = withDirCache(t.Context(), rb)
	if _, err := copyToLocal(ctx, rb, "ks/t-2/upload/a.db", int64(len(data)), nil, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	up := filepath.Join(dir, "ks/t-2/upload")
	if err := os.Rename(up, up+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(up, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := dc.close(); err == nil {
		t.Fatal("close after the directory was replaced: no error")
	}
}
