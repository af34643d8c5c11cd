package repair

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/store"
)

// TaskType is the task type of repairs.
const TaskType = "repair"

// ClusterResolver gives the service access to a cluster's nodes. The
// Manager implements it.
type ClusterResolver interface {
	// Client returns the agent client of the cluster and a contact host.
	// store.ErrNotFound (wrapped) if the cluster does not exist.
	Client(ctx context.Context, clusterID uuid.UUID) (*agentclient.Client, string, error)
}

// Store is what the service persists: runs (read only, to find the run to
// continue) and progress rows.
type Store interface {
	store.RunStore
	store.ProgressStore
}

// Defaults of Options.
const (
	DefaultGracefulStopTimeout = 30 * time.Second
	DefaultMinJobTimeout       = 10 * time.Minute
	DefaultJobTimeoutFactor    = 10
	DefaultJobRetries          = 2
	DefaultPendingCompactions  = 100
	DefaultBackPressureCheck   = 5 * time.Second
	DefaultDownWait            = time.Minute
	DefaultRunsToScan          = 20
	maxBatchRanges             = 1000
)

// Options tune a Service. The zero value is valid.
type Options struct {
	// Logger receives the service's logs. Default: discard.
	Logger *slog.Logger
	// Registerer receives the scylla_manager_repair_* metrics. nil = none.
	Registerer prometheus.Registerer
	// GracefulStopTimeout is how long running jobs may finish after a
	// stop, window end or suspension before they are aborted on the
	// nodes. Default: 30s.
	GracefulStopTimeout time.Duration
	// JobTimeout, when > 0, is the fixed timeout of every call of a job.
	// Default 0: derived per call as JobTimeoutFactor × (the call's range
	// waves) × the longest time per range measured so far in the run, at
	// least MinJobTimeout. A call that times out is aborted on its
	// coordinator (with the other calls of its job, which are requeued)
	// and retried up to JobRetries times.
	JobTimeout time.Duration
	// MinJobTimeout bounds the derived timeout from below. Default: 10m.
	MinJobTimeout time.Duration
	// JobTimeoutFactor scales the measured time per range. Default: 10.
	JobTimeoutFactor float64
	// JobRetries is how often a timed-out call is retried. Default: 2.
	JobRetries int
	// PendingCompactions is the pending-compaction count above which a
	// node gets no new job (back-pressure). Default: 100; < 0 disables.
	PendingCompactions int
	// BackPressureCheck is how often the signals of a held node are read
	// again. Default: 5s.
	BackPressureCheck time.Duration
	// DownWait is how long a node whose ping fails is waited for before
	// its remaining ranges fail. Default: 1m.
	DownWait time.Duration
	// NoBatching makes every job one call of at most intensity ranges
	// (Scylla Manager's behavior after a failed run), with no filling of
	// its slots from other tables; default: batching and filling on.
	NoBatching bool
	// ShareSlots lets a node take part in several jobs at once as long as
	// the ranges they repair at once on it (their ranges_parallelism)
	// stay within its max intensity, and sizes jobs (one call each) in
	// whole waves; a job's intensity is then what every one of its hosts
	// has free, and parallel bounds the sum of the running jobs'
	// intensities to parallel × the plan's max intensity. It departs from
	// Scylla Manager's controller rule (a node in one job at a time),
	// which the default keeps while filling each job's slots across
	// tables (package doc). Default: false (the rule).
	ShareSlots bool
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

// Validate reports bad options.
func (o Options) Validate() error {
	switch {
	case o.GracefulStopTimeout < 0:
		return store.Invalid("repair.graceful_stop_timeout", "a duration >= 0", o.GracefulStopTimeout.String())
	case o.JobTimeout < 0:
		return store.Invalid("repair.job_timeout", "a duration >= 0 (0 = derived)", o.JobTimeout.String())
	case o.MinJobTimeout < 0:
		return store.Invalid("repair.min_job_timeout", "a duration >= 0", o.MinJobTimeout.String())
	case o.JobTimeoutFactor < 0:
		return store.Invalid("repair.job_timeout_factor", "a number >= 0", fmt.Sprint(o.JobTimeoutFactor))
	case o.JobRetries < 0:
		return store.Invalid("repair.job_retries", "an integer >= 0", fmt.Sprint(o.JobRetries))
	case o.BackPressureCheck < 0 || o.DownWait < 0:
		return store.Invalid("repair.back_pressure_check", "durations >= 0", "")
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.GracefulStopTimeout == 0 {
		o.GracefulStopTimeout = DefaultGracefulStopTimeout
	}
	if o.MinJobTimeout == 0 {
		o.MinJobTimeout = DefaultMinJobTimeout
	}
	if o.JobTimeoutFactor == 0 {
		o.JobTimeoutFactor = DefaultJobTimeoutFactor
	}
	if o.JobRetries == 0 {
		o.JobRetries = DefaultJobRetries
	}
	if o.PendingCompactions == 0 {
		o.PendingCompactions = DefaultPendingCompactions
	}
	if o.BackPressureCheck == 0 {
		o.BackPressureCheck = DefaultBackPressureCheck
	}
	if o.DownWait == 0 {
		o.DownWait = DefaultDownWait
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Service runs repairs. It implements scheduler.Runner,
// scheduler.ProgressReader and scheduler.PropertiesValidator.
type Service struct {
	st      Store
	cluster ClusterResolver
	opts    Options
	log     *slog.Logger
	metrics *metrics

	mu      sync.Mutex
	running map[uuid.UUID]*executor // by cluster
}

// New returns a Service.
func New(st Store, cluster ClusterResolver, opts Options) (*Service, error) {
	if st == nil || cluster == nil {
		return nil, store.Invalid("repair.New", "a non-nil store and cluster resolver", "")
	}
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("repair: %w", err)
	}
	opts = opts.withDefaults()
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("repair: %w", err)
	}
	return &Service{st: st, cluster: cluster, opts: opts, log: opts.Logger.With("component", "repair"), metrics: m, running: map[uuid.UUID]*executor{}}, nil
}

// ValidateProperties implements scheduler.PropertiesValidator.
func (s *Service) ValidateProperties(properties json.RawMessage) error {
	_, err := ParseProperties(properties)
	return err
}

// ValidateTarget checks properties against the cluster: unknown keyspace,
// dc or host, and a target touching no table without allow_empty, are
// errors matching store.ErrInvalid.
//
// Properties without keyspace, dc or host filters are only parsed: they
// name nothing the cluster could lack, so the cluster is not contacted
// (the weekly repair added with a cluster).
func (s *Service) ValidateTarget(ctx context.Context, clusterID uuid.UUID, properties json.RawMessage) error {
	p, err := ParseProperties(properties)
	if err != nil {
		return err
	}
	if len(p.Keyspace) == 0 && len(p.DC) == 0 && p.Host == "" {
		return nil
	}
	_, err = s.GetTarget(ctx, clusterID, properties)
	return err
}

// ErrNotRunning is returned by SetIntensity and SetParallel when the
// cluster has no running repair.
var ErrNotRunning = errors.New("repair: no repair is running on the cluster")

// SetIntensity changes the intensity of the cluster's running repair; it
// applies to the jobs started from now on and is not persisted.
func (s *Service) SetIntensity(_ context.Context, clusterID uuid.UUID, intensity float64) error {
	if intensity < 0 {
		return store.Invalid("intensity", "a number >= 0 (0 = max)", fmt.Sprint(intensity))
	}
	e := s.runningExec(clusterID)
	if e == nil {
		return fmt.Errorf("%w: cluster %s", ErrNotRunning, clusterID)
	}
	e.setIntensity(intensity)
	return nil
}

// SetParallel changes the parallel of the cluster's running repair; it
// applies to the jobs started from now on and is not persisted.
func (s *Service) SetParallel(_ context.Context, clusterID uuid.UUID, parallel int) error {
	if parallel < 0 {
		return store.Invalid("parallel", "an integer >= 0 (0 = max)", fmt.Sprint(parallel))
	}
	e := s.runningExec(clusterID)
	if e == nil {
		return fmt.Errorf("%w: cluster %s", ErrNotRunning, clusterID)
	}
	e.setParallel(parallel)
	return nil
}

func (s *Service) runningExec(clusterID uuid.UUID) *executor {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running[clusterID]
}

// TargetInfo is the dry-run answer (Scylla Manager's RepairTarget).
type TargetInfo struct {
	ClusterID   uuid.UUID `json:"cluster_id"`
	Host        string    `json:"host,omitempty"`
	IgnoreHosts []string  `json:"ignore_hosts,omitempty"`
	DC          []string  `json:"dc"`
	WithHosts   []string  `json:"with_hosts,omitempty"`
	TokenRanges string    `json:"token_ranges"`
	Units       []Unit    `json:"units"`
	// Plan is the full plan (not part of Scylla Manager's answer).
	Plan *Plan `json:"-"`
}

// Unit is a keyspace and its tables in a target.
type Unit struct {
	Keyspace  string   `json:"keyspace"`
	Tables    []string `json:"tables,omitempty"`
	AllTables bool     `json:"all_tables"`
}

// GetTarget plans properties on the cluster without running anything.
func (s *Service) GetTarget(ctx context.Context, clusterID uuid.UUID, properties json.RawMessage) (*TargetInfo, error) {
	p, err := ParseProperties(properties)
	if err != nil {
		return nil, err
	}
	plan, err := s.plan(ctx, clusterID, p)
	if err != nil {
		return nil, err
	}
	return targetInfo(clusterID, plan), nil
}

func targetInfo(clusterID uuid.UUID, plan *Plan) *TargetInfo {
	t := &TargetInfo{ClusterID: clusterID, Host: plan.Host, IgnoreHosts: plan.IgnoreHosts, DC: plan.DCs, WithHosts: plan.Hosts, TokenRanges: "all", Units: []Unit{}, Plan: plan}
	if plan.Host != "" {
		t.TokenRanges = "pr"
	}
	for _, k := range plan.Keyspaces {
		u := Unit{Keyspace: k.Keyspace, AllTables: k.AllTables}
		for _, tb := range k.Tables {
			u.Tables = append(u.Tables, tb.Table)
		}
		t.Units = append(t.Units, u)
	}
	return t
}

// plan discovers the cluster and plans p on it.
func (s *Service) plan(ctx context.Context, clusterID uuid.UUID, p Properties) (*Plan, error) {
	client, contact, err := s.cluster.Client(ctx, clusterID)
	if err != nil {
		return nil, err
	}
	v, err := s.view(ctx, clusterID, client, contact)
	if err != nil {
		return nil, err
	}
	if vl, ok := s.cluster.(ViewLister); ok {
		views, err := vl.Views(ctx, clusterID)
		if err != nil {
			// As Scylla Manager without CQL credentials: views are then
			// planned as tables (by size, not after their base tables).
			s.log.Warn("repair: cannot list the views (CQL); they are ordered as tables", "cluster", clusterID, "err", err)
		}
		MarkViews(v, views)
	}
	plan, err := MakePlan(v, p.Target())
	if err != nil {
		if errors.Is(err, ErrEmpty) {
			return nil, store.Invalid("keyspace", "globs matching at least one table with replicas in the repaired DCs, or allow_empty", fmt.Sprint(p.Keyspace))
		}
		if errors.Is(err, store.ErrInvalid) {
			return nil, err
		}
		return nil, fmt.Errorf("repair: plan: %w", err)
	}
	return plan, nil
}
