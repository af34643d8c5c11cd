package kit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"
)

// Target is a backup destination that every tool uploads to in turn.
type Target interface {
	Name() string
	// agentFs is the agent remote of the destination.
	AgentFs() string
	// rcloneDst is rclone's destination argument; rcloneEnv its config.
	RcloneDst() string
	RcloneEnv() []string
	// clean removes everything below the destination.
	Clean(ctx context.Context) error
	// verify checks that the destination holds exactly the files of ds,
	// with their sizes and SHA-256 checksums.
	Verify(ctx context.Context, ds *Dataset) error
}

// LocalTarget is a directory, the agent's "localstorage:<bucket>"
// (fileblob).
type LocalTarget struct {
	Root   string // LocalStoragePath
	Bucket string
	// sidecars counts the fileblob ".attrs" files the last verify found.
	Sidecars int
	// trashed counts the entries Clean moved aside.
	trashed int
}

// sidecarExt is the suffix of fileblob's metadata files.
const sidecarExt = ".attrs"

// Dir is the directory of the bucket.
func (t *LocalTarget) Dir() string { return filepath.Join(t.Root, t.Bucket) }

// Name is "local".
func (t *LocalTarget) Name() string { return "local" }

// AgentFs is the agent remote of the directory.
func (t *LocalTarget) AgentFs() string { return "localstorage:" + t.Bucket }

// RcloneDst is the directory.
func (t *LocalTarget) RcloneDst() string { return t.Dir() }

// RcloneEnv is empty: rclone needs no config for a directory.
func (t *LocalTarget) RcloneEnv() []string {
	return nil
}

// Clean empties the directory. It is not removed: the agent keeps its
// localstorage bucket directory open (an os.Root), so a new directory of
// the same name would not be the one it writes to. Its entries are moved
// into Trash (a rename: nothing is deleted), emptied by EmptyTrash after
// the timed runs: as in bench/restore, deleting the last run's 2,000
// files just before a run makes every file creation of the run slower
// on this machine's ext4 (each one skips the inodes of its group deleted
// in the last minutes), whichever tool runs.
func (t *LocalTarget) Clean(context.Context) error {
	ents, err := os.ReadDir(t.Dir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := os.MkdirAll(t.Trash(), 0o755); err != nil {
		return err
	}
	for _, e := range ents {
		t.trashed++
		if err := os.Rename(filepath.Join(t.Dir(), e.Name()), filepath.Join(t.Trash(), fmt.Sprintf("%d-%d-%s", os.Getpid(), t.trashed, e.Name()))); err != nil {
			return err
		}
	}
	return nil
}

// Trash is where Clean moves the directory's entries (beside Root, on
// the same file system).
func (t *LocalTarget) Trash() string { return t.Root + "-trash" }

// EmptyTrash deletes what Clean moved aside.
func (t *LocalTarget) EmptyTrash() error { return os.RemoveAll(t.Trash()) }

// Verify checks the directory holds exactly the files of ds.
func (t *LocalTarget) Verify(ctx context.Context, ds *Dataset) error {
	t.Sidecars = 0
	want := make(map[string]FileSpec, len(ds.Files))
	for _, f := range ds.Files {
		want[filepath.ToSlash(f.Path)] = f
	}
	var got []string
	err := filepath.WalkDir(t.Dir(), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(t.Dir(), p)
		if strings.HasSuffix(rel, sidecarExt) {
			// fileblob's metadata sidecar of an object, not an object.
			t.Sidecars++
			return nil
		}
		got = append(got, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return err
	}
	return VerifyAll(ctx, want, got, func(key string) (io.ReadCloser, error) {
		return os.Open(filepath.Join(t.Dir(), filepath.FromSlash(key)))
	})
}

// S3Target is a bucket of an S3 server.
type S3Target struct {
	endpoint, key, secret, Bucket string
	cli                           *s3.Client
}

// NewS3Target returns the target of bucket at endpoint, creating the
// bucket if missing.
func NewS3Target(ctx context.Context, endpoint, key, secret, bucket string) (*S3Target, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx,
		awsconfig.WithRegion("us-east-1"),
		awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(key, secret, "")),
		awsconfig.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		awsconfig.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired))
	if err != nil {
		return nil, err
	}
	cli := s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(endpoint); o.UsePathStyle = true })
	if _, err := cli.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		var owned *types.BucketAlreadyOwnedByYou
		var exists *types.BucketAlreadyExists
		if !errors.As(err, &owned) && !errors.As(err, &exists) {
			return nil, fmt.Errorf("create bucket %s at %s: %w", bucket, endpoint, err)
		}
	}
	return &S3Target{endpoint: endpoint, key: key, secret: secret, Bucket: bucket, cli: cli}, nil
}

// Name is "s3".
func (t *S3Target) Name() string { return "s3" }

// AgentFs is the agent remote of the bucket.
func (t *S3Target) AgentFs() string { return "s3:" + t.Bucket }

// RcloneDst is the rclone remote of the bucket.
func (t *S3Target) RcloneDst() string { return "benchs3:" + t.Bucket }

// RcloneEnv configures the rclone remote benchs3.
func (t *S3Target) RcloneEnv() []string {
	return []string{
		"RCLONE_CONFIG_BENCHS3_TYPE=s3",
		"RCLONE_CONFIG_BENCHS3_PROVIDER=Other",
		"RCLONE_CONFIG_BENCHS3_ENDPOINT=" + t.endpoint,
		"RCLONE_CONFIG_BENCHS3_REGION=us-east-1",
		"RCLONE_CONFIG_BENCHS3_ACCESS_KEY_ID=" + t.key,
		"RCLONE_CONFIG_BENCHS3_SECRET_ACCESS_KEY=" + t.secret,
		"RCLONE_CONFIG_BENCHS3_FORCE_PATH_STYLE=true",
	}
}

// keys lists every object key of the bucket.
func (t *S3Target) keys(ctx context.Context) ([]string, error) {
	var out []string
	p := s3.NewListObjectsV2Paginator(t.cli, &s3.ListObjectsV2Input{Bucket: aws.String(t.Bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			out = append(out, aws.ToString(o.Key))
		}
	}
	return out, nil
}

// Clean deletes every object of the bucket.
func (t *S3Target) Clean(ctx context.Context) error {
	keys, err := t.keys(ctx)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, k := range keys {
		g.Go(func() error {
			_, err := t.cli.DeleteObject(gctx, &s3.DeleteObjectInput{Bucket: aws.String(t.Bucket), Key: aws.String(k)})
			return err
		})
	}
	return g.Wait()
}

// Verify checks the bucket holds exactly the files of ds.
func (t *S3Target) Verify(ctx context.Context, ds *Dataset) error {
	want := make(map[string]FileSpec, len(ds.Files))
	for _, f := range ds.Files {
		want[filepath.ToSlash(f.Path)] = f
	}
	got, err := t.keys(ctx)
	if err != nil {
		return err
	}
	return VerifyAll(ctx, want, got, func(key string) (io.ReadCloser, error) {
		o, err := t.cli.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(t.Bucket), Key: aws.String(key)})
		if err != nil {
			return nil, err
		}
		return o.Body, nil
	})
}

// VerifyAll checks that got names exactly the files of want and that each
// one's content has the wanted size and SHA-256.
func VerifyAll(ctx context.Context, want map[string]FileSpec, got []string, open func(key string) (io.ReadCloser, error)) error {
	var extra []string
	seen := make(map[string]bool, len(got))
	for _, k := range got {
		if _, ok := want[k]; !ok {
			extra = append(extra, k)
			continue
		}
		seen[k] = true
	}
	var missing []string
	for k := range want {
		if !seen[k] {
			missing = append(missing, k)
		}
	}
	if len(extra) > 0 || len(missing) > 0 {
		return fmt.Errorf("%d files missing (e.g. %s), %d unexpected (e.g. %s)", len(missing), first(missing), len(extra), first(extra))
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for k := range seen {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			r, err := open(k)
			if err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			defer r.Close()
			h := sha256.New()
			n, err := io.CopyBuffer(h, r, make([]byte, 256<<10))
			if err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			w := want[k]
			if n != w.Size || hex.EncodeToString(h.Sum(nil)) != w.SHA256 {
				return fmt.Errorf("%s: %d bytes sha256 %x, want %d bytes sha256 %s", k, n, h.Sum(nil), w.Size, w.SHA256)
			}
			return nil
		})
	}
	return g.Wait()
}

func first(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s[:1], "")
}
