package agent

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gocloud.dev/blob"
)

// Defaults of Options.
const (
	DefaultScyllaAPI        = "http://127.0.0.1:10000"
	DefaultScyllaPrometheus = "http://127.0.0.1:9180"
	DefaultDataDir          = "/var/lib/scylla/data"
	DefaultAuthPenalty      = time.Second
	DefaultTransfers        = 2
	DefaultJobTTL           = 12 * time.Hour
)

// Options configure an Agent. The zero value is valid: no auth, Scylla at
// DefaultScyllaAPI, data dir DefaultDataDir, storage credentials from the
// environment.
type Options struct {
	// AuthToken is the bearer token every authenticated request must carry.
	// Empty disables authentication (a warning is logged).
	AuthToken string
	// ScyllaAPI is the base URL of the node-local Scylla REST API.
	// Default: DefaultScyllaAPI.
	ScyllaAPI string
	// ScyllaPrometheus is the base URL of the node's Prometheus endpoint,
	// the target of GET /metrics. Default: DefaultScyllaPrometheus.
	ScyllaPrometheus string
	// ScyllaTransport carries requests to ScyllaAPI and ScyllaPrometheus.
	// nil = a clone of http.DefaultTransport; the simulator passes an
	// in-process one.
	ScyllaTransport http.RoundTripper
	// DataDir is the Scylla data directory, root of the jailed "data:"
	// remote. Default: DefaultDataDir.
	DataDir string
	// DiskUsage reports the filesystem holding dir (DataDir or a path
	// under it) in bytes: its size, the space Scylla may still write
	// (statfs f_bavail) and the space in use. It answers operations/about
	// on data: and node_info's storage_size; a backup refuses to snapshot
	// a node with too little free space. nil = statfs of dir (Linux;
	// other systems answer an error). The simulator passes one that
	// reports each node's own simulated disk.
	DiskUsage func(dir string) (total, free, used int64, err error)
	// Storage configures the object-storage providers.
	Storage StorageOptions
	// OpenBucket, when set, replaces the built-in providers for every
	// remote except "data:" (tests pass shared memblob/fileblob buckets).
	// The agent calls it once per provider and bucket and caches the
	// result; the caller owns returned buckets (the agent never closes
	// them).
	OpenBucket func(ctx context.Context, provider, bucket string) (*blob.Bucket, error)
	// AuthPenalty is the delay before a 401 answer. Default: 1s; negative
	// means none.
	AuthPenalty time.Duration
	// Transfers is the default number of files a sync job copies in
	// parallel (core/transfers changes it). Default: 2.
	Transfers int
	// BandwidthLimit is the initial agent-wide upload/download limit in
	// bytes per second (core/bwlimit changes it). 0 = unlimited.
	BandwidthLimit int64
	// JobTTL is how long finished jobs stay queryable. Default: 12h.
	JobTTL time.Duration
	// Version is reported by GET /version and in node_info.
	Version string
	// OnTerminate is called by POST /agent/terminate; nil answers 501.
	OnTerminate func()
	// Logger receives the agent's logs. nil = discard.
	Logger *slog.Logger
	// Registerer registers the agent's metrics. nil = not registered.
	Registerer prometheus.Registerer
}

// StorageOptions configure the built-in object-storage providers of the
// rclone subset. Zero values fall back to the SDKs' environment lookup.
type StorageOptions struct {
	S3    S3Options
	GCS   GCSOptions
	Azure AzureOptions
	// LocalStoragePath, when set, enables the "localstorage" provider: each
	// bucket is a sub-directory of this path (e.g. a shared NFS mount).
	LocalStoragePath string
}

// S3Options configure the "s3" provider.
type S3Options struct {
	// Endpoint is a custom endpoint URL, e.g. "http://127.0.0.1:9000" for
	// MinIO. Empty = AWS.
	Endpoint string
	// Region. Empty = from the environment, else "us-east-1".
	Region string
	// AccessKeyID and SecretAccessKey; empty = the SDK's default chain
	// (environment, shared config, instance role).
	AccessKeyID     string
	SecretAccessKey string
	// ForcePathStyle addresses buckets as <endpoint>/<bucket>.
	ForcePathStyle bool
}

// GCSOptions configure the "gcs" provider.
type GCSOptions struct {
	// Endpoint is a custom endpoint (e.g. fake-gcs-server); empty = Google.
	Endpoint string
	// ServiceAccountFile is a JSON key file; empty = application default
	// credentials (or none, with a custom Endpoint).
	ServiceAccountFile string
}

// AzureOptions configure the "azure" provider.
type AzureOptions struct {
	// Account and Key of the storage account.
	Account string
	Key     string
	// Endpoint overrides the service URL, e.g. Azurite's
	// "http://127.0.0.1:10000/devstoreaccount1".
	Endpoint string
	// ConnectionString, when set, takes precedence over the fields above.
	ConnectionString string
}

// Validate reports the first invalid option.
func (o Options) Validate() error {
	for _, f := range []struct{ name, v string }{{"ScyllaAPI", o.ScyllaAPI}, {"ScyllaPrometheus", o.ScyllaPrometheus}} {
		if f.v == "" {
			continue
		}
		u, err := url.Parse(f.v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("agent: invalid Options.%s %q: want an http(s) base URL like %q", f.name, f.v, DefaultScyllaAPI)
		}
	}
	if o.Transfers < 0 {
		return fmt.Errorf("agent: invalid Options.Transfers %d: want >= 0 (0 = default %d)", o.Transfers, DefaultTransfers)
	}
	if o.BandwidthLimit < 0 {
		return fmt.Errorf("agent: invalid Options.BandwidthLimit %d: want bytes per second >= 0 (0 = unlimited)", o.BandwidthLimit)
	}
	if o.JobTTL < 0 {
		return fmt.Errorf("agent: invalid Options.JobTTL %s: want >= 0 (0 = default %s)", o.JobTTL, DefaultJobTTL)
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.ScyllaAPI == "" {
		o.ScyllaAPI = DefaultScyllaAPI
	}
	if o.ScyllaPrometheus == "" {
		o.ScyllaPrometheus = DefaultScyllaPrometheus
	}
	if o.ScyllaTransport == nil {
		o.ScyllaTransport = http.DefaultTransport.(*http.Transport).Clone()
	}
	if o.DataDir == "" {
		o.DataDir = DefaultDataDir
	}
	if o.AuthPenalty == 0 {
		o.AuthPenalty = DefaultAuthPenalty
	}
	if o.Transfers == 0 {
		o.Transfers = DefaultTransfers
	}
	if o.JobTTL == 0 {
		o.JobTTL = DefaultJobTTL
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
