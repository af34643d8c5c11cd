package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"unsafe"

	"gocloud.dev/blob"
	"gocloud.dev/blob/driver"
	"gocloud.dev/gcerrors"
)

// rootBucket is the blob driver of the local remotes (data: and each
// localstorage bucket): every file operation goes through an *os.Root, so
// no key and no symlink can reach outside the directory. A symlink that
// stays inside it keeps working; one that leads out fails with
// errEscapes (403). Keys are slash-separated paths already validated by
// cleanKey.
type rootBucket struct {
	root *os.Root
}

// tmpPrefix names a file being written; listings skip such names.
const tmpPrefix = ".scyllaops-tmp-"

// errEscapes is reported for a path that resolves outside the root.
var errEscapes = errors.New("path escapes the remote's root (symlink)")

// openRootBucket opens dir (created when create is set) as a bucket
// confined to it.
func openRootBucket(dir string, create bool) (*blob.Bucket, error) {
	if create {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return blob.NewBucket(&rootBucket{root: r}), nil
}

// rootOf returns the *os.Root of a bucket opened by openRootBucket.
func rootOf(b *blob.Bucket) (*os.Root, bool) {
	var r *os.Root
	if b.As(&r) {
		return r, true
	}
	return nil, false
}

func osPath(key string) string {
	if key == "" {
		return "."
	}
	return filepath.FromSlash(key)
}

// isEscape reports whether err is os.Root refusing a path that leads
// outside the root.
func isEscape(err error) bool {
	return errors.Is(err, errEscapes) || (err != nil && strings.Contains(err.Error(), "path escapes from parent"))
}

func (b *rootBucket) ErrorCode(err error) gcerrors.ErrorCode {
	switch {
	case isEscape(err), errors.Is(err, fs.ErrPermission):
		return gcerrors.PermissionDenied
	case errors.Is(err, fs.ErrNotExist):
		return gcerrors.NotFound
	case errors.Is(err, fs.ErrInvalid):
		return gcerrors.InvalidArgument
	}
	return gcerrors.Unknown
}

func (b *rootBucket) As(i any) bool {
	switch p := i.(type) {
	case **os.Root:
		*p = b.root
		return true
	case **rootBucket:
		*p = b
		return true
	}
	return false
}

// localBucket returns the driver of a bucket opened by openRootBucket, or
// nil.
func localBucket(bk *blob.Bucket) *rootBucket {
	var rb *rootBucket
	if bk.As(&rb) {
		return rb
	}
	return nil
}

// statusErr gives err the HTTP status of its error code, for callers that
// use the driver directly rather than through blob.Bucket.
func (b *rootBucket) statusErr(err error) error {
	switch b.ErrorCode(err) {
	case gcerrors.PermissionDenied:
		return withStatus(http.StatusForbidden, err)
	case gcerrors.NotFound:
		return withStatus(http.StatusNotFound, err)
	case gcerrors.InvalidArgument:
		return withStatus(http.StatusBadRequest, err)
	}
	return err
}

func (b *rootBucket) ErrorAs(error, any) bool { return false }

// Attributes reports size and time and, in Metadata[MetaCRC32C], the
// CRC32C stored with the file when it was written by the agent.
func (b *rootBucket) Attributes(_ context.Context, key string) (*driver.Attributes, error) {
	f, err := b.root.Open(osPath(key))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%s: is a directory: %w", key, fs.ErrNotExist)
	}
	a := &driver.Attributes{Size: fi.Size(), ModTime: fi.ModTime(), ContentType: "application/octet-stream"}
	if sum := fileCRC32C(f); sum != "" {
		a.Metadata = map[string]string{metaCRC32C: sum}
	}
	return a, nil
}

// ListPaged walks the directory of the prefix (symlinked directories are
// not descended, as in fileblob; symlinked files inside the root are
// listed with their target's size) and returns the keys in order.
func (b *rootBucket) ListPaged(ctx context.Context, opts *driver.ListOptions) (*driver.ListPage, error) {
	start := "."
	if i := strings.LastIndex(opts.Prefix, "/"); i > 0 {
		start = opts.Prefix[:i]
	}
	var objs []*driver.ListObject
	seenDir := map[string]bool{}
	err := fs.WalkDir(b.root.FS(), start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == start && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), tmpPrefix) {
			return nil
		}
		key := p // fs.FS paths are slash-separated
		if !strings.HasPrefix(key, opts.Prefix) {
			return nil
		}
		if opts.Delimiter != "" {
			if i := strings.Index(key[len(opts.Prefix):], opts.Delimiter); i >= 0 {
				dir := key[:len(opts.Prefix)+i+len(opts.Delimiter)]
				if !seenDir[dir] {
					seenDir[dir] = true
					objs = append(objs, &driver.ListObject{Key: dir, IsDir: true})
				}
				return nil
			}
		}
		fi, err := d.Info()
		if err != nil {
			return nil // gone meanwhile
		}
		if d.Type()&fs.ModeSymlink != 0 {
			// Only a symlink to a file inside the root is an object.
			if fi, err = b.root.Stat(osPath(key)); err != nil || fi.IsDir() {
				return nil
			}
		} else if !fi.Mode().IsRegular() {
			return nil
		}
		objs = append(objs, &driver.ListObject{Key: key, Size: fi.Size(), ModTime: fi.ModTime()})
		return nil
	})
	if err != nil && !errors.Is(err, fs.SkipAll) {
		return nil, err
	}
	sort.Slice(objs, func(i, j int) bool { return objs[i].Key < objs[j].Key })
	if tok := string(opts.PageToken); tok != "" {
		i := sort.Search(len(objs), func(i int) bool { return objs[i].Key > tok })
		objs = objs[i:]
	}
	page := &driver.ListPage{Objects: objs}
	if n := opts.PageSize; n > 0 && len(objs) > n {
		page.Objects = objs[:n]
		page.NextPageToken = []byte(objs[n-1].Key)
	}
	return page, nil
}

func (b *rootBucket) NewRangeReader(_ context.Context, key string, offset, length int64, _ *driver.ReaderOptions) (driver.Reader, error) {
	f, err := b.root.Open(osPath(key))
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && fi.IsDir() {
		err = fmt.Errorf("%s: is a directory: %w", key, fs.ErrNotExist)
	}
	if err == nil && offset > 0 {
		_, err = f.Seek(offset, io.SeekStart)
	}
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	var r io.Reader = f
	if length >= 0 {
		r = io.LimitReader(f, length)
	}
	return &rootReader{r: r, f: f, attrs: driver.ReaderAttributes{ContentType: "application/octet-stream", ModTime: fi.ModTime(), Size: fi.Size()}}, nil
}

type rootReader struct {
	r     io.Reader
	f     *os.File
	attrs driver.ReaderAttributes
}

func (r *rootReader) Read(p []byte) (int, error)           { return r.r.Read(p) }
func (r *rootReader) Close() error                         { return r.f.Close() }
func (r *rootReader) Attributes() *driver.ReaderAttributes { return &r.attrs }
func (r *rootReader) As(i any) bool {
	// The s3 direct upload reads the *os.File (see directS3).
	if p, ok := i.(*io.Reader); ok {
		*p = r.r
		return true
	}
	return false
}

// NewTypedWriter writes to a temporary file in the key's directory and
// renames it into place on Close, so a reader sees the old or the whole
// new file; a canceled ctx discards the write.
func (b *rootBucket) NewTypedWriter(ctx context.Context, key, _ string, _ *driver.WriterOptions) (driver.Writer, error) {
	return b.newWriter(ctx, key)
}

func (b *rootBucket) newWriter(ctx context.Context, key string) (*rootWriter, error) {
	if key == "" {
		return nil, fmt.Errorf("empty key: %w", fs.ErrInvalid)
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	if dc := dirCacheOf(ctx, b); dc != nil {
		// Within the job's open directory (see dirCache).
		dir, name := splitKey(key)
		d, err := dc.dir(dir)
		if err != nil {
			return nil, err
		}
		tmp := tmpPrefix + hex.EncodeToString(rnd[:])
		f, err := d.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return nil, err
		}
		return &rootWriter{ctx: ctx, b: b, dir: d, f: f, tmp: tmp, key: name, crc: crc32.New(castagnoli)}, nil
	}
	dir := path.Dir(key)
	if dir != "." {
		if err := b.root.MkdirAll(osPath(dir), 0o755); err != nil {
			return nil, err
		}
	}
	tmp := path.Join(dir, tmpPrefix+hex.EncodeToString(rnd[:]))
	f, err := b.root.OpenFile(osPath(tmp), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	return &rootWriter{ctx: ctx, b: b, dir: b.root, f: f, tmp: tmp, key: key, crc: crc32.New(castagnoli)}, nil
}

// rootWriter computes the CRC32C of what it writes, in the same pass, and
// stores it with the file (an extended attribute, where the file system
// has them), so that a later upload of the same name and size is decided
// by checksum without reading the destination.
//
// Large aligned writes (the 1 MiB buffers of a download, see copyStream)
// go around the page cache (O_DIRECT, switched on and off per write with
// fcntl; the unaligned tail and small writes stay buffered). Copying into
// the page cache was most of the agent's CPU in a download (write(2):
// 57% of its profile, about 2.5 CPU-s per GiB on the benchmark machine,
// against about 1 with direct writes), the data has to reach the disk
// anyway, and ScyllaDB reads its SSTables with direct I/O, so cached
// pages of downloaded files would only take memory from it. A file
// system that refuses direct I/O (or this alignment) is written
// buffered. Crash safety is unchanged: the file is renamed into place
// only after every write returned, and the contract is a process kill,
// not a power loss (no fsync).
type rootWriter struct {
	ctx context.Context //nolint:containedctx // gocloud's driver.Writer receives its context at creation and must honor it at Close
	b   *rootBucket
	f   *os.File
	// dir is the root tmp and key are relative to: the bucket's, or the
	// job's open directory of the file (dirCache).
	dir      *os.Root
	tmp, key string
	crc      hash.Hash32
	off      int64
	// directOn is O_DIRECT's state on f; noDirect is set once the file
	// system refused it.
	directOn, noDirect bool
}

// Direct writes: the alignment of offset, length and memory (4096 covers
// 512-byte and 4K-sector devices), and the smallest write worth it.
const (
	directAlign = 4096
	directMin   = 256 << 10
)

// directable reports whether p, written at w.off, can go around the page
// cache.
func (w *rootWriter) directable(p []byte) bool {
	return !w.noDirect && len(p) >= directMin && len(p)%directAlign == 0 && w.off%directAlign == 0 &&
		uintptr(unsafe.Pointer(&p[0]))%directAlign == 0
}

// setDirect switches O_DIRECT of w.f to on, if it is not already.
func (w *rootWriter) setDirect(on bool) {
	if on == w.directOn {
		return
	}
	if setDirectIO(w.f, on) {
		w.directOn = on
	} else if on {
		w.noDirect = true
	}
}

func (w *rootWriter) Write(p []byte) (int, error) {
	w.setDirect(w.directable(p))
	n, err := w.f.Write(p)
	if err != nil && n == 0 && w.directOn && errors.Is(err, syscall.EINVAL) {
		// The device wants a larger alignment: buffered from now on.
		w.noDirect = true
		w.setDirect(false)
		n, err = w.f.Write(p)
	}
	w.off += int64(n)
	_, _ = w.crc.Write(p[:n])
	return n, err
}

// sum is the CRC32C (hex) of what was written so far.
func (w *rootWriter) sum() string { return hex.EncodeToString(w.crc.Sum(nil)) }

// abort discards the write.
func (w *rootWriter) abort() {
	_ = w.f.Close()
	_ = w.dir.Remove(osPath(w.tmp))
}

func (w *rootWriter) Close() error {
	setFileCRC32C(w.f, w.sum())
	err := w.f.Close()
	if err == nil {
		err = w.ctx.Err()
	}
	if err == nil {
		err = w.dir.Rename(osPath(w.tmp), osPath(w.key))
	}
	if err != nil {
		_ = w.dir.Remove(osPath(w.tmp))
	}
	return err
}

func (b *rootBucket) Copy(ctx context.Context, dstKey, srcKey string, _ *driver.CopyOptions) error {
	r, err := b.NewRangeReader(ctx, srcKey, 0, -1, nil)
	if err != nil {
		return err
	}
	defer r.Close()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := b.NewTypedWriter(wctx, dstKey, "", nil)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		cancel()
		_ = w.Close()
		return err
	}
	return w.Close()
}

// Delete removes the file key (a symlink itself, not its target).
func (b *rootBucket) Delete(_ context.Context, key string, _ *driver.DeleteOptions) error {
	fi, err := b.root.Lstat(osPath(key))
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%s: is a directory: %w", key, fs.ErrNotExist)
	}
	return b.root.Remove(osPath(key))
}

func (b *rootBucket) SignedURL(context.Context, string, *driver.SignedURLOptions) (string, error) {
	return "", fmt.Errorf("signed URLs of a local remote: %w", errors.ErrUnsupported)
}

func (b *rootBucket) Close() error { return b.root.Close() }

// removeEmptyDirs removes the directory key of the local bucket bk and its
// empty sub-directories, deepest first, through its root; non-empty ones
// stay, and nothing outside the root is touched.
func removeEmptyDirs(bk *blob.Bucket, key string) {
	r, ok := rootOf(bk)
	if !ok {
		return
	}
	var dirs []string
	_ = fs.WalkDir(r.FS(), osPath(key), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if dirs[i] != "." {
			_ = r.Remove(filepath.FromSlash(dirs[i]))
		}
	}
}

// directReader reads a local file around the page cache (O_DIRECT), for a
// copy into a local bucket: a restore from a local backup location reads
// files nobody has read lately, so a buffered read would fill the page
// cache (and copy out of it) for nothing. Reads must be aligned (the 1 MiB
// buffers of copyToLocal are); an unaligned one turns O_DIRECT off for
// the rest of the file. A direct read returns less than asked only at
// the end of the file, after which the reader reports io.EOF without
// another read (one at an unaligned offset would fail); a short read
// anywhere else would end the copy early, which the size check catches.
type directReader struct {
	f      *os.File
	off    int64
	direct bool
	eof    bool
}

// newDirectReader returns a direct reader of f, which must be at offset 0,
// or nil when f is elsewhere or its file system refuses direct I/O.
func newDirectReader(f *os.File) *directReader {
	if off, err := f.Seek(0, io.SeekCurrent); err != nil || off != 0 {
		return nil
	}
	if !setDirectIO(f, true) {
		return nil
	}
	return &directReader{f: f, direct: true}
}

func (r *directReader) Read(p []byte) (int, error) {
	if r.eof {
		return 0, io.EOF
	}
	if r.direct && (len(p) == 0 || len(p)%directAlign != 0 || r.off%directAlign != 0 || uintptr(unsafe.Pointer(&p[0]))%directAlign != 0) {
		r.close()
	}
	n, err := r.f.Read(p)
	r.off += int64(n)
	if r.direct && err == nil && n < len(p) {
		r.eof = true
	}
	return n, err
}

// close turns O_DIRECT off again (the file may be read further).
func (r *directReader) close() {
	if r.direct {
		setDirectIO(r.f, false)
		r.direct = false
	}
}
