package restore

import (
	"context"
	"encoding/json"
	"errors"
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

// CQL runs statements on a cluster with its credentials. The Manager
// implements it.
type CQL interface {
	// Exec runs one statement; an "already exists" answer is returned as
	// an error matching ErrAlreadyExists.
	Exec(ctx context.Context, clusterID uuid.UUID, stmt string) error
	// Query runs one statement and returns its rows, each column as the
	// raw bytes of its value.
	Query(ctx context.Context, clusterID uuid.UUID, stmt string) ([][]string, error)
	// DescribeSchema returns DESCRIBE SCHEMA WITH INTERNALS rows.
	DescribeSchema(ctx context.Context, clusterID uuid.UUID) ([]SchemaRow, error)
}

// ErrAlreadyExists is what CQL.Exec returns (wrapped) when a CREATE
// finds its object.
var ErrAlreadyExists = errors.New("restore: already exists")

// SchemaRow is one row of DESCRIBE SCHEMA WITH INTERNALS, as the backup
// stores it.
type SchemaRow struct {
	Keyspace string `json:"keyspace"`
	Type     string `json:"type"`
	Name     string `json:"name"`
	CQLStmt  string `json:"cql_stmt"`
}

// Repairer repairs the restored tables at the REPAIR stage. The Manager
// wires it to the repair service; nil = the stage is skipped with a
// warning.
type Repairer interface {
	// RepairTables runs a full repair of the tables ("ks.table") of the
	// cluster and returns when it has finished.
	RepairTables(ctx context.Context, clusterID uuid.UUID, tables []string) error
}

// Store is what the service persists: runs (read only, to find the run to
// resume) and progress rows.
type Store interface {
	store.RunStore
	store.ProgressStore
}

// Defaults of Options.
const (
	DefaultLongPoll    = 10 * time.Second
	DefaultDiskFreeMin = 10
	// DefaultViewBuildPoll is Options.ViewBuildPoll's default.
	DefaultViewBuildPoll = 5 * time.Second
)

// Options tune a Service. The zero value is valid.
type Options struct {
	// LongPoll is the wait of each job/progress call. Default: 10s.
	LongPoll time.Duration
	// ViewBuildPoll is the wait between two view build status calls
	// after a view is re-created. Default: 5s.
	ViewBuildPoll time.Duration
	// DiskSpaceFreeMinPercent: a host whose data: filesystem has less
	// free space (percent) gets no batch. Default: 10; negative = no check.
	DiskSpaceFreeMinPercent int
	// CQL runs the schema statements; nil = the schema stages fail with
	// an error naming it.
	CQL CQL
	// Repair is called at the REPAIR stage; nil = skipped with a warning.
	Repair Repairer
	// Now returns the current time. Default: time.Now.
	Now func() time.Time
	// Logger receives the service's logs. nil = discard.
	Logger *slog.Logger
	// Registerer registers the scylla_manager_restore_* metrics. nil =
	// not registered.
	Registerer prometheus.Registerer
}

// Validate reports the first invalid option.
func (o Options) Validate() error {
	if o.LongPoll < 0 {
		return errors.New("restore: invalid Options: LongPoll must be >= 0 (0 = default)")
	}
	if o.ViewBuildPoll < 0 {
		return errors.New("restore: invalid Options: ViewBuildPoll must be >= 0 (0 = default)")
	}
	if o.DiskSpaceFreeMinPercent > 100 {
		return errors.New("restore: invalid Options: DiskSpaceFreeMinPercent must be a percentage <= 100 (0 = default 10, negative = no check)")
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.LongPoll == 0 {
		o.LongPoll = DefaultLongPoll
	}
	if o.ViewBuildPoll == 0 {
		o.ViewBuildPoll = DefaultViewBuildPoll
	}
	if o.DiskSpaceFreeMinPercent == 0 {
		o.DiskSpaceFreeMinPercent = DefaultDiskFreeMin
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Service runs restores. Create it with New.
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
		return nil, errors.New("restore: New: store and cluster resolver are required")
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	return &Service{st: st, cluster: cluster, opts: opts, log: opts.Logger.With("component", "restore"), m: m}, nil
}

// ValidateProperties checks task properties without side effects.
func (s *Service) ValidateProperties(properties json.RawMessage) error {
	_, err := ParseProperties(properties)
	return err
}
