package agent

import (
	"context"
	"crypto/md5" //nolint:gosec // MD5 is what S3 verifies (Content-MD5) and reports (ETag)
	"encoding/base64"
	"encoding/hex"
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
//   - sends every object or part with Content-MD5 (hashed from the page
//     cache just before sending), so the server verifies every byte, and
//     checks the returned ETag, so no HEAD per file is needed afterwards;
//   - signs with UNSIGNED-PAYLOAD (Content-MD5 protects the content), so
//     neither side computes a SHA-256 of the payload over plain HTTP.
type s3Upload struct {
	client *s3.Client
	bucket string
	key    string
	file   *os.File
	lim    *rate.Limiter
	counts []interface{ Add(int64) int64 }
}

// directS3 returns the direct upload path of r to dst/key, or nil when r
// is not a local file, dst is not a built-in s3 bucket, or key needs
// s3blob's key escaping.
func (s *rcServer) directS3(r io.Reader, dst *blob.Bucket, key string) *s3Upload {
	br, ok := r.(*blob.Reader)
	if !ok || !plainS3Key(key) {
		return nil
	}
	var inner io.Reader
	if !br.As(&inner) {
		return nil
	}
	f, ok := inner.(*os.File)
	if !ok {
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
	return &s3Upload{client: c, bucket: bucket, key: key, file: f}
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

// section returns the Content-MD5 of the file's bytes [off, off+n) and a
// rate-limited, counted, seekable reader of them (seekable so that the SDK
// can retry; retried bytes count again, as they are sent again).
func (u *s3Upload) section(ctx context.Context, off, n int64) (string, []byte, io.ReadSeeker, error) {
	h := md5.New() //nolint:gosec // see import
	if _, err := io.Copy(h, io.NewSectionReader(u.file, off, n)); err != nil {
		return "", nil, nil, err
	}
	sum := h.Sum(nil)
	sr := io.NewSectionReader(u.file, off, n)
	return base64.StdEncoding.EncodeToString(sum), sum,
		&seekMeter{meteredReader: meteredReader{ctx: ctx, r: sr, lim: u.lim, counts: u.counts}, sr: sr}, nil
}

// seekMeter is a meteredReader over a section that can seek.
type seekMeter struct {
	meteredReader
	sr *io.SectionReader
}

func (m *seekMeter) Seek(off int64, whence int) (int64, error) { return m.sr.Seek(off, whence) }

// checkETag compares an ETag with the MD5 sent, when the ETag is a plain
// MD5 (servers with encryption or other schemes answer something else).
func checkETag(etag *string, sum []byte) error {
	e := strings.Trim(aws.ToString(etag), `"`)
	if len(e) != 32 {
		return nil
	}
	if e != hex.EncodeToString(sum) {
		return fmt.Errorf("server stored md5 %s, sent %s", e, hex.EncodeToString(sum))
	}
	return nil
}

func (u *s3Upload) put(ctx context.Context, size int64) error {
	md5b64, sum, body, err := u.section(ctx, 0, size)
	if err != nil {
		return err
	}
	out, err := u.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(u.bucket), Key: aws.String(u.key), Body: body,
		ContentLength: aws.Int64(size), ContentMD5: aws.String(md5b64),
		ContentType: aws.String("application/octet-stream"),
	}, unsigned)
	if err != nil {
		return err
	}
	if err := checkETag(out.ETag, sum); err != nil {
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
	cr, err := u.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(u.bucket), Key: aws.String(u.key), ContentType: aws.String("application/octet-stream"),
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
			md5b64, sum, body, err := u.section(gctx, off, n)
			if err != nil {
				return err
			}
			out, err := u.client.UploadPart(gctx, &s3.UploadPartInput{
				Bucket: aws.String(u.bucket), Key: aws.String(u.key), UploadId: id, PartNumber: aws.Int32(num),
				Body: body, ContentLength: aws.Int64(n), ContentMD5: aws.String(md5b64),
			}, unsigned)
			if err != nil {
				return fmt.Errorf("part %d: %w", num, err)
			}
			if err := checkETag(out.ETag, sum); err != nil {
				return fmt.Errorf("part %d: %w", num, err)
			}
			parts[i] = types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)}
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
