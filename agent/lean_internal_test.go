package agent

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/time/rate"
)

func writeTemp(t *testing.T, data []byte) *os.File {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// TestFileCRCs: the whole file's CRC32C and each part's, in one pass,
// through the pread path (small files) and the mapped path (large ones);
// a file shorter than the size asked for is an error (a fault of the
// mapping beyond the end of the file is turned into one), never a crash.
func TestFileCRCs(t *testing.T) {
	const part = 5 << 20
	for _, n := range []int{0, 1, crcMapMin - 1, crcMapMin, crcMapWindow + 3, 2*part + 7} {
		data := randBytes(n)
		f := writeTemp(t, data)
		whole, parts, err := fileCRCs(f, int64(n), part)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if want := crc32.Checksum(data, castagnoli); whole != want {
			t.Fatalf("%d bytes: whole crc %08x, want %08x", n, whole, want)
		}
		var want []uint32
		for off := 0; off < n; off += part {
			want = append(want, crc32.Checksum(data[off:min(off+part, n)], castagnoli))
		}
		if len(parts) != len(want) {
			t.Fatalf("%d bytes: %d part crcs, want %d", n, len(parts), len(want))
		}
		for i := range want {
			if parts[i] != want[i] {
				t.Fatalf("%d bytes: part %d crc %08x, want %08x", n, i, parts[i], want[i])
			}
		}
		if sum, err := fileCRC32CSum(f, int64(n)); err != nil || sum != crcHex(data) {
			t.Fatalf("%d bytes: fileCRC32CSum = %s, %v; want %s", n, sum, err, crcHex(data))
		}
	}
	data := randBytes(100_003)
	for _, cut := range []int{0, 1, 4095, 50_000, 100_002, 100_003} {
		a, b := data[:cut], data[cut:]
		got := crc32Combine(crc32.Checksum(a, castagnoli), crc32.Checksum(b, castagnoli), int64(len(b)))
		if want := crc32.Checksum(data, castagnoli); got != want {
			t.Fatalf("crc32Combine at %d: %08x, want %08x", cut, got, want)
		}
	}
	for _, n := range []int{1000, 1 << 20} {
		f := writeTemp(t, randBytes(n))
		if _, _, err := fileCRCs(f, int64(2*n+crcMapMin), 0); err == nil {
			t.Fatalf("crc of %d bytes of a %d-byte file: no error", 2*n+crcMapMin, n)
		}
	}
}

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		acc <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-acc
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { _ = client.Close(); _ = server.Close() })
	return client, server
}

type counter struct{ n atomic.Int64 }

func (c *counter) Add(d int64) int64 { return c.n.Add(d) }

// TestFileBodySendfile: a file section handed to an S3 connection the way
// net/http hands a body (a first read into its buffer, then the rest as a
// LimitedReader) arrives whole and unchanged, the rest of it through
// sendfile(2) on Linux, every byte counted once; with a bandwidth limit
// it is copied instead; a file that shrank ends the body with an error.
func TestFileBodySendfile(t *testing.T) {
	data := randBytes(3<<20 + 5)
	f := writeTemp(t, data)
	const off, n = 1000, 2<<20 + 17
	for _, limited := range []bool{false, true} {
		var cnt counter
		fs := &fileSection{ctx: t.Context(), f: f, off: off, n: n, counts: []interface{ Add(int64) int64 }{&cnt}}
		if limited {
			fs.lim = rate.NewLimiter(rate.Limit(1<<30), maxBurst)
		}
		fb := &fileBody{fileSection: fs}
		client, server := tcpPair(t)
		got := make(chan []byte, 1)
		go func() {
			b, _ := io.ReadAll(io.LimitReader(server, n))
			got <- b
		}()
		head := make([]byte, 100)
		if m, err := fb.Read(head); m != 100 || err != nil {
			t.Fatalf("first read: %d, %v", m, err)
		}
		if _, err := client.Write(head); err != nil {
			t.Fatal(err)
		}
		lr := &io.LimitedReader{R: fb, N: n - 100}
		m, err := bigWriteConn{client}.ReadFrom(lr)
		if err != nil || m != n-100 || lr.N != 0 {
			t.Fatalf("limited=%v: ReadFrom = %d, %v (left %d), want %d", limited, m, err, lr.N, n-100)
		}
		if b := <-got; !bytes.Equal(b, data[off:off+n]) {
			t.Fatalf("limited=%v: the connection received %d other bytes than the section's", limited, len(b))
		}
		if c := cnt.n.Load(); c != n {
			t.Fatalf("limited=%v: counted %d bytes, want %d", limited, c, n)
		}
		sf := fs.sendfiled.Load()
		switch {
		case limited && sf != 0:
			t.Fatalf("a rate-limited body went through sendfile (%d bytes)", sf)
		case !limited && haveSendfile && sf != n-100:
			t.Fatalf("sendfile sent %d bytes, want %d", sf, n-100)
		}
	}
	// The file shrinks under the body.
	g := writeTemp(t, data)
	fs := &fileSection{ctx: t.Context(), f: g, off: 0, n: int64(len(data))}
	if err := os.Truncate(g.Name(), 1<<20); err != nil {
		t.Fatal(err)
	}
	client, server := tcpPair(t)
	go func() { _, _ = io.Copy(io.Discard, server) }()
	if _, err := (bigWriteConn{client}).ReadFrom(&fileBody{fileSection: fs}); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("body of a shrunk file: %v, want io.ErrUnexpectedEOF", err)
	}
}

// leanFor returns the lean path of bucket on endpoint.
func leanFor(t *testing.T, endpoint, key, secret, bucket string) (*s3Lean, *s3.Client) {
	t.Helper()
	bk, _, err := openCloudBucket(t.Context(), StorageOptions{S3: S3Options{Endpoint: endpoint, AccessKeyID: key,
		SecretAccessKey: secret, Region: "us-east-1", ForcePathStyle: true}}, ProviderS3, bucket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bk.Close() })
	var c *s3.Client
	if !bk.As(&c) {
		t.Fatal("not an s3 bucket")
	}
	l := newS3Lean(t.Context(), c, bucket)
	if l == nil {
		t.Fatalf("no lean path for %s on %s", bucket, endpoint)
	}
	return l, c
}

func b64CRC(c uint32) string {
	return base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, c))
}

// TestS3LeanPutGet, against the test S3 server: a lean PUT stores the
// object with its CRC32C (in metadata, and the server's own checksum),
// readable by the SDK under the same key, special characters included;
// a lean GET returns the bytes, size and metadata; a PUT whose CRC32C
// does not match the bytes (a file changed after its checksum) is
// refused by the server and leaves no object; a missing object is a 404.
func TestS3LeanPutGet(t *testing.T) {
	ep, bucket := os.Getenv("SCYLLAOPS_S3_ENDPOINT"), os.Getenv("SCYLLAOPS_S3_BUCKET")
	key, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if ep == "" || bucket == "" || key == "" {
		t.Skip("SCYLLAOPS_S3_ENDPOINT, SCYLLAOPS_S3_BUCKET, AWS_ACCESS_KEY_ID not set (scripts/services.sh)")
	}
	ctx := t.Context()
	l, c := leanFor(t, ep, key, secret, bucket)
	prefix := "lean-" + crcHex(randBytes(8)) + "/"
	t.Cleanup(func() {
		out, _ := c.ListObjectsV2(context.WithoutCancel(ctx), &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
		if out != nil {
			for _, o := range out.Contents {
				_, _ = c.DeleteObject(context.WithoutCancel(ctx), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			}
		}
	})
	for _, name := range []string{"ks/t-1/me-1-big-Data.db", "a b+c=d&e;f,g(h)'i~!*$@.db", "dir/ünï cødé.db", "empty.db"} {
		data := randBytes(300_001)
		if name == "empty.db" {
			data = nil
		}
		f := writeTemp(t, data)
		var cnt counter
		fs := &fileSection{ctx: ctx, f: f, n: int64(len(data)), counts: []interface{ Add(int64) int64 }{&cnt}}
		sum := crc32.Checksum(data, castagnoli)
		if err := l.put(ctx, prefix+name, fs, b64CRC(sum), crcHex(data)); err != nil {
			t.Fatalf("put %q: %v", name, err)
		}
		if cnt.n.Load() != int64(len(data)) {
			t.Fatalf("put %q: counted %d bytes, want %d", name, cnt.n.Load(), len(data))
		}
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(prefix + name)})
		if err != nil {
			t.Fatalf("SDK get %q: %v", name, err)
		}
		b, _ := io.ReadAll(out.Body)
		_ = out.Body.Close()
		if !bytes.Equal(b, data) || metaValue(out.Metadata, metaCRC32C) != crcHex(data) {
			t.Fatalf("%q as the SDK reads it: %d bytes (equal %v), metadata %v", name, len(b), bytes.Equal(b, data), out.Metadata)
		}
		obj, err := l.get(ctx, prefix+name)
		if err != nil {
			t.Fatalf("lean get %q: %v", name, err)
		}
		b, err = io.ReadAll(obj.body)
		_ = obj.body.Close()
		if err != nil || !bytes.Equal(b, data) || obj.size != int64(len(data)) || obj.meta[metaCRC32C] != crcHex(data) {
			t.Fatalf("lean get %q: %d bytes (equal %v), size %d, meta %v, err %v", name, len(b), bytes.Equal(b, data), obj.size, obj.meta, err)
		}
	}
	// The file changed after its CRC32C was computed.
	data := randBytes(100_000)
	f := writeTemp(t, data)
	stale := crc32.Checksum(append([]byte("x"), data[1:]...), castagnoli)
	fs := &fileSection{ctx: ctx, f: f, n: int64(len(data))}
	if err := l.put(ctx, prefix+"changed.db", fs, b64CRC(stale), crc32cHex(stale)); err == nil {
		t.Fatal("put with a CRC32C that does not match the bytes: no error")
	}
	_, err := l.get(ctx, prefix+"changed.db")
	if statusOf(err) != http.StatusNotFound {
		t.Fatalf("get of the refused object: %v (status %d), want 404", err, statusOf(err))
	}
}

// TestS3LeanCutBody: a GET whose body ends before its Content-Length (a
// connection lost mid-transfer) fails the download, and the destination
// holds neither the file nor a temporary file; server errors are retried.
func TestS3LeanCutBody(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "<Error><Code>SlowDown</Code><Message>busy</Message></Error>")
			return
		}
		if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") || r.Header.Get("X-Amz-Content-Sha256") != "UNSIGNED-PAYLOAD" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Length", "1000")
		w.Header().Set("X-Amz-Meta-Crc32c", "00000000")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(make([]byte, 500))
		// The handler returns: the server closes the connection short.
	}))
	defer srv.Close()
	c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("k", "s", ""), HTTPClient: sendfileClient{srv.Client()}})
	l := newS3Lean(t.Context(), c, "bkt")
	if l == nil {
		t.Fatal("no lean path")
	}
	anon := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: aws.AnonymousCredentials{}, HTTPClient: srv.Client()})
	if newS3Lean(t.Context(), anon, "bkt") != nil {
		t.Fatal("a lean path for anonymous credentials (the SDK sends those unsigned)")
	}
	obj, err := l.get(t.Context(), "ks/t/me-1-big-Data.db")
	if err != nil {
		t.Fatalf("get (after one 503): %v", err)
	}
	defer obj.body.Close()
	if calls.Load() != 2 || obj.size != 1000 {
		t.Fatalf("%d requests, size %d; want 2 (one retry), 1000", calls.Load(), obj.size)
	}
	dir := t.TempDir()
	if _, err := copyToLocal(t.Context(), openLocal(t, dir), "ks/t/upload/me-1-big-Data.db", obj.size, obj.meta, obj.body); err == nil {
		t.Fatal("copy of a cut body: no error")
	}
	left, _ := filepath.Glob(filepath.Join(dir, "ks/t/upload/*"))
	if len(left) != 0 {
		t.Fatalf("files left after a cut download: %v", left)
	}
}
