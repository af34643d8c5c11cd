package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/store"
)

// ClusterResolver gives the service access to a cluster's nodes. The
// Manager implements it.
type ClusterResolver interface {
	// Client returns the agent client of the cluster and a contact host
	// (a node address) from which the rest of the cluster is discovered.
	// store.ErrNotFound (wrapped) if the cluster does not exist.
	Client(ctx context.Context, clusterID uuid.UUID) (*agentclient.Client, string, error)
}

// SchemaDumper optionally provides the CQL schema of a cluster
// (DESCRIBE SCHEMA WITH INTERNALS rows), uploaded at the SCHEMA stage.
type SchemaDumper interface {
	DescribeSchema(ctx context.Context, clusterID uuid.UUID) ([]SchemaRow, error)
}

// SchemaRow is one row of DESCRIBE SCHEMA WITH INTERNALS.
type SchemaRow struct {
	Keyspace string `json:"keyspace"`
	Type     string `json:"type"`
	Name     string `json:"name"`
	CQLStmt  string `json:"cql_stmt"`
}

// Store is what the service persists: runs (read only, to find the run to
// resume), progress rows and leases.
type Store interface {
	store.RunStore
	store.ProgressStore
	store.LeaseStore
}

// Defaults of Options.
const (
	DefaultAgeMax       = 24 * time.Hour
	DefaultLongPoll     = 10 * time.Second
	DefaultLeaseTTL     = time.Minute
	DefaultLeaseWait    = time.Second
	DefaultManifestPar  = 12
	DefaultDeleteBatch  = 1000
	DefaultTempGrace    = 24 * time.Hour
	DefaultSampleFiles  = 16
	DefaultDiskFreeMin  = 10
	DefaultLeaseOwner   = "scyllaops"
	uploadLeasePrefix   = "backup-upload/"
	runRowKey           = "run"
	tableRowPrefix      = "table/"
	minLeaseRenewPeriod = 10 * time.Millisecond
)

// Options tune a Service. The zero value is valid.
type Options struct {
	// AgeMax is how old the snapshot of an unfinished run may be for a
	// new run to continue it. Default: 24h.
	AgeMax time.Duration
	// LongPoll is the wait of each job/progress call. Default: 10s.
	LongPoll time.Duration
	// LeaseOwner names this manager in the upload/purge lease.
	// Default: "scyllaops" (+ run ID).
	LeaseOwner string
	// LeaseTTL is the TTL of the upload/purge lease, renewed every
	// third of it. Default: 1m.
	LeaseTTL time.Duration
	// LeaseWait is the interval at which a held lease is retried.
	// Default: 1s.
	LeaseWait time.Duration
	// TempGrace protects unfinished backups from purge: a .tmp manifest
	// younger than this is kept. Default: 24h; negative = Scylla Manager's
	// rule (every .tmp manifest is stale).
	TempGrace time.Duration
	// DiskSpaceFreeMinPercent is the free space, in percent of its size,
	// that the data: filesystem of every node must have for a run to
	// take a snapshot (Scylla Manager's disk_space_free_min_percent): a
	// snapshot pins sstables, so on a nearly full disk compaction could
	// no longer free space. All nodes are checked at SNAPSHOT, after the
	// old sm_* snapshots are deleted and before any snapshot is taken:
	// one node below it fails the run with no snapshot on any node. A run
	// continuing an existing snapshot does not check. Default (0): 10;
	// negative: no check; at most 100.
	DiskSpaceFreeMinPercent int
	// Schema dumps the CQL schema at the SCHEMA stage. nil = no schema
	// file is written (the system_schema tables are still backed up).
	Schema SchemaDumper
	// Now returns the current time. Default: time.Now.
	Now func() time.Time
	// Logger receives the service's logs. nil = discard.
	Logger *slog.Logger
	// Registerer registers the scylla_manager_backup_* metrics. nil = not
	// registered.
	Registerer prometheus.Registerer
}

// Validate reports the first invalid option.
func (o Options) Validate() error {
	if o.AgeMax < 0 || o.LongPoll < 0 || o.LeaseTTL < 0 || o.LeaseWait < 0 {
		return errors.New("backup: invalid Options: durations must be >= 0 (0 = default)")
	}
	if o.DiskSpaceFreeMinPercent > 100 {
		return fmt.Errorf("backup: invalid Options: DiskSpaceFreeMinPercent %d: want a percentage <= 100 (0 = default %d, negative = no check)",
			o.DiskSpaceFreeMinPercent, DefaultDiskFreeMin)
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.AgeMax == 0 {
		o.AgeMax = DefaultAgeMax
	}
	if o.LongPoll == 0 {
		o.LongPoll = DefaultLongPoll
	}
	if o.LeaseOwner == "" {
		o.LeaseOwner = DefaultLeaseOwner
	}
	if o.LeaseTTL == 0 {
		o.LeaseTTL = DefaultLeaseTTL
	}
	if o.LeaseWait == 0 {
		o.LeaseWait = DefaultLeaseWait
	}
	if o.DiskSpaceFreeMinPercent == 0 {
		o.DiskSpaceFreeMinPercent = DefaultDiskFreeMin
	}
	if o.TempGrace == 0 {
		o.TempGrace = DefaultTempGrace
	}
	if o.TempGrace < 0 {
		o.TempGrace = 0
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Service runs backups. Create it with New.
type Service struct {
	st      Store
	cluster ClusterResolver
	opts    Options
	log     *slog.Logger
	m       *metrics
}

// New returns a Service.
func New(st Store, cluster ClusterResolver, opts Options) (*Service, error) {
	if st == nil || cluster == nil {
		return nil, errors.New("backup: New: store and cluster resolver are required")
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	return &Service{st: st, cluster: cluster, opts: opts, log: opts.Logger.With("component", "backup"), m: m}, nil
}

// ValidateProperties checks task properties without side effects.
func (s *Service) ValidateProperties(properties json.RawMessage) error {
	_, err := ParseProperties(properties)
	return err
}

func (s *Service) client(ctx context.Context, clusterID uuid.UUID) (*agentclient.Client, string, error) {
	c, host, err := s.cluster.Client(ctx, clusterID)
	if err != nil {
		return nil, "", fmt.Errorf("backup: cluster %s: %w", clusterID, err)
	}
	return c, host, nil
}
