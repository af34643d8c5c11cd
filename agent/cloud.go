package agent

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"

	"cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"
	"gocloud.dev/blob/azureblob"
	"gocloud.dev/blob/gcsblob"
	"gocloud.dev/blob/s3blob"
	"google.golang.org/api/option"
)

// openCloudBucket opens an s3, gcs or azure bucket configured by so. The
// returned closer releases clients the bucket does not own (may be nil).
func openCloudBucket(ctx context.Context, so StorageOptions, provider, bucket string) (*blob.Bucket, func() error, error) {
	switch provider {
	case ProviderS3:
		o := so.S3
		var lo []func(*awsconfig.LoadOptions) error
		if o.Region != "" {
			lo = append(lo, awsconfig.WithRegion(o.Region))
		}
		lo = append(lo, awsconfig.WithHTTPClient(s3HTTPClient()))
		if o.AccessKeyID != "" {
			lo = append(lo, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(o.AccessKeyID, o.SecretAccessKey, "")))
		}
		cfg, err := awsconfig.LoadDefaultConfig(ctx, lo...)
		if err != nil {
			return nil, nil, fmt.Errorf("s3 config: %w", err)
		}
		if cfg.Region == "" {
			cfg.Region = "us-east-1"
		}
		client := s3.NewFromConfig(cfg, func(so *s3.Options) {
			if o.Endpoint != "" {
				so.BaseEndpoint = aws.String(o.Endpoint)
			}
			so.UsePathStyle = o.ForcePathStyle
			if so.HTTPClient != nil {
				so.HTTPClient = sendfileClient{so.HTTPClient}
			}
			// S3-compatible servers often reject the SDK's default
			// trailing checksums; the agent verifies MD5 itself.
			so.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			so.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		})
		b, err := s3blob.OpenBucket(ctx, client, bucket, nil)
		return b, nil, err
	case ProviderGCS:
		o := so.GCS
		var copts []option.ClientOption
		switch {
		case o.Endpoint != "":
			ep := strings.TrimSuffix(o.Endpoint, "/")
			if !strings.HasSuffix(ep, "/storage/v1") {
				ep += "/storage/v1"
			}
			copts = append(copts, option.WithEndpoint(ep+"/"), option.WithoutAuthentication())
		case o.ServiceAccountFile != "":
			copts = append(copts, option.WithAuthCredentialsFile(option.ServiceAccount, o.ServiceAccountFile))
		}
		client, err := storage.NewClient(ctx, copts...)
		if err != nil {
			return nil, nil, fmt.Errorf("gcs client: %w", err)
		}
		b, err := gcsblob.OpenBucket(ctx, nil, bucket, &gcsblob.Options{Client: client})
		if err != nil {
			client.Close()
			return nil, nil, err
		}
		return b, client.Close, nil
	case ProviderAzure:
		o := so.Azure
		var (
			c   *container.Client
			err error
		)
		switch {
		case o.ConnectionString != "":
			c, err = container.NewClientFromConnectionString(o.ConnectionString, bucket, nil)
		case o.Account != "" && o.Key != "":
			var cred *container.SharedKeyCredential
			cred, err = container.NewSharedKeyCredential(o.Account, o.Key)
			if err == nil {
				ep := o.Endpoint
				if ep == "" {
					ep = "https://" + o.Account + ".blob.core.windows.net"
				}
				c, err = container.NewClientWithSharedKeyCredential(strings.TrimSuffix(ep, "/")+"/"+bucket, cred, nil)
			}
		default:
			var svc azureblob.ServiceURL
			opts := azureblob.NewDefaultServiceURLOptions()
			if o.Account != "" {
				opts.AccountName = o.Account
			}
			svc, err = azureblob.NewServiceURL(opts)
			if o.Endpoint != "" {
				svc, err = azureblob.ServiceURL(strings.TrimSuffix(o.Endpoint, "/")), nil
			}
			if err == nil {
				c, err = azureblob.NewDefaultClient(svc, azureblob.ContainerName(bucket))
			}
		}
		if err != nil {
			return nil, nil, fmt.Errorf("azure client: %w", err)
		}
		b, err := azureblob.OpenBucket(ctx, c, nil)
		return b, nil, err
	}
	return nil, nil, badRequest("invalid provider %q", provider)
}

// s3HTTPClient is the SDK's default HTTP client with connections that send
// a request body in writes of up to s3WriteChunk bytes: through net/http
// a body is copied into the connection 32 KiB at a time (one read of the
// file and one write(2) each; no sendfile behind the SDK's body
// wrappers), which was a large part of an upload's CPU.
func s3HTTPClient() *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		// A small object's request (headers and body) fills one buffer
		// and goes out in one write (net/http's default is 4 KiB: the
		// headers, then the body).
		t.WriteBufferSize = s3WriteBuffer
		dial := t.DialContext
		if dial == nil {
			dial = (&net.Dialer{}).DialContext
		}
		t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return bigWriteConn{c}, nil
		}
	})
}

// s3WriteBuffer is the write buffer of an S3 connection.
const s3WriteBuffer = 64 << 10

// s3WriteChunk is the largest write of a request body (bigWriteConn).
const s3WriteChunk = 256 << 10

var s3WriteBufs = sync.Pool{New: func() any { b := make([]byte, s3WriteChunk); return &b }}

// bigWriteConn copies what is streamed into it (io.Copy from a request
// body) with a large pooled buffer.
type bigWriteConn struct{ net.Conn }

// A fileBody (an S3 upload of a file section, see sendfile.go) is sent
// with sendfile(2) instead.
func (c bigWriteConn) ReadFrom(r io.Reader) (int64, error) {
	var sent int64
	fb, limit := (*fileBody)(nil), int64(-1)
	switch v := r.(type) {
	case *fileBody:
		fb, limit = v, v.n
	case *io.LimitedReader:
		if b, ok := v.R.(*fileBody); ok {
			fb, limit = b, v.N
		}
	}
	if fb != nil {
		n, handled, err := fb.sendTo(c.Conn, limit)
		if lr, ok := r.(*io.LimitedReader); ok {
			lr.N -= n
		}
		sent = n
		if err != nil || (handled && n == limit) {
			return sent, err
		}
	}
	b := s3WriteBufs.Get().(*[]byte)
	defer s3WriteBufs.Put(b)
	n, err := io.CopyBuffer(struct{ io.Writer }{c.Conn}, struct{ io.Reader }{r}, *b)
	return sent + n, err
}
