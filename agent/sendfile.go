package agent

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/time/rate"
)

// An S3 upload of a local file (s3Upload) sends each object or part from
// the file with sendfile(2) where the connection is plain TCP: the bytes
// go from the page cache into the socket inside the kernel, instead of a
// pread(2) into a buffer and a write(2) out of it (together about 40 % of
// a backup's CPU before). The SDK wraps a request body in its own types,
// which hide the file from net/http, so the section to send travels in
// the request's context (withFileBody) and sendfileClient, the S3
// client's HTTP client, swaps the body for a fileBody just before the
// request is sent; bigWriteConn.ReadFrom, which net/http hands the body
// to, recognizes it. Over TLS (the connection is a *tls.Conn, which
// encrypts in user space) or with a bandwidth limit, nothing changes: the
// fileBody is read like any body. The CRC32C of the section is computed
// before the request and sent with it; the server verifies it, so bytes
// that changed between the checksum and the send are refused, as before.

// fileSection is a section of a local file to send as a request body,
// with the transfer's limiter and counters.
type fileSection struct {
	ctx    context.Context //nolint:containedctx // scoped to one request
	f      *os.File
	off, n int64
	lim    *rate.Limiter
	counts []interface{ Add(int64) int64 }
	// sendfiled counts the bytes sent with sendfile(2).
	sendfiled atomic.Int64
}

type fileSectionKey struct{}

// withFileBody returns ctx carrying fs for the request sent with it
// (see sendfileClient).
func withFileBody(ctx context.Context, fs *fileSection) context.Context {
	return context.WithValue(ctx, fileSectionKey{}, fs)
}

// sendfileClient is the S3 client's HTTP client: a PUT whose context
// carries a fileSection of the request's length gets a fresh fileBody of
// it (each attempt of a retried request starts at the section's start).
type sendfileClient struct{ c s3.HTTPClient }

func (c sendfileClient) Do(req *http.Request) (*http.Response, error) {
	if fs, ok := req.Context().Value(fileSectionKey{}).(*fileSection); ok &&
		req.Method == http.MethodPut && req.Body != nil && req.ContentLength == fs.n && fs.n > 0 {
		_ = req.Body.Close()
		// Not io.NopCloser: net/http unwraps one wrapper only (its own
		// readTrackingBody) before handing the body to the connection.
		req.Body = &fileBody{fileSection: fs}
	}
	return c.c.Do(req)
}

// fileBody reads a fileSection, metered; sendTo sends the rest of it
// into a TCP connection with sendfile(2).
type fileBody struct {
	*fileSection
	pos int64
}

// Close does nothing: the file belongs to the upload.
func (b *fileBody) Close() error { return nil }

func (b *fileBody) limited() bool { return b.lim != nil && b.lim.Limit() != rate.Inf }

func (b *fileBody) Read(p []byte) (int, error) {
	if b.pos >= b.n {
		return 0, io.EOF
	}
	if int64(len(p)) > b.n-b.pos {
		p = p[:b.n-b.pos]
	}
	mr := meteredReader{ctx: b.ctx, r: io.NewSectionReader(b.f, b.off+b.pos, b.n-b.pos), lim: b.lim, counts: b.counts}
	n, err := mr.Read(p)
	b.pos += int64(n)
	if errors.Is(err, io.EOF) && b.pos < b.n {
		err = io.ErrUnexpectedEOF // the file shrank
	}
	return n, err
}

// sendTo sends up to max bytes of the rest of the section into c with
// sendfile(2); handled is false when it cannot (c is not a TCP
// connection, a bandwidth limit applies, or the system has no
// sendfile), and then nothing was sent.
func (b *fileBody) sendTo(c net.Conn, limit int64) (n int64, handled bool, err error) {
	tc, ok := c.(*net.TCPConn)
	if !ok || b.limited() || !haveSendfile {
		return 0, false, nil
	}
	want := min(limit, b.n-b.pos)
	for n < want {
		if err := b.ctx.Err(); err != nil {
			return n, true, err
		}
		chunk := min(want-n, s3SendfileChunk)
		m, err := sendfile(tc, b.f, b.off+b.pos, chunk)
		if m > 0 {
			b.pos += m
			n += m
			b.sendfiled.Add(m)
			for _, c := range b.counts {
				c.Add(m)
			}
		}
		if err != nil {
			return n, true, err
		}
		if m == 0 {
			return n, true, io.ErrUnexpectedEOF // the file shrank
		}
	}
	return n, true, nil
}

// s3SendfileChunk is the most one sendfile(2) call sends (progress is
// counted and the context checked between calls).
const s3SendfileChunk = 4 << 20
