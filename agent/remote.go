package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path"
	"strings"
	"sync"

	"gocloud.dev/blob"
)

// Providers of remotes.
const (
	ProviderData         = "data"
	ProviderS3           = "s3"
	ProviderGCS          = "gcs"
	ProviderAzure        = "azure"
	ProviderLocalStorage = "localstorage"
)

// location is a parsed remote: a provider, a bucket (empty for data) and a
// clean slash-separated key prefix (no leading or trailing slash; empty =
// the root).
type location struct {
	provider string
	bucket   string
	key      string
}

func (l location) String() string {
	if l.provider == ProviderData {
		return "data:" + l.key
	}
	return l.provider + ":" + path.Join(l.bucket, l.key)
}

func (l location) local() bool { return l.provider == ProviderData }

// join returns l with rel appended to its key; rel is validated like a
// remote.
func (l location) join(rel string) (location, error) {
	k, err := cleanKey(rel, l.local())
	if err != nil {
		return location{}, err
	}
	l.key = joinKey(l.key, k)
	return l, nil
}

func joinKey(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "/" + b
}

// parseLocation parses fs ("<provider>:<bucket>[/<path>]" or
// "data:[<path>]") and remote (a path inside it) into a location. Any
// path that could escape its root is refused: ".." segments, NUL bytes,
// backslashes and, for data:, absolute paths. Errors are *rcError 400.
func parseLocation(fs, remote string) (location, error) {
	provider, rest, ok := strings.Cut(fs, ":")
	if !ok {
		return location{}, badRequest("invalid fs %q: want <provider>:<bucket>, e.g. s3:my-bucket or data:", fs)
	}
	switch provider {
	case ProviderData, ProviderS3, ProviderGCS, ProviderAzure, ProviderLocalStorage:
	default:
		return location{}, badRequest("invalid provider %q in fs %q: want one of data, s3, gcs, azure, localstorage", provider, fs)
	}
	loc := location{provider: provider}
	if provider == ProviderData {
		k, err := cleanKey(rest, true)
		if err != nil {
			return location{}, err
		}
		loc.key = k
	} else {
		rest = strings.TrimPrefix(rest, "/")
		bucket, prefix, _ := strings.Cut(rest, "/")
		if err := validBucket(bucket); err != nil {
			return location{}, badRequest("invalid bucket in fs %q: %w", fs, err)
		}
		loc.bucket = bucket
		k, err := cleanKey(prefix, false)
		if err != nil {
			return location{}, err
		}
		loc.key = k
	}
	return loc.join(remote)
}

func validBucket(b string) error {
	if b == "" {
		return fmt.Errorf("empty bucket name: want <provider>:<bucket>")
	}
	if b == "." || b == ".." || len(b) > 255 {
		return fmt.Errorf("bucket name %q not allowed", b)
	}
	for _, r := range b {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			return fmt.Errorf("bucket name %q: want letters, digits, '-', '_' or '.'", b)
		}
	}
	return nil
}

// cleanKey validates a slash-separated path and returns it without leading,
// trailing or duplicate slashes and without "." segments.
func cleanKey(p string, local bool) (string, error) {
	if strings.ContainsRune(p, 0) {
		return "", badRequest("invalid path %q: contains a NUL byte", p)
	}
	if strings.ContainsRune(p, '\\') {
		return "", badRequest("invalid path %q: contains a backslash", p)
	}
	if local && strings.HasPrefix(p, "/") {
		return "", badRequest("invalid path %q: absolute paths are not allowed in data:, want a path relative to the data directory", p)
	}
	var out []string
	for seg := range strings.SplitSeq(p, "/") {
		switch seg {
		case "", ".":
			continue
		case "..":
			return "", badRequest("invalid path %q: '..' would escape the remote's root", p)
		}
		out = append(out, seg)
	}
	return strings.Join(out, "/"), nil
}

// buckets opens and caches one *blob.Bucket per provider and bucket.
type buckets struct {
	opts Options
	mu   sync.Mutex
	open map[string]*blob.Bucket
	// lean caches the lean S3 path of built-in s3 buckets (nil: none).
	lean map[*blob.Bucket]*s3Lean
	// closers release what the agent opened (buckets, clients).
	closers []func() error
}

func newBuckets(opts Options) *buckets {
	return &buckets{opts: opts, open: make(map[string]*blob.Bucket), lean: make(map[*blob.Bucket]*s3Lean)}
}

// get returns the bucket of loc.
func (b *buckets) get(ctx context.Context, loc location) (*blob.Bucket, error) {
	id := loc.provider + ":" + loc.bucket
	b.mu.Lock()
	defer b.mu.Unlock()
	if bk, ok := b.open[id]; ok {
		return bk, nil
	}
	var (
		bk    *blob.Bucket
		err   error
		owned = true
		extra func() error
	)
	switch {
	case loc.provider == ProviderData:
		if st, serr := os.Stat(b.opts.DataDir); serr != nil || !st.IsDir() {
			return nil, withStatus(500, fmt.Errorf("data directory %q is not available: %w", b.opts.DataDir, serr))
		}
		// Every file operation goes through an os.Root of the data
		// directory: no symlink leads out of it.
		bk, err = openRootBucket(b.opts.DataDir, false)
	case b.opts.OpenBucket != nil:
		bk, err = b.opts.OpenBucket(ctx, loc.provider, loc.bucket)
		owned = false
	case loc.provider == ProviderLocalStorage:
		if b.opts.Storage.LocalStoragePath == "" {
			return nil, badRequest("invalid provider %q: localstorage is not configured on this agent", loc.provider)
		}
		dir := b.opts.Storage.LocalStoragePath + string(os.PathSeparator) + loc.bucket
		// The directory holds exactly the backup's files (as rclone's
		// local backend writes them), and every file operation goes
		// through an os.Root of it: no symlink leads out of it.
		bk, err = openRootBucket(dir, true)
	default:
		bk, extra, err = openCloudBucket(ctx, b.opts.Storage, loc.provider, loc.bucket)
	}
	if err != nil {
		// Opening does no I/O for object stores: a failure is the
		// location's (a missing bucket or directory, bad settings), not a
		// passing fault, so it is a 400 that clients do not retry.
		if _, ok := errors.AsType[*rcError](err); !ok {
			return nil, withStatus(http.StatusBadRequest, fmt.Errorf("open %s:%s: %w", loc.provider, loc.bucket, err))
		}
		return nil, fmt.Errorf("open %s:%s: %w", loc.provider, loc.bucket, err)
	}
	b.open[id] = bk
	if owned {
		b.closers = append(b.closers, bk.Close)
	}
	if extra != nil {
		b.closers = append(b.closers, extra)
	}
	return bk, nil
}

func (b *buckets) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.closers {
		_ = c()
	}
	b.closers = nil
	clear(b.open)
	clear(b.lean)
}
