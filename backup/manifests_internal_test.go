package backup

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/uuid"
	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"

	"github.com/scyllaops/scyllaops/agent"
	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/internal/backupspec"
)

// TestReadManifestsReportsUnparseable: files under the manifest directory
// that are not manifest paths are counted and logged, not dropped
// silently.
func TestReadManifestsReportsUnparseable(t *testing.T) {
	bk := memblob.OpenBucket(nil)
	t.Cleanup(func() { _ = bk.Close() })
	cid := uuid.MustParse("11111111-2222-3333-4444-555555555555")
	dir := backupspec.MetaClusterDir(cid)
	for _, k := range []string{dir + "/dc/dc1/node/n1/junk.json", dir + "/" + dir + "/dc/dc1/node/n1/task_x_manifest.json.gz"} {
		if err := bk.WriteAll(t.Context(), k, []byte("x"), nil); err != nil {
			t.Fatal(err)
		}
	}
	a, err := agent.New(agent.Options{DataDir: t.TempDir(), OpenBucket: func(context.Context, string, string) (*blob.Bucket, error) { return bk, nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	tr := agentclient.NewInProcessTransport()
	tr.Register("h1", a)
	c, err := agentclient.New(tr, agentclient.Options{RetryMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	s := &Service{log: slog.New(slog.NewTextHandler(&logs, nil))}
	loc, err := backupspec.ParseLocation("s3:bkt")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := s.readManifests(t.Context(), c, "h1", loc, cid)
	if err != nil || len(ms) != 0 {
		t.Fatalf("readManifests = %d manifests, %v; want 0, nil", len(ms), err)
	}
	if out := logs.String(); !strings.Contains(out, "skipped=2") || !strings.Contains(out, "junk.json") {
		t.Fatalf("log = %q, want a warning counting 2 skipped paths with examples", out)
	}
}
