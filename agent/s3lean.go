package agent

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithyauth "github.com/aws/smithy-go/auth"
	"github.com/aws/smithy-go/encoding/httpbinding"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// s3Lean sends the two requests a transfer makes per file (the PUT of an
// object up to uploadPartSize, the GET of an object to download) with
// net/http and the SDK's SigV4 signer, without the SDK's middleware
// stack: with thousands of small SSTable components, the stack (endpoint
// rules evaluated per call, a dozen middleware layers whose deep stack
// frames make every transfer goroutine grow its stack several times) was
// about a quarter of the agent's CPU per file. The endpoint is resolved
// once per bucket by the client's own resolver; buckets whose endpoint
// asks for anything but plain SigV4 signing as "s3" (S3 Express, access
// point ARNs) keep the SDK path. It uses the client's HTTP client,
// credentials (cached by the SDK) and region, retries like the SDK's
// standard retryer does for throttling, 5xx and connection errors (3
// attempts), and sends the same headers as the SDK path: content
// length, UNSIGNED-PAYLOAD with an x-amz-checksum-crc32c the server
// verifies, the CRC32C in the object's metadata.
type s3Lean struct {
	hc     s3.HTTPClient
	creds  aws.CredentialsProvider
	signer *v4.Signer
	region string
	base   url.URL // the bucket's URL; the key's path is appended
	header http.Header
}

// s3LeanAttempts is the attempts of one request (the SDK's standard
// retryer's default).
const s3LeanAttempts = 3

// newS3Lean returns the lean path of bucket through c, or nil when its
// endpoint needs the SDK.
func newS3Lean(ctx context.Context, c *s3.Client, bucket string) *s3Lean {
	o := c.Options()
	if o.EndpointResolverV2 == nil || o.Credentials == nil || o.HTTPClient == nil || o.UseAccelerate ||
		strings.Contains(bucket, ":") || strings.HasSuffix(bucket, "--x-s3") ||
		aws.IsCredentialsProvider(o.Credentials, aws.AnonymousCredentials{}) {
		// Anonymous requests (a public bucket) go unsigned through the SDK.
		return nil
	}
	ep, err := o.EndpointResolverV2.ResolveEndpoint(ctx, s3.EndpointParameters{
		Bucket:         aws.String(bucket),
		Region:         aws.String(o.Region),
		UseFIPS:        aws.Bool(o.EndpointOptions.UseFIPSEndpoint == aws.FIPSEndpointStateEnabled),
		UseDualStack:   aws.Bool(o.EndpointOptions.UseDualStackEndpoint == aws.DualStackEndpointStateEnabled),
		Endpoint:       o.BaseEndpoint,
		ForcePathStyle: aws.Bool(o.UsePathStyle),
		Accelerate:     aws.Bool(false),
	})
	if err != nil {
		return nil
	}
	region := o.Region
	if opts, ok := smithyauth.GetAuthOptions(&ep.Properties); ok {
		if len(opts) == 0 || (opts[0].SchemeID != "sigv4" && opts[0].SchemeID != smithyauth.SchemeIDSigV4) {
			return nil
		}
		if n, ok := smithyhttp.GetSigV4SigningName(&opts[0].SignerProperties); ok && n != "s3" {
			return nil
		}
		if r, ok := smithyhttp.GetSigV4SigningRegion(&opts[0].SignerProperties); ok && r != "" {
			region = r
		}
	}
	return &s3Lean{
		hc: o.HTTPClient, creds: o.Credentials, region: region, base: ep.URI, header: ep.Headers,
		signer: v4.NewSigner(func(so *v4.SignerOptions) { so.DisableURIPathEscaping = true }),
	}
}

// s3Error is an S3 error response.
type s3Error struct {
	Status  int
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

func (e *s3Error) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("s3: HTTP %d", e.Status)
	}
	return fmt.Sprintf("s3: HTTP %d %s: %s", e.Status, e.Code, e.Message)
}

// readS3Error reads the error of a failed response and closes its body.
func readS3Error(resp *http.Response) error {
	defer resp.Body.Close()
	e := &s3Error{Status: resp.StatusCode}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = xml.Unmarshal(b, e)
	switch e.Status {
	case http.StatusNotFound, http.StatusForbidden:
		return withStatus(e.Status, e)
	}
	return e
}

// retryable reports whether a request that failed with err or resp may
// be sent again.
func retryable(ctx context.Context, resp *http.Response, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	if err != nil {
		return true // a connection error; the request is sent whole again
	}
	return resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
}

// do signs and sends the request newReq builds, with retries.
func (l *s3Lean) do(ctx context.Context, newReq func() (*http.Request, error)) (*http.Response, error) {
	for attempt := 1; ; attempt++ {
		req, err := newReq()
		if err != nil {
			return nil, err
		}
		for k, v := range l.header {
			req.Header[k] = v
		}
		req.Header.Set("X-Amz-Content-Sha256", v4UnsignedPayload)
		creds, err := l.creds.Retrieve(ctx)
		if err != nil {
			return nil, err
		}
		if err := l.signer.SignHTTP(ctx, creds, req, v4UnsignedPayload, "s3", l.region, time.Now().UTC()); err != nil {
			return nil, err
		}
		resp, err := l.hc.Do(req)
		if err == nil && resp.StatusCode < 300 {
			return resp, nil
		}
		if attempt == s3LeanAttempts || !retryable(ctx, resp, err) {
			if err != nil {
				return nil, err
			}
			return nil, readS3Error(resp)
		}
		if resp != nil {
			_ = readS3Error(resp)
		}
		t := time.NewTimer(time.Duration(attempt*attempt) * 100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, context.Cause(ctx)
		case <-t.C:
		}
	}
}

const v4UnsignedPayload = "UNSIGNED-PAYLOAD"

// url returns the URL of key.
func (l *s3Lean) url(key string) string {
	u := l.base
	esc := strings.TrimSuffix(u.EscapedPath(), "/") + "/" + httpbinding.EscapePath(key, false)
	u.Path = strings.TrimSuffix(u.Path, "/") + "/" + key
	// Escaped as the SDK escapes it (and signs it: the signer takes the
	// escaped path as it is).
	u.RawPath = esc
	if u.EscapedPath() != u.RawPath {
		// Not a valid escaping of Path: net/http would send its own.
		u.RawPath = ""
	}
	return u.String()
}

// put stores fs (the whole object, fs.n bytes) as key with its CRC32C
// (crc: base64 of the big-endian value, hexSum: the same as hex) and
// checks the CRC32C the server returns.
func (l *s3Lean) put(ctx context.Context, key string, fs *fileSection, crc, hexSum string) error {
	u := l.url(key)
	resp, err := l.do(ctx, func() (*http.Request, error) {
		var body io.Reader = http.NoBody
		if fs.n > 0 {
			body = &fileBody{fileSection: fs}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, body)
		if err != nil {
			return nil, err
		}
		req.ContentLength = fs.n
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set("X-Amz-Meta-"+metaCRC32C, hexSum)
		req.Header.Set("X-Amz-Checksum-Crc32c", crc)
		req.Header.Set("X-Amz-Sdk-Checksum-Algorithm", "CRC32C")
		return req, nil
	})
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	got := resp.Header.Get("X-Amz-Checksum-Crc32c")
	return checkCRC(&got, crc)
}

// s3Object is the body of a GET and what its headers tell.
type s3Object struct {
	body io.ReadCloser
	size int64
	meta map[string]string
}

// get opens key.
func (l *s3Lean) get(ctx context.Context, key string) (*s3Object, error) {
	u := l.url(key)
	resp, err := l.do(ctx, func() (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	})
	if err != nil {
		return nil, err
	}
	size := resp.ContentLength
	if size < 0 {
		if size, err = strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64); err != nil {
			_ = resp.Body.Close()
			return nil, errors.New("s3: GET answered without a Content-Length")
		}
	}
	meta := map[string]string{}
	for k, v := range resp.Header {
		if len(v) > 0 && len(k) > len("X-Amz-Meta-") && strings.EqualFold(k[:len("X-Amz-Meta-")], "X-Amz-Meta-") {
			meta[strings.ToLower(k[len("X-Amz-Meta-"):])] = v[0]
		}
	}
	return &s3Object{body: &exactBody{r: resp.Body, left: size}, size: size, meta: meta}, nil
}

// exactBody reports a body that ends before its Content-Length as
// io.ErrUnexpectedEOF (net/http does, but not every server-side close
// looks the same).
type exactBody struct {
	r    io.ReadCloser
	left int64
}

func (b *exactBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if err == io.EOF && b.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (b *exactBody) Close() error { return b.r.Close() }
