package agent

import (
	"bytes"
	"context"
	"crypto/md5" //nolint:gosec // MD5 is what object stores report
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/scyllaops/scyllaops/internal/agentapi"
)

// Upload tuning: the writer buffers at most uploadPartSize ×
// uploadConcurrency per file (S3, GCS, Azure), and copyBufSize is the
// streaming buffer.
const (
	uploadPartSize    = 5 << 20
	uploadConcurrency = 2
	copyBufSize       = 128 << 10
)

// copyStream writes r to dst/key in one streaming pass, computing MD5 on
// the way, and verifies it against the MD5 the bucket reports (when it
// reports one) and the size against want (when >= 0). On error the
// partial object is discarded. A local file going to a built-in s3 bucket
// takes the direct path of s3upload.go instead (no buffers, Content-MD5
// and ETag checks per part). A local file-system destination (data: or
// localstorage:) takes copyToLocal: no MD5 (the only MD5 such a bucket
// could report is one this process computed from the same in-memory
// bytes, so comparing it proves nothing), a CRC32C in the same pass
// instead.
func (s *rcServer) copyStream(ctx context.Context, j *job, r io.Reader, dst *blob.Bucket, key string, want int64, srcMeta map[string]string, ts *transferState) (int64, error) {
	counts := []interface{ Add(int64) int64 }{&j.bytes}
	if ts != nil {
		counts = append(counts, &ts.bytes)
	}
	var lim *rate.Limiter
	if jl := j.limiter.Load(); jl != nil {
		lim = jl
	} else {
		lim = s.limiter
	}
	if u := s.directS3(ctx, r, dst, key); u != nil && want >= 0 {
		u.lim, u.counts = lim, counts
		if err := u.upload(ctx, want); err != nil {
			return 0, err
		}
		return want, nil
	}
	if rb := localBucket(dst); rb != nil {
		src := r
		if f := localFile(r); f != nil && want >= directMin && (lim == nil || lim.Limit() == rate.Inf) {
			if dr := newDirectReader(f); dr != nil {
				defer dr.close()
				src = dr
			}
		}
		return copyToLocal(ctx, rb, key, want, srcMeta, &meteredReader{ctx: ctx, r: src, lim: lim, counts: counts})
	}
	wo := &blob.WriterOptions{
		ContentType:    "application/octet-stream",
		BufferSize:     uploadPartSize,
		MaxConcurrency: uploadConcurrency,
	}
	if f := localFile(r); f != nil && want >= 0 {
		// Stored with the object for the unchanged-file rule (local
		// destinations store theirs as they write).
		sum, err := fileCRC32CSum(f, want)
		if err != nil {
			return 0, err
		}
		wo.Metadata = map[string]string{metaCRC32C: sum}
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := dst.NewWriter(wctx, key, wo)
	if err != nil {
		return 0, err
	}
	h := md5.New() //nolint:gosec // see import
	mr := &meteredReader{ctx: ctx, r: io.TeeReader(r, h), lim: lim, counts: counts}
	buf := getBuf(copyBufSize)
	n, err := io.CopyBuffer(struct{ io.Writer }{w}, struct{ io.Reader }{mr}, *buf)
	putBuf(buf)
	if err == nil && want >= 0 && n != want {
		err = fmt.Errorf("source size changed: read %d bytes, expected %d", n, want)
	}
	if err != nil {
		cancel() // discard the partial object
		_ = w.Close()
		return n, err
	}
	if err := w.Close(); err != nil {
		return n, err
	}
	sum := h.Sum(nil)
	a, err := dst.Attributes(ctx, key)
	if err != nil {
		return n, fmt.Errorf("verify %s: %w", key, err)
	}
	if a.Size != n || (len(a.MD5) > 0 && !bytes.Equal(a.MD5, sum)) {
		_ = dst.Delete(context.WithoutCancel(ctx), key)
		return n, fmt.Errorf("verify %s: wrote %d bytes md5 %s, bucket has %d bytes md5 %s",
			key, n, hex.EncodeToString(sum), a.Size, hex.EncodeToString(a.MD5))
	}
	// A destination that reports a stored CRC32C: compare it with the
	// checksum the source stored with the object.
	if want := metaValue(srcMeta, metaCRC32C); want != "" {
		if got := metaValue(a.Metadata, metaCRC32C); got != "" && !strings.EqualFold(got, want) {
			_ = dst.Delete(context.WithoutCancel(ctx), key)
			return n, fmt.Errorf("verify %s: wrote %d bytes with crc32c %s, the source's stored crc32c is %s", key, n, got, want)
		}
	}
	return n, nil
}

// copyToLocal is copyStream into a local bucket (data: or localstorage:):
// through the bucket's own writer (no blob.Writer, no Attributes call
// afterwards), in 1 MiB writes that go around the page cache (see
// rootWriter). The size and the CRC32C the writer computed in the same
// pass are checked against want and the CRC32C stored with the source
// (when it has one) before the file is renamed into place: a file that
// fails the check never appears under its name. mr is r metered.
func copyToLocal(ctx context.Context, rb *rootBucket, key string, want int64, srcMeta map[string]string, mr io.Reader) (int64, error) {
	w, err := rb.newWriter(ctx, key)
	if err != nil {
		return 0, rb.statusErr(err)
	}
	var n int64
	if want >= 0 && want <= localWriteBufSize {
		buf := getBuf(localWriteBufSize)
		n, err = io.CopyBuffer(struct{ io.Writer }{w}, fullReader{mr}, *buf)
		putBuf(buf)
	} else {
		n, err = pipeCopy(w, mr)
	}
	if err == nil && want >= 0 && n != want {
		err = fmt.Errorf("source size changed: read %d bytes, expected %d", n, want)
	}
	if err == nil {
		if exp := metaValue(srcMeta, metaCRC32C); exp != "" {
			if got := w.sum(); !strings.EqualFold(got, exp) {
				err = fmt.Errorf("verify %s: wrote %d bytes with crc32c %s, the source's stored crc32c is %s", key, n, got, exp)
			}
		}
	}
	if err != nil {
		w.abort()
		return n, err
	}
	return n, rb.statusErr(w.Close())
}

// pipeCopy copies r to w in full buffers of localWriteBufSize (network
// reads return what the socket holds, often 16–64 KiB: filling the buffer
// first makes every write one large, aligned write(2)), reading the next
// buffer while the previous one is written: a direct write (rootWriter)
// returns only once the data is on the device, and overlapping it with
// the next read keeps both the source and the disk busy. It returns the
// bytes written.
func pipeCopy(w io.Writer, r io.Reader) (int64, error) {
	type chunk struct {
		b *[]byte
		n int
	}
	free := make(chan *[]byte, 2)
	free <- getBuf(localWriteBufSize)
	free <- getBuf(localWriteBufSize)
	full := make(chan chunk, 1)
	var (
		written atomic.Int64
		failed  atomic.Bool
		werr    error
		done    = make(chan struct{})
	)
	go func() {
		defer close(done)
		for c := range full {
			if werr == nil {
				var m int
				m, werr = w.Write((*c.b)[:c.n])
				written.Add(int64(m))
				if werr == nil && m != c.n {
					werr = io.ErrShortWrite
				}
				if werr != nil {
					failed.Store(true)
				}
			}
			free <- c.b
		}
	}()
	var rerr error
	for !failed.Load() {
		b := <-free
		m, err := io.ReadFull(r, *b)
		if m > 0 {
			full <- chunk{b, m}
		} else {
			free <- b
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			rerr = err
			break
		}
	}
	close(full)
	<-done
	putBuf(<-free)
	putBuf(<-free)
	if werr != nil {
		return written.Load(), werr
	}
	return written.Load(), rerr
}

// Copy buffers are pooled by size: allocating (and zeroing) one per
// file cost more CPU than copying a small file.
var bufPools = map[int]*sync.Pool{
	copyBufSize:       {New: func() any { b := make([]byte, copyBufSize); return &b }},
	localWriteBufSize: {New: func() any { b := alignedBuf(localWriteBufSize); return &b }},
}

// alignedBuf returns a buffer of size bytes starting at a multiple of
// directAlign, so that writes from it can use direct I/O (rootWriter).
func alignedBuf(size int) []byte {
	b := make([]byte, size+directAlign)
	off := (directAlign - int(uintptr(unsafe.Pointer(&b[0]))%directAlign)) % directAlign
	return b[off : off+size : off+size]
}

func getBuf(size int) *[]byte { return bufPools[size].Get().(*[]byte) }

func putBuf(b *[]byte) { bufPools[len(*b)].Put(b) }

// localWriteBufSize is the copy buffer of a transfer into a local
// destination (see fullReader).
const localWriteBufSize = 1 << 20

// fullReader reads until p is full or the source ends.
type fullReader struct{ r io.Reader }

func (f fullReader) Read(p []byte) (int, error) {
	n, err := io.ReadFull(f.r, p)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	if n > 0 && err == io.EOF {
		err = nil // reported by the next Read
	}
	return n, err
}

// metaValue returns the metadata value of key, whatever the case of the
// stored key (S3 servers and SDKs differ).
func metaValue(m map[string]string, key string) string {
	if v, ok := m[key]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

// castagnoli is the CRC32C table: the checksum S3's additional checksums
// and GCS use, computed by the CPU's CRC instruction (cheap next to MD5).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checkers is the number of files whose destination is checked at once
// by sync/copydir and sync/movedir (rclone's agent default: 100).
const checkers = 32

// metaCRC32C is the metadata key of a file's CRC32C (8 hex digits) stored
// with it by the agent.
const metaCRC32C = "crc32c"

// sameContent reports whether dst/dstKey exists and whether it already
// holds the content of the source. Timestamps never decide: a file
// rewritten with new content within the clock's granularity would be
// skipped. With equal sizes, in this order: equal MD5 when both sides
// report one; the CRC32C stored with the destination (metaCRC32C) against
// the source's, computed in one cheap read of a local source; the MD5 the
// destination reports against one computed from a local source; else the
// file is not proven the same and is copied again. Skipping identical
// files without reading them is the caller's (the manager's deduplication
// by sstable bundle, reference §5.5). With a non-nil index (a listing of
// the destination), the destination's size comes from it instead of one
// Attributes call per file.
func (s *rcServer) sameContent(ctx context.Context, src *blob.Bucket, srcKey string, sa *blob.Attributes, srcLocal bool, dst *blob.Bucket, dstKey string, index dstIndex) (exists, same bool, err error) {
	var da *blob.Attributes
	if index != nil {
		if da = index[dstKey]; da == nil {
			return false, false, nil
		}
	} else {
		da, err = dst.Attributes(ctx, dstKey)
		if gcerrors.Code(err) == gcerrors.NotFound {
			return false, false, nil
		}
		if err != nil {
			return false, false, err
		}
	}
	if da.Size != sa.Size {
		return true, false, nil
	}
	if len(da.MD5) > 0 && len(sa.MD5) > 0 {
		return true, bytes.Equal(da.MD5, sa.MD5), nil
	}
	if !srcLocal {
		return true, false, nil
	}
	if index != nil && da.Metadata == nil {
		// Listings carry no metadata: fetch the stored checksum.
		if full, err := dst.Attributes(ctx, dstKey); err == nil {
			da = full
		}
	}
	var h hash.Hash
	var want []byte
	switch {
	case da.Metadata[metaCRC32C] != "":
		want, err = hex.DecodeString(da.Metadata[metaCRC32C])
		if err != nil {
			return true, false, nil
		}
		h = crc32.New(castagnoli)
	case len(da.MD5) > 0:
		h, want = md5.New(), da.MD5 //nolint:gosec // see import
	default:
		return true, false, nil
	}
	r, err := src.NewReader(ctx, srcKey, nil)
	if err != nil {
		return true, false, err
	}
	defer r.Close()
	buf := getBuf(copyBufSize)
	defer putBuf(buf)
	if _, err := io.CopyBuffer(h, struct{ io.Reader }{r}, *buf); err != nil {
		return true, false, err
	}
	return true, bytes.Equal(h.Sum(nil), want), nil
}

// transfer copies one file unless the destination already holds it. With
// a suffix, an existing different destination is first renamed to
// <name><suffix> (a versioned file). It reports whether the file was
// skipped.
func (s *rcServer) transfer(ctx context.Context, j *job, src *blob.Bucket, srcKey string, sa *blob.Attributes, dst *blob.Bucket, dstKey, suffix string, srcLoc *location) (skipped bool, err error) {
	return s.transferIndexed(ctx, j, src, srcKey, sa, dst, dstKey, suffix, srcLoc, nil, nil)
}

// dstIndex maps the keys of a destination listing to their attributes.
type dstIndex map[string]*blob.Attributes

// maxDstIndex bounds the entries of a dstIndex (about 100 bytes each);
// larger destinations are checked with one Attributes call per file.
const maxDstIndex = 100_000

// indexDst lists dst below prefix (a key prefix ending in "/", or "") into
// a dstIndex; nil when it would exceed maxDstIndex entries.
func indexDst(ctx context.Context, dst *blob.Bucket, prefix string) (dstIndex, error) {
	idx := dstIndex{}
	it := list(dst, &blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return idx, nil
		}
		if err != nil {
			return nil, err
		}
		if obj.IsDir {
			continue
		}
		if len(idx) == maxDstIndex {
			return nil, nil
		}
		idx[obj.Key] = &blob.Attributes{Size: obj.Size, ModTime: obj.ModTime, MD5: obj.MD5}
	}
}

// transferIndexed is transfer with an optional index of the destination
// and an optional semaphore of transfers: the check (sameContent) runs
// outside it, so many checks (a HEAD and a cheap checksum each) overlap
// while at most cap(sem) files are copied.
func (s *rcServer) transferIndexed(ctx context.Context, j *job, src *blob.Bucket, srcKey string, sa *blob.Attributes, dst *blob.Bucket, dstKey, suffix string, srcLoc *location, index dstIndex, sem chan struct{}) (skipped bool, err error) {
	ts, end := j.startTransfer(srcKey, sa.Size)
	defer func() { end(skipped, err) }()
	exists, same, err := s.sameContent(ctx, src, srcKey, sa, srcLoc != nil && srcLoc.local(), dst, dstKey, index)
	if err != nil {
		return false, fmt.Errorf("check %s: %w", dstKey, err)
	}
	if same {
		return true, nil
	}
	if sem != nil {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return false, context.Cause(ctx)
		}
		defer func() { <-sem }()
	}
	if exists && suffix != "" {
		if err := s.versionCopy(ctx, j, dst, dstKey, suffix, -1); err != nil {
			return false, fmt.Errorf("version %s as %s: %w", dstKey, dstKey+suffix, err)
		}
	}
	r, err := src.NewReader(ctx, srcKey, nil)
	if err != nil {
		return false, err
	}
	defer r.Close()
	if _, err := s.copyStream(ctx, j, r, dst, dstKey, sa.Size, sa.Metadata, ts); err != nil {
		return false, err
	}
	return false, nil
}

// syncOpts are the common parameters of the sync calls.
type syncOpts struct {
	src, dst       *blob.Bucket
	srcLoc, dstLoc location
	suffix         string
	transfers      int
	bps            int64
	paths          [][2]location // copypaths: source and destination of each path
}

// parseSyncParams validates the parameters of sync call name without side
// effects, so that asynchronous calls fail before a job starts.
func (s *rcServer) parseSyncParams(name string, p params) (syncOpts, error) {
	var o syncOpts
	var err error
	if o.srcLoc, err = location2(p, "srcFs", "srcRemote"); err != nil {
		return o, err
	}
	if o.dstLoc, err = location2(p, "dstFs", "dstRemote"); err != nil {
		return o, err
	}
	if o.suffix, err = p.str("suffix"); err != nil {
		return o, err
	}
	if o.suffix != "" {
		if k, err := cleanKey("x"+o.suffix, false); err != nil || k != "x"+o.suffix || strings.Contains(o.suffix, "/") {
			return o, badRequest("invalid parameter \"suffix\" %q: want a plain name suffix like .sm_20240101000000UTC", o.suffix)
		}
	}
	t, err := p.int("transfers", -1)
	if err != nil {
		return o, err
	}
	switch {
	case t == -1 || t == 0:
		o.transfers = int(s.transfers.Load())
	case t < -1 || t > 1024:
		return o, badRequest("invalid parameter \"transfers\" %d: want 1..1024 or -1 (agent default)", t)
	default:
		o.transfers = int(t)
	}
	bw, err := p.str("bandwidth_rate")
	if err != nil {
		return o, err
	}
	if o.bps, err = parseRate(bw); err != nil {
		return o, err
	}
	switch name {
	case agentapi.CallSyncCopyDir, agentapi.CallSyncMoveDir:
		if !o.srcLoc.local() {
			return o, badRequest("source %s must be local (data:)", o.srcLoc)
		}
		if o.dstLoc.local() {
			return o, badRequest("destination %s must be a bucket, not data:", o.dstLoc)
		}
	case agentapi.CallSyncCopyPaths:
		if !o.dstLoc.local() {
			return o, badRequest("destination %s must be local (data:)", o.dstLoc)
		}
		paths, err := p.strs("paths")
		if err != nil {
			return o, err
		}
		for _, rel := range paths {
			sl, err := o.srcLoc.join(rel)
			if err != nil {
				return o, err
			}
			dl, err := o.dstLoc.join(rel)
			if err != nil {
				return o, err
			}
			if sl.key == o.srcLoc.key {
				return o, badRequest("invalid path %q in paths: want a file below srcRemote", rel)
			}
			o.paths = append(o.paths, [2]location{sl, dl})
		}
	}
	return o, nil
}

// parseSync validates the parameters and opens the buckets.
func (s *rcServer) parseSync(ctx context.Context, name string, p params, j *job) (syncOpts, error) {
	o, err := s.parseSyncParams(name, p)
	if err != nil {
		return o, err
	}
	if o.src, err = s.buckets.get(ctx, o.srcLoc); err != nil {
		return o, err
	}
	if o.dst, err = s.buckets.get(ctx, o.dstLoc); err != nil {
		return o, err
	}
	if o.bps > 0 {
		j.limiter.Store(newLimiter(o.bps))
	}
	return o, nil
}

func (s *rcServer) syncCopyDir(ctx context.Context, p params, j *job) (any, error) {
	return s.syncDir(ctx, agentapi.CallSyncCopyDir, p, j, false)
}

func (s *rcServer) syncMoveDir(ctx context.Context, p params, j *job) (any, error) {
	return s.syncDir(ctx, agentapi.CallSyncMoveDir, p, j, true)
}

// syncDir uploads every file below the local source to the destination,
// transfers at a time; with move, local files are deleted once uploaded
// (or found already uploaded).
func (s *rcServer) syncDir(ctx context.Context, name string, p params, j *job, move bool) (any, error) {
	o, err := s.parseSync(ctx, name, p, j)
	if err != nil {
		return nil, err
	}
	prefix := o.srcLoc.key
	if prefix != "" {
		prefix += "/"
	}
	var (
		g      errgroup.Group
		failed atomic.Int64
		total  int64
		first  atomic.Pointer[error]
	)
	// Checks run checkers at a time, copies o.transfers at a time (like
	// rclone's checkers and transfers).
	g.SetLimit(max(o.transfers, checkers))
	sem := make(chan struct{}, o.transfers)
	// One listing of the destination instead of one check per file: a
	// second backup of unchanged files then costs two listings.
	dstPrefix := o.dstLoc.key
	if dstPrefix != "" {
		dstPrefix += "/"
	}
	index, err := indexDst(ctx, o.dst, dstPrefix)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", o.dstLoc, err)
	}
	var objs []*blob.ListObject
	it := list(o.src, &blob.ListOptions{Prefix: prefix})
	var listErr error
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			listErr = fmt.Errorf("list %s: %w", o.srcLoc, err)
			break
		}
		if !obj.IsDir {
			objs = append(objs, obj)
		}
	}
	dstKeyOf := func(srcKey string) string { return joinKey(o.dstLoc.key, srcKey[len(prefix):]) }
	var known map[string]bool
	if listErr == nil {
		if known, err = s.uploadedBundles(ctx, o.src, o.dst, objs, dstKeyOf, index); err != nil {
			return nil, err
		}
	}
	for _, obj := range objs {
		total++
		srcKey := obj.Key
		dstKey := dstKeyOf(srcKey)
		sa := &blob.Attributes{Size: obj.Size, ModTime: obj.ModTime, MD5: obj.MD5}
		g.Go(func() error {
			var err error
			if known[srcKey] {
				// Already uploaded by the deduplication rule: no check.
				_, end := j.startTransfer(srcKey, sa.Size)
				end(true, nil)
			} else {
				_, err = s.transferIndexed(ctx, j, o.src, srcKey, sa, o.dst, dstKey, o.suffix, &o.srcLoc, index, sem)
			}
			if err == nil && move {
				// The file is in the destination. A source already gone
				// was moved by another job of the same directory (e.g.
				// the job of a manager that died, still running when the
				// run was resumed): the move is done either way.
				if err = o.src.Delete(ctx, srcKey); err == nil {
					j.deletes.Add(1)
				} else if gcerrors.Code(err) == gcerrors.NotFound {
					err = nil
				}
			}
			if err != nil {
				failed.Add(1)
				err = fmt.Errorf("%s: %w", srcKey, err)
				first.CompareAndSwap(nil, &err)
			}
			return nil
		})
	}
	_ = g.Wait()
	if err := ctx.Err(); err != nil {
		return nil, context.Cause(ctx)
	}
	if listErr != nil {
		return nil, listErr
	}
	if n := failed.Load(); n > 0 {
		return nil, fmt.Errorf("%d of %d files failed, first: %w", n, total, *first.Load())
	}
	return nil, nil
}

// syncCopyPaths downloads paths from the source into the local
// destination.
func (s *rcServer) syncCopyPaths(ctx context.Context, p params, j *job) (out any, err error) {
	o, err := s.parseSync(ctx, agentapi.CallSyncCopyPaths, p, j)
	if err != nil {
		return nil, err
	}
	var (
		g      errgroup.Group
		failed atomic.Int64
		first  atomic.Pointer[error]
	)
	g.SetLimit(o.transfers)
	if rb := localBucket(o.dst); rb != nil {
		var dc *dirCache
		ctx, dc = withDirCache(ctx, rb)
		defer func() {
			if cerr := dc.close(); cerr != nil && err == nil {
				out, err = nil, cerr
			}
		}()
	}
	for _, pr := range o.paths {
		g.Go(func() error {
			err := s.download(ctx, j, o.src, &pr[0], o.dst, pr[1].key)
			if err != nil {
				failed.Add(1)
				err = fmt.Errorf("%s: %w", pr[0], err)
				first.CompareAndSwap(nil, &err)
			}
			return nil
		})
	}
	_ = g.Wait()
	if err := ctx.Err(); err != nil {
		return nil, context.Cause(ctx)
	}
	if n := failed.Load(); n > 0 {
		return nil, fmt.Errorf("%d of %d files failed, first: %w", n, len(o.paths), *first.Load())
	}
	return nil, nil
}

// download copies src/srcLoc into the local dst/dstKey. When the
// destination does not exist (the usual case in a restore), the file is
// read with one GET and no HEAD: its size and stored checksum come from
// the reader. Otherwise it goes through transfer's unchanged-file check.
func (s *rcServer) download(ctx context.Context, j *job, src *blob.Bucket, srcLoc *location, dst *blob.Bucket, dstKey string) error {
	if ok, err := exists(ctx, dst, dstKey); err != nil || ok {
		sa, err := src.Attributes(ctx, srcLoc.key)
		if err != nil {
			return err
		}
		_, err = s.transfer(ctx, j, src, srcLoc.key, sa, dst, dstKey, "", srcLoc)
		return err
	}
	if l := s.buckets.s3Lean(ctx, src); l != nil && localBucket(dst) != nil && plainS3Key(srcLoc.key) {
		obj, err := l.get(ctx, srcLoc.key)
		if err != nil {
			return err
		}
		defer obj.body.Close()
		ts, end := j.startTransfer(srcLoc.key, obj.size)
		_, err = s.copyStream(ctx, j, obj.body, dst, dstKey, obj.size, obj.meta, ts)
		end(false, err)
		return err
	}
	r, err := src.NewReader(ctx, srcLoc.key, nil)
	if err != nil {
		return err
	}
	defer r.Close()
	meta, known := readerMeta(r)
	if !known {
		// Another backend: its metadata takes an Attributes call.
		a, err := src.Attributes(ctx, srcLoc.key)
		if err != nil {
			return err
		}
		meta = a.Metadata
	}
	ts, end := j.startTransfer(srcLoc.key, r.Size())
	_, err = s.copyStream(ctx, j, r, dst, dstKey, r.Size(), meta, ts)
	end(false, err)
	return err
}

// readerMeta returns the metadata stored with the object r reads, where
// the reader carries it without another request: an S3 GET's, or the
// CRC32C a local file keeps in an extended attribute; known is false
// for other readers.
func readerMeta(r *blob.Reader) (meta map[string]string, known bool) {
	var out s3.GetObjectOutput
	if r.As(&out) {
		return out.Metadata, true
	}
	if f := localFile(r); f != nil {
		if sum := fileCRC32C(f); sum != "" {
			return map[string]string{metaCRC32C: sum}, true
		}
		return nil, true
	}
	return nil, false
}

// exists is dst.Exists(key), without gocloud's error wrapping for a local
// bucket: a restore asks it of every file it downloads, and formatting
// the not-found error (and its trace span) cost more than the stat.
func exists(ctx context.Context, dst *blob.Bucket, key string) (bool, error) {
	rb := localBucket(dst)
	if rb == nil {
		return dst.Exists(ctx, key)
	}
	var (
		fi  os.FileInfo
		err error
	)
	if dc := dirCacheOf(ctx, rb); dc != nil {
		dir, name := splitKey(key)
		var d *os.Root
		if d, err = dc.dir(dir); err == nil {
			fi, err = d.Stat(name)
		}
	} else {
		fi, err = rb.root.Stat(osPath(key))
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, rb.statusErr(err)
	}
	return !fi.IsDir(), nil
}
