package agent_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/scyllaops/scyllaops/agent"
	"github.com/scyllaops/scyllaops/agentclient"
)

// TestS3DirectUploadSizes uploads files around the 5 MiB part size through
// the built-in s3 provider (the direct path: PutObject or multipart from
// file sections, Content-MD5 and ETag checks), reads every object back,
// and checks that a second copydir of the unchanged files uploads nothing.
func TestS3DirectUploadSizes(t *testing.T) {
	v := needEnv(t, "SCYLLAOPS_S3_ENDPOINT", "SCYLLAOPS_S3_BUCKET", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
	ctx := t.Context()
	dataDir := t.TempDir()
	a, err := agent.New(agent.Options{DataDir: dataDir, AuthToken: "tok", Storage: agent.StorageOptions{
		S3: agent.S3Options{Endpoint: v[0], AccessKeyID: v[2], SecretAccessKey: v[3], Region: "us-east-1", ForcePathStyle: true}}})
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
	fs := "s3:" + v[1]
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	root := "agent-s3-sizes-" + hex.EncodeToString(rnd[:])
	t.Cleanup(func() { _ = c.Purge(ctx, "n1", fs, root) })

	const part = 5 << 20
	sizes := []int{0, 1, part - 1, part, part + 1, 2*part + 7}
	src := filepath.Join(dataDir, "ks", "t-1")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	var total int64
	for i, n := range sizes {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		name := fmt.Sprintf("me-%d-big-Data.db", i+1)
		if err := os.WriteFile(filepath.Join(src, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		// Snapshot files are hard links of sstables written earlier; S3
		// keeps LastModified to the second, so a source written in the
		// second of its upload would not count as unchanged.
		old := time.Now().Add(-time.Hour)
		if err := os.Chtimes(filepath.Join(src, name), old, old); err != nil {
			t.Fatal(err)
		}
		want[name] = b
		total += int64(n)
	}
	opts := agentclient.SyncOptions{SrcFs: "data:", SrcRemote: "ks/t-1", DstFs: fs, DstRemote: root, Transfers: 3}
	id, err := c.CopyDir(ctx, "n1", opts)
	if err != nil {
		t.Fatal(err)
	}
	if pr := waitJob(t, c, id); pr.Status != agentclient.JobSuccess || pr.Uploaded != total || pr.Failed != 0 {
		t.Fatalf("first copydir = %+v, want %d bytes uploaded", pr, total)
	}
	// Read back: download every object into another data directory.
	var names []string
	for name := range want {
		names = append(names, name)
	}
	id, err = c.CopyPaths(ctx, "n1", agentclient.CopyPathsOptions{SrcFs: fs, SrcRemote: root, DstFs: "data:", DstRemote: "ks/t-2", Paths: names})
	if err != nil {
		t.Fatal(err)
	}
	if pr := waitJob(t, c, id); pr.Status != agentclient.JobSuccess {
		t.Fatalf("download = %+v", pr)
	}
	for name, b := range want {
		got, err := os.ReadFile(filepath.Join(dataDir, "ks", "t-2", name))
		if err != nil {
			t.Fatalf("read back %s: %v", name, err)
		}
		if !bytes.Equal(got, b) {
			t.Fatalf("%s: read back %d bytes, want %d (content differs: %v)", name, len(got), len(b), len(got) == len(b))
		}
	}
	// An object whose stored CRC32C does not match its content (as a
	// corrupted upload would be) fails the download, checked in the same
	// pass from the GET's metadata.
	s3c := s3.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(v[2], v[3], "")},
		func(o *s3.Options) { o.BaseEndpoint = aws.String(v[0]); o.UsePathStyle = true })
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(v[1]), Key: aws.String(root + "/bad-Data.db"),
		Body: bytes.NewReader([]byte("corrupted")), Metadata: map[string]string{"crc32c": "00000000"}}); err != nil {
		t.Fatal(err)
	}
	id, err = c.CopyPaths(ctx, "n1", agentclient.CopyPathsOptions{SrcFs: fs, SrcRemote: root, DstFs: "data:", DstRemote: "ks/t-3", Paths: []string{"bad-Data.db"}})
	if err != nil {
		t.Fatal(err)
	}
	if pr := waitJob(t, c, id); pr.Status != agentclient.JobError || !strings.Contains(pr.Error, "crc32c") {
		t.Fatalf("download of an object with a wrong stored crc32c = %+v, want an error naming crc32c", pr)
	}
	id, err = c.CopyDir(ctx, "n1", opts)
	if err != nil {
		t.Fatal(err)
	}
	if pr := waitJob(t, c, id); pr.Status != agentclient.JobSuccess || pr.Uploaded != 0 || pr.Skipped != total {
		t.Fatalf("second copydir of unchanged files = %+v, want 0 uploaded, %d skipped", pr, total)
	}
}
