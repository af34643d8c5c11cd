package scyllaops

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/scyllaops/scyllaops/backup"
	"github.com/scyllaops/scyllaops/healthcheck"
	"github.com/scyllaops/scyllaops/repair"
	"github.com/scyllaops/scyllaops/restore"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/topology"
)

// Options tunes a Manager. The zero value is valid: every field has a
// documented default. Options are passed by value and may be reused.
type Options struct {
	// Logger receives the Manager's structured logs. Default: discard.
	Logger *slog.Logger
	// Registerer receives the Manager's Prometheus collectors, named as
	// Scylla Manager names them (scylla_manager_*), plus the store's, which
	// Scylla Manager does not have: when Registerer is set, the Manager
	// wraps its store with storemetrics.Wrap, adding
	// scyllaops_store_requests_total{op,result} and
	// scyllaops_store_request_duration_seconds{op} (see package
	// storemetrics). One Manager per Registerer; give Managers sharing a
	// registry their own prometheus.WrapRegistererWith. Default:
	// collectors are created but not registered, and the store is not
	// wrapped.
	Registerer prometheus.Registerer
	// ServerVersion is the version exported as
	// scylla_manager_server_current_version{version} (value 1), as Scylla
	// Manager exports its own. Default: "Snapshot".
	ServerVersion string
	// OwnerID names this Manager in leases and runs; it must be unique
	// among Managers sharing a store. Default: "<hostname>-<pid>-<random>".
	OwnerID string
	// AgentPort is the default agent port of clusters created without one.
	// Default: 10001.
	AgentPort int
	// LeaseTTL is how long a run's lease lasts without renewal; a crashed
	// Manager's runs are taken over after it. It is also the default of
	// Backup.LeaseTTL (the per-cluster upload lease). Default: 30s.
	LeaseTTL time.Duration
	// SyncInterval is how often the scheduler reloads tasks, runs and
	// suspensions from the store, so changes made through other Managers
	// on the same store show up here; a crashed Manager's runs are taken
	// over after about LeaseTTL + SyncInterval. Default: 10s.
	SyncInterval time.Duration
	// MaxRuns caps concurrent runs in this Manager; more wait. Default: 32.
	MaxRuns int
	// MaxRunsPerCluster caps concurrent runs per cluster in this Manager;
	// more wait. Default: 4.
	MaxRunsPerCluster int
	// EventTTL is how long events are kept. Default: 30 days.
	EventTTL time.Duration
	// SkipConnectivityCheck skips the agent check when a cluster is added
	// or its host, port or token change. Default: false (check).
	SkipConnectivityCheck bool
	// ConnectTimeout bounds the connectivity check and the CQL schema
	// dump. Default: 30s.
	ConnectTimeout time.Duration
	// CQLDial opens the CQL connections of the backup's schema dump (and
	// is the default dialer of the health checks' CQL and Alternator
	// pings). Default: net.Dialer. Tests pass a simulated cluster's dialer.
	CQLDial func(ctx context.Context, network, addr string) (net.Conn, error)
	// DisableScheduler makes a Manager that serves calls but runs no
	// tasks (the "api" role of a server): Run does not start the
	// scheduler, and StartTask stores a start request that a Manager with
	// the scheduler on the same store runs at its next sync (within its
	// SyncInterval). Use it with a store shared by other Managers (the CQL
	// store). Default: false (this Manager runs tasks).
	DisableScheduler bool
	// Healthcheck tunes the health-check service (timeouts, node_info
	// TTL). Logger and Registerer default to the Manager's.
	Healthcheck healthcheck.Options
	// AgentTLS says how agents' TLS certificates are verified when the
	// Manager reaches them over TCP (New with a nil transport). Default:
	// each agent's public key pinned at first contact (see
	// AgentTLSOptions).
	AgentTLS AgentTLSOptions
	// SecretsKeyFile and SecretsKeyEnv name where the keys sealing the
	// secret drawer (agent auth token, CQL and Alternator credentials,
	// TLS identity) are: a file, or else an environment variable, holding
	// base64 32-byte keys, the current one first (see package
	// store/sealed). Secrets are then stored encrypted with AES-256-GCM on
	// every store driver. Both empty: stored in plaintext, with a warning
	// at New. Every Manager sharing a store needs the same keys.
	SecretsKeyFile string
	SecretsKeyEnv  string
	// Backup tunes the backup service (age_max, long-poll, leases).
	// Logger and Registerer default to the Manager's.
	Backup backup.Options
	// Repair tunes the repair service (graceful stop, job timeout,
	// back-pressure). Logger and Registerer default to the Manager's.
	Repair repair.Options
	// Discovery tunes topology discovery (RefreshTopology and the
	// periodic refresh): the timeout per contact host, the hedge delay
	// and how many contacts are asked (default: all known hosts).
	Discovery topology.HedgeOptions
	// TopologyRefresh is how often every cluster's topology is discovered
	// again while Run runs (changes become events, known hosts follow).
	// Default: 5m; < 0: never (RefreshTopology still works).
	TopologyRefresh time.Duration
	// Restore tunes the restore service. Logger and Registerer default to
	// the Manager's; CQL to the cluster's nodes with its credentials.
	Restore restore.Options
}

// Defaults of Options.
const (
	DefaultAgentPort         = 10001
	DefaultLeaseTTL          = 30 * time.Second
	DefaultMaxRuns           = 32
	DefaultMaxRunsPerCluster = 4
	DefaultEventTTL          = 30 * 24 * time.Hour
	DefaultTopologyRefresh   = 5 * time.Minute
	DefaultConnectTimeout    = 30 * time.Second
)

// Validate reports the first invalid field. Zero values are valid (they
// mean "default").
func (o Options) Validate() error {
	switch {
	case o.AgentPort < 0 || o.AgentPort > 65535:
		return store.Invalid("options.agent_port", "a TCP port 1-65535 (0 = 10001)", fmt.Sprint(o.AgentPort))
	case o.LeaseTTL < 0:
		return store.Invalid("options.lease_ttl", "a duration >= 0, e.g. 30s (0 = default)", o.LeaseTTL.String())
	case o.LeaseTTL > 0 && o.LeaseTTL < 100*time.Millisecond:
		return store.Invalid("options.lease_ttl", "at least 100ms, e.g. 30s", o.LeaseTTL.String())
	case o.SyncInterval < 0:
		return store.Invalid("options.sync_interval", "a duration >= 0, e.g. 10s (0 = default)", o.SyncInterval.String())
	case o.SyncInterval > 0 && o.SyncInterval < 100*time.Millisecond:
		return store.Invalid("options.sync_interval", "at least 100ms, e.g. 10s", o.SyncInterval.String())
	case o.MaxRuns < 0:
		return store.Invalid("options.max_runs", "a count >= 0 (0 = 32)", fmt.Sprint(o.MaxRuns))
	case o.MaxRunsPerCluster < 0:
		return store.Invalid("options.max_runs_per_cluster", "a count >= 0 (0 = 4)", fmt.Sprint(o.MaxRunsPerCluster))
	case o.EventTTL < 0:
		return store.Invalid("options.event_ttl", "a duration >= 0, e.g. 720h (0 = default)", o.EventTTL.String())
	case o.ConnectTimeout < 0:
		return store.Invalid("options.connect_timeout", "a duration >= 0, e.g. 30s (0 = default)", o.ConnectTimeout.String())
	}
	if err := o.AgentTLS.validate(); err != nil {
		return err
	}
	if err := o.Healthcheck.Validate(); err != nil {
		return fmt.Errorf("options.healthcheck: %w", err)
	}
	if err := o.Repair.Validate(); err != nil {
		return fmt.Errorf("options.repair: %w", err)
	}
	if err := o.Backup.Validate(); err != nil {
		return fmt.Errorf("options.backup: %w", err)
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.OwnerID == "" {
		h, _ := os.Hostname()
		o.OwnerID = fmt.Sprintf("%s-%d-%s", h, os.Getpid(), uuid.NewString()[:8])
	}
	if o.ServerVersion == "" {
		o.ServerVersion = DefaultServerVersion
	}
	if o.AgentPort == 0 {
		o.AgentPort = DefaultAgentPort
	}
	if o.LeaseTTL == 0 {
		o.LeaseTTL = DefaultLeaseTTL
	}
	if o.MaxRuns == 0 {
		o.MaxRuns = DefaultMaxRuns
	}
	if o.MaxRunsPerCluster == 0 {
		o.MaxRunsPerCluster = DefaultMaxRunsPerCluster
	}
	if o.TopologyRefresh == 0 {
		o.TopologyRefresh = DefaultTopologyRefresh
	}
	if o.Discovery.MaxContacts == 0 {
		o.Discovery.MaxContacts = -1
	}
	if o.EventTTL == 0 {
		o.EventTTL = DefaultEventTTL
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.CQLDial == nil {
		var d net.Dialer
		o.CQLDial = d.DialContext
	}
	if o.Healthcheck.Dialer == nil {
		o.Healthcheck.Dialer = o.CQLDial
	}
	return o
}

// AgentTLSOptions say how the Manager verifies the agents' TLS
// certificates when it reaches them over TCP (New with a nil transport).
//
// By default nothing needs setting up: each agent's public key is pinned
// when the Manager first talks to it (at cluster add for every node that
// answers, later for new nodes), trust on first use as SSH does; a
// different key later is refused with an error naming the node and both
// fingerprints, before the auth token is sent. After replacing a node's
// key on purpose, accept it with UpdateCluster and
// Cluster.AcceptNewAgentKeys.
type AgentTLSOptions struct {
	// CAFile is a PEM file of the CA certificates that sign the agents'
	// certificates, for fleets with their own PKI: each agent's chain and
	// name (the node's IP must be in its SANs) are verified, and keys are
	// not pinned.
	CAFile string
	// InsecureSkipVerify accepts any agent certificate: anyone answering
	// at a node's address receives the auth token. Only when asked; New
	// logs a warning.
	InsecureSkipVerify bool
}

func (o AgentTLSOptions) validate() error {
	if o.CAFile != "" && o.InsecureSkipVerify {
		return store.Invalid("options.agent_tls", "ca_file or insecure_skip_verify, not both", "")
	}
	return nil
}

// loadCAs reads the CA file of o (nil pool when none is set).
func (o AgentTLSOptions) loadCAs() (*x509.CertPool, error) {
	if o.CAFile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(o.CAFile)
	if err != nil {
		return nil, store.Invalid("options.agent_tls.ca_file", "a readable PEM file of CA certificates ("+err.Error()+")", o.CAFile)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, store.Invalid("options.agent_tls.ca_file", "a PEM file holding at least one CERTIFICATE block", o.CAFile)
	}
	return pool, nil
}
