package agent

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"gocloud.dev/blob"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"
)

// S3 upload tuning of the direct path.
const (
	// s3PartConcurrency is the number of parts of one file in flight.
	// Parts are sections of the local file, not buffers, so it costs no
	// memory.
	s3PartConcurrency = 4
	// s3MaxParts is S3's limit of parts per upload; larger files get
	// larger parts.
	s3MaxParts = 10000
)

// s3Upload is the S3 upload path of copyStream, taken when the source is a
// local file (an *os.File behind the blob.Reader) and the destination a
// bucket of the built-in s3 provider. Compared with blob.Writer (the SDK's
// transfer manager fed through an io.Pipe) it:
//
//   - buffers nothing: the object, or each part, is sent straight from a
//     section of the file, so the agent's memory does not grow with
//     transfers or part concurrency (the transfer manager allocates a pool
//     of 3 parts per file and reads the first 16 MiB of each file into a
//     growing slice: the agent's peak RSS was 113 MiB with 2 transfers);
//   - sends every object or part with an S3 additional checksum, CRC32C
//     (x-amz-checksum-crc32c, hashed from the page cache just before
//     sending by the CPU's CRC instruction: a small fraction of MD5's
//     cost), so the server verifies every byte and stores the checksum
//     with the object, and checks the checksum it returns, so no HEAD per
//     file is needed afterwards;
//   - signs with UNSIGNED-PAYLOAD (the checksum protects the content), so
//     neither side computes a SHA-256 of the payload over plain HTTP.
type s3Upload struct {
	client *s3.Client
	bucket string
	key    string
	file   *os.File
	lim    *rate.Limiter
	counts []interface{ Add(int64) int64 }
	// lean sends the PutObject of a small file (nil: the SDK does).
	lean *s3Lean
}

// directS3 returns the direct upload path of r to dst/key, or nil when r
// is not a local file, dst is not a built-in s3 bucket, or key needs
// s3blob's key escaping.
func (s *rcServer) directS3(ctx context.Context, r io.Reader, dst *blob.Bucket, key string) *s3Upload {
	if !plainS3Key(key) {
		return nil
	}
	f := localFile(r)
	if f == nil {
		return nil
	}
	var c *s3.Client
	if !dst.As(&c) {
		return nil
	}
	bucket, ok := s.buckets.builtinS3(dst)
	if !ok {
		return nil
	}
	return &s3Upload{client: c, bucket: bucket, key: key, file: f, lean: s.buckets.s3Lean(ctx, dst)}
}

// s3Lean returns the lean request path of a built-in s3 bucket (see
// s3lean.go), or nil.
func (b *buckets) s3Lean(ctx context.Context, bk *blob.Bucket) *s3Lean {
	bucket, ok := b.builtinS3(bk)
	if !ok {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if l, ok := b.lean[bk]; ok {
		return l
	}
	var c *s3.Client
	var l *s3Lean
	if bk.As(&c) {
		// Cached for later jobs: resolving the endpoint does no I/O.
		l = newS3Lean(context.WithoutCancel(ctx), c, bucket)
	}
	b.lean[bk] = l
	return l
}

// plainS3Key reports whether s3blob stores key unescaped: valid UTF-8, no
// control characters and no "../".
func plainS3Key(key string) bool {
	if !utf8.ValidString(key) || strings.Contains(key, "../") {
		return false
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 32 {
			return false
		}
	}
	return true
}

// builtinS3 returns the S3 bucket name of bk when the agent opened it with
// its built-in s3 provider.
func (b *buckets) builtinS3(bk *blob.Bucket) (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.opts.OpenBucket != nil {
		return "", false
	}
	for id, v := range b.open {
		if v == bk {
			p, name, _ := strings.Cut(id, ":")
			return name, p == ProviderS3
		}
	}
	return "", false
}

// unsigned makes a call sign with UNSIGNED-PAYLOAD.
func unsigned(o *s3.Options) {
	o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
}

// upload stores the first size bytes of the file as the object: one
// PutObject up to uploadPartSize, a multipart upload otherwise (aborted on
// error). The file must still have that size afterwards.
func (u *s3Upload) upload(ctx context.Context, size int64) error {
	var err error
	if size <= uploadPartSize {
		err = u.put(ctx, size)
	} else {
		err = u.multipart(ctx, size)
	}
	if err != nil {
		return err
	}
	if st, serr := u.file.Stat(); serr != nil || st.Size() != size {
		_, _ = u.client.DeleteObject(context.WithoutCancel(ctx), &s3.DeleteObjectInput{Bucket: aws.String(u.bucket), Key: aws.String(u.key)})
		if serr != nil {
			return serr
		}
		return fmt.Errorf("source size changed: now %d bytes, expected %d", st.Size(), size)
	}
	return nil
}

// section returns the CRC32C c in S3's form (base64 of the big-endian
// value) and a rate-limited, counted, seekable reader of the file's
// bytes [off, off+n) (seekable so that the SDK can retry; retried bytes
// count again, as they are sent again). The returned context carries the
// section for sendfileClient: the request made with it sends the
// section with sendfile(2) where it can.
func (u *s3Upload) section(ctx context.Context, off, n int64, c uint32) (context.Context, *fileSection, string, io.ReadSeeker) {
	sr := io.NewSectionReader(u.file, off, n)
	fs := &fileSection{ctx: ctx, f: u.file, off: off, n: n, lim: u.lim, counts: u.counts}
	return withFileBody(ctx, fs), fs, base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, c)),
		&seekMeter{meteredReader: meteredReader{ctx: ctx, r: sr, lim: u.lim, counts: u.counts}, sr: sr}
}

// seekMeter is a meteredReader over a section that can seek.
type seekMeter struct {
	meteredReader
	sr *io.SectionReader
}

func (m *seekMeter) Seek(off int64, whence int) (int64, error) { return m.sr.Seek(off, whence) }

// localFile returns the *os.File behind a reader of a local bucket, or
// nil.
func localFile(r io.Reader) *os.File {
	br, ok := r.(*blob.Reader)
	if !ok {
		return nil
	}
	var inner io.Reader
	if !br.As(&inner) {
		return nil
	}
	f, _ := inner.(*os.File)
	return f
}

// checkCRC compares the CRC32C the server answers (when it answers one)
// with the one sent.
func checkCRC(got *string, sent string) error {
	if g := aws.ToString(got); g != "" && g != sent {
		return &crcMismatch{got: g, sent: sent}
	}
	return nil
}

// crcMismatch is a server's answer with another CRC32C than the one sent.
type crcMismatch struct{ got, sent string }

func (e *crcMismatch) Error() string {
	return fmt.Sprintf("server stored crc32c %s, sent %s", e.got, e.sent)
}

func (u *s3Upload) put(ctx context.Context, size int64) error {
	c, _, err := fileCRCs(u.file, size, 0)
	if err != nil {
		return err
	}
	rctx, fs, crc, body := u.section(ctx, 0, size, c)
	if u.lean != nil {
		if err := u.lean.put(ctx, u.key, fs, crc, crc32cHex(c)); err != nil {
			return leanVerifyErr(ctx, u, err)
		}
		return nil
	}
	out, err := u.client.PutObject(rctx, &s3.PutObjectInput{
		Bucket: aws.String(u.bucket), Key: aws.String(u.key), Body: body,
		Metadata:      map[string]string{metaCRC32C: crc32cHex(c)},
		ContentLength: aws.Int64(size), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c, ChecksumCRC32C: aws.String(crc),
		ContentType: aws.String("application/octet-stream"),
	}, unsigned)
	if err != nil {
		return err
	}
	if err := checkCRC(out.ChecksumCRC32C, crc); err != nil {
		_, _ = u.client.DeleteObject(context.WithoutCancel(ctx), &s3.DeleteObjectInput{Bucket: aws.String(u.bucket), Key: aws.String(u.key)})
		return fmt.Errorf("verify %s: %w", u.key, err)
	}
	return nil
}

// multipart uploads the file in parts of uploadPartSize (more when the
// file has more than s3MaxParts of them), s3PartConcurrency at a time.
func (u *s3Upload) multipart(ctx context.Context, size int64) (err error) {
	partSize := max(int64(uploadPartSize), (size+s3MaxParts-1)/s3MaxParts)
	nparts := int((size + partSize - 1) / partSize)
	// The whole file's CRC32C, stored with the object (the parts' checksums
	// are per part): a later upload of the same name and size compares it
	// instead of re-sending. One more read of the page cache; CRC32C costs
	// little next to sending.
	whole, partCRCs, err := fileCRCs(u.file, size, partSize)
	if err != nil {
		return err
	}
	if len(partCRCs) != nparts {
		return fmt.Errorf("source size changed while read: %d parts of %d bytes, expected %d", len(partCRCs), partSize, nparts)
	}
	sum := crc32cHex(whole)
	cr, err := u.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(u.bucket), Key: aws.String(u.key), ContentType: aws.String("application/octet-stream"),
		Metadata:          map[string]string{metaCRC32C: sum},
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c,
	})
	if err != nil {
		return err
	}
	id := cr.UploadId
	defer func() {
		if err != nil {
			_, _ = u.client.AbortMultipartUpload(context.WithoutCancel(ctx), &s3.AbortMultipartUploadInput{
				Bucket: aws.String(u.bucket), Key: aws.String(u.key), UploadId: id})
		}
	}()
	parts := make([]types.CompletedPart, nparts)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s3PartConcurrency)
	for i := range nparts {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			off := int64(i) * partSize
			n := min(partSize, size-off)
			num := int32(i + 1)
			rctx, _, crc, body := u.section(gctx, off, n, partCRCs[i])
			out, err := u.client.UploadPart(rctx, &s3.UploadPartInput{
				Bucket: aws.String(u.bucket), Key: aws.String(u.key), UploadId: id, PartNumber: aws.Int32(num),
				Body: body, ContentLength: aws.Int64(n), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c, ChecksumCRC32C: aws.String(crc),
			}, unsigned)
			if err != nil {
				return fmt.Errorf("part %d: %w", num, err)
			}
			if err := checkCRC(out.ChecksumCRC32C, crc); err != nil {
				return fmt.Errorf("part %d: %w", num, err)
			}
			parts[i] = types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num), ChecksumCRC32C: aws.String(crc)}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	_, err = u.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(u.bucket), Key: aws.String(u.key), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	return err
}

// leanVerifyErr returns err of a lean PutObject; a CRC32C the server
// stored differently from the one sent deletes the object, as on the SDK
// path.
func leanVerifyErr(ctx context.Context, u *s3Upload, err error) error {
	if _, ok := errors.AsType[*crcMismatch](err); ok {
		_, _ = u.client.DeleteObject(context.WithoutCancel(ctx), &s3.DeleteObjectInput{Bucket: aws.String(u.bucket), Key: aws.String(u.key)})
		return fmt.Errorf("verify %s: %w", u.key, err)
	}
	return err
}
