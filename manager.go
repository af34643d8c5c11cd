package scyllaops

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/backup"
	"github.com/scyllaops/scyllaops/healthcheck"
	"github.com/scyllaops/scyllaops/internal/agents"
	"github.com/scyllaops/scyllaops/repair"
	"github.com/scyllaops/scyllaops/restore"
	"github.com/scyllaops/scyllaops/scheduler"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/sealed"
	"github.com/scyllaops/scyllaops/store/storemetrics"
	"github.com/scyllaops/scyllaops/topology"
	"github.com/scyllaops/scyllaops/webhook"
)

// ErrClosed is returned by every Manager method after Close.
var ErrClosed = errors.New("scyllaops: manager closed")

// ErrInvalid matches every bad-input error of the Manager (the concrete
// error is a *store.InvalidError naming the field and the accepted form).
var ErrInvalid = store.ErrInvalid

// ErrNotFound matches errors about an unknown cluster, task or run.
var ErrNotFound = store.ErrNotFound

// Manager automates operations of many ScyllaDB clusters: it keeps them in
// a store, talks to their nodes through agents, and runs scheduled tasks.
// Create it with New, start it with Run, release it with Close.
type Manager struct {
	st     store.Store
	opts   Options
	log    *slog.Logger
	closed atomic.Bool
	agents *agents.Pool  // agent clients and their TLS (pinned keys)
	sealed *sealed.Store // the secret drawer's encryption

	sched   *scheduler.Scheduler // tasks.go, runs.go
	hooks   *webhook.Sender      // run ends to the clusters' webhooks
	topo    *topology.Tracker    // topology.go: each cluster's last view and known hosts
	hc      *healthcheck.API     // Healthcheck(): the "healthcheck" runner and cluster status
	backup  *backup.API          // Backup(): the "backup" and "validate_backup" runners and calls
	repair  *repair.API          // Repair(): the "repair" runner and calls
	restore *restore.API         // Restore(): the "restore" and "1_1_restore" runners and calls
	// metrics: cluster names and server version
	metrics *managerMetrics
}

// New returns a Manager over st that reaches agents through transport
// (nil: TCP+TLS to each node's agent). It starts nothing: call Run.
func New(st store.Store, transport http.RoundTripper, opts Options) (*Manager, error) {
	if st == nil || isNilPointer(st) {
		// A typed nil too: the *boltstore.Store of a failed Open.
		return nil, store.Invalid("store", "a non-nil store.Store, e.g. the result of a successful boltstore.Open(...)", "")
	}
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("scyllaops: %w", err)
	}
	opts = opts.withDefaults()
	kr, err := sealed.LoadKeyring(opts.SecretsKeyFile, opts.SecretsKeyEnv)
	if err != nil {
		return nil, fmt.Errorf("scyllaops: options.secrets_key: %w", err)
	}
	if kr == nil {
		opts.Logger.Warn("secrets (agent auth token, CQL passwords) are stored in plaintext: set a secrets key file or env var (Options.SecretsKeyFile / SecretsKeyEnv, server secrets_key_file / secrets_key_env)")
	}
	sst := sealed.Wrap(st, kr)
	st = sst
	if opts.Registerer != nil {
		// Count and time every store call (scyllaops_store_*); the
		// Manager and its services see only the wrapper.
		w, err := storemetrics.Wrap(st, opts.Registerer)
		if err != nil {
			return nil, fmt.Errorf("scyllaops: %w", err)
		}
		st = w
	}
	rootCAs, err := opts.AgentTLS.loadCAs()
	if err != nil {
		return nil, fmt.Errorf("scyllaops: %w", err)
	}
	m := &Manager{
		st:      st,
		opts:    opts,
		log:     opts.Logger.With("component", "manager", "owner", opts.OwnerID),
		sealed:  sst,
		metrics: newManagerMetrics(opts.Registerer, opts.ServerVersion),
	}
	m.agents = agents.New(st, agents.Config{
		Transport: transport, InsecureSkipVerify: opts.AgentTLS.InsecureSkipVerify, RootCAs: rootCAs,
		ConnectTimeout: opts.ConnectTimeout, ClientLogger: opts.Logger, Logger: m.log,
	})
	if transport == nil && opts.AgentTLS.InsecureSkipVerify {
		m.log.Warn("agent TLS certificate verification is disabled (agent_tls insecure_skip_verify): anyone answering at a node's address receives the auth token")
	}
	m.hooks = webhook.New(st, opts.Logger, opts.OwnerID)
	m.topo = topology.NewTracker(topologyStore{m}, opts.Discovery, m.log)
	sched, err := scheduler.New(st, scheduler.Options{
		OwnerID: opts.OwnerID, LeaseTTL: opts.LeaseTTL, SyncInterval: opts.SyncInterval, MaxRuns: opts.MaxRuns, MaxRunsPerCluster: opts.MaxRunsPerCluster,
		EventTTL: opts.EventTTL, OnRunEnd: m.hooks.Enqueue, Logger: opts.Logger, Registerer: opts.Registerer,
	})
	if err != nil {
		return nil, fmt.Errorf("scyllaops: %w", err)
	}
	m.sched = sched
	// The services: each is one call of its package and one Register
	// line per task type.
	hopts := opts.Healthcheck
	if hopts.Registerer == nil {
		hopts.Registerer = opts.Registerer
	}
	if m.hc, err = healthcheck.NewAPI(clusterAccess{m}, healthcheck.APIOptions{
		Service: hopts, Logger: opts.Logger,
	}); err != nil {
		return nil, fmt.Errorf("scyllaops: %w", err)
	}
	sched.Register(healthcheck.TaskType, m.hc.Service())
	if m.backup, err = backup.NewAPI(st, clusterAccess{m}, backup.APIOptions{
		Service: m.backupOptions(opts.Backup), CQLDial: opts.CQLDial, ConnectTimeout: opts.ConnectTimeout, Logger: m.log,
	}); err != nil {
		return nil, fmt.Errorf("scyllaops: %w", err)
	}
	sched.Register(backup.TaskType, m.backup.Runner())
	sched.Register(backup.ValidateTaskType, m.backup.ValidateRunner())
	if m.repair, err = repair.NewAPI(st, clusterAccess{m}, repair.APIOptions{
		Service: opts.Repair, ContactTimeout: opts.ConnectTimeout, CQLDial: opts.CQLDial, Logger: opts.Logger, Registerer: opts.Registerer,
	}); err != nil {
		return nil, fmt.Errorf("scyllaops: %w", err)
	}
	sched.Register(repair.TaskType, m.repair.Service())
	if opts.Restore.Repair == nil {
		// The REPAIR stage of a restore is the repair service's: services
		// never import each other, the Manager links them.
		opts.Restore.Repair = restore.RepairFunc(func(ctx context.Context, clusterID uuid.UUID, tables []string) error {
			return m.repair.RepairTables(ctx, clusterID, tables, repair.TablesOptions{})
		})
	}
	if m.restore, err = restore.NewAPI(st, clusterAccess{m}, restore.APIOptions{
		Service: opts.Restore, CQLDial: opts.CQLDial, ConnectTimeout: opts.ConnectTimeout, Logger: opts.Logger, Registerer: opts.Registerer,
	}); err != nil {
		return nil, fmt.Errorf("scyllaops: %w", err)
	}
	sched.Register(restore.TaskType, m.restore.Runner())
	sched.Register(restore.OneToOneTaskType, m.restore.Runner())
	// Timed suspensions (sctool suspend --duration).
	sched.Register(scheduler.SuspendTaskType, sched.SuspendTaskRunner())
	return m, nil
}

// backupOptions fills the backup service's defaults from the Manager's
// options.
func (m *Manager) backupOptions(o backup.Options) backup.Options {
	o.Logger = cmp.Or(o.Logger, m.opts.Logger)
	if o.Registerer == nil {
		o.Registerer = m.opts.Registerer
	}
	o.LeaseOwner = cmp.Or(o.LeaseOwner, m.opts.OwnerID)
	// A crashed Manager's backup is taken over after its run lease
	// expires; its cluster upload lease must not outlast that.
	o.LeaseTTL = cmp.Or(o.LeaseTTL, m.opts.LeaseTTL)
	return o
}

// Backup returns the backup service's call surface: sctool backup's
// target, list, files, schema, validate, delete and purge, and the
// progress of backup runs.
func (m *Manager) Backup() *backup.API { return m.backup }

// Repair returns the repair service's call surface: the dry run
// (Target), live tuning of running repairs (SetIntensity, SetParallel)
// and ad-hoc repairs of tables (RepairTables, which restore ends with).
func (m *Manager) Repair() *repair.API { return m.repair }

// Restore returns the restore service's call surface: the dry run
// (Target) and run progress.
func (m *Manager) Restore() *restore.API { return m.restore }

// Healthcheck returns the health check's call surface: the on-demand
// cluster status (sctool status) and the service behind the scheduled
// health-check tasks.
func (m *Manager) Healthcheck() *healthcheck.API { return m.hc }

// Run runs the scheduler until ctx is done (with
// Options.DisableScheduler it only waits for ctx). It returns only after every
// goroutine it started has exited; the runs it was executing stay
// resumable (another Manager, or this one started again, resumes them).
func (m *Manager) Run(ctx context.Context) error {
	if m.closed.Load() {
		return ErrClosed
	}
	m.loadClusterNames(ctx)
	if m.opts.DisableScheduler {
		<-ctx.Done()
		return nil
	}
	var wg sync.WaitGroup
	schedDone := make(chan struct{})
	wg.Go(func() { m.hooks.Run(ctx, schedDone) })
	wg.Go(func() { m.refreshTopologies(ctx) })
	err := m.sched.Run(ctx)
	close(schedDone)
	wg.Wait()
	m.hooks.CloseIdleConnections()
	return err
}

func isNilPointer(v any) bool {
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}

// Close releases the Manager (the health check's kept CQL connections
// are closed). It does not close the store, which the caller owns. It is idempotent; later calls of other methods return
// ErrClosed.
func (m *Manager) Close() error {
	m.closed.Store(true)
	m.hc.Service().Close()
	return nil
}

// ResealSecrets seals every stored secret with the current secrets key:
// those stored in plaintext before a key was configured, and those sealed
// with an older key (rotation, see package store/sealed). It returns how
// many it rewrote; without a key it does nothing.
func (m *Manager) ResealSecrets(ctx context.Context) (int, error) {
	if err := m.check(ctx); err != nil {
		return 0, err
	}
	n, err := m.sealed.Reseal(ctx)
	if err != nil {
		return n, fmt.Errorf("scyllaops: %w", err)
	}
	if n > 0 {
		m.log.InfoContext(ctx, "secrets resealed with the current key", "count", n)
	}
	return n, nil
}

// Store returns the store the Manager was created with, its secret drawer
// sealed (package store/sealed) and, when Options.Registerer is set,
// wrapped by storemetrics (calls through it are counted too;
// storemetrics.Store.Unwrap returns the sealed store).
func (m *Manager) Store() store.Store { return m.st }

func (m *Manager) check(ctx context.Context) error {
	if m.closed.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

// ClusterClient returns the agent client and the hosts of a cluster: the
// host that answered its last discovery first, then its contact host and
// its known hosts.
// Services use it to reach the cluster's nodes.
func (m *Manager) ClusterClient(ctx context.Context, clusterID uuid.UUID) (*agentclient.Client, []string, error) {
	if err := m.check(ctx); err != nil {
		return nil, nil, err
	}
	c, err := m.st.GetCluster(ctx, clusterID)
	if err != nil {
		return nil, nil, fmt.Errorf("scyllaops: cluster %s: %w", clusterID, err)
	}
	token, err := m.secret(ctx, clusterID, store.SecretAuthToken)
	if err != nil {
		return nil, nil, err
	}
	cl, err := m.agents.Client(clusterID, c.Port, string(token), false)
	if err != nil {
		return nil, nil, err
	}
	hosts := contactHosts(c)
	if v, err := m.topo.View(ctx, clusterID); err == nil && v != nil {
		// The host that answered the last discovery first: the cluster's
		// first host may have died since it was added.
		hosts = topology.Contacts(append([]string{v.ContactHost}, hosts...)...)
	}
	return cl, hosts, nil
}

func (m *Manager) secret(ctx context.Context, clusterID uuid.UUID, key string) ([]byte, error) {
	v, err := m.st.GetSecret(ctx, clusterID, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("scyllaops: secret %s of cluster %s: %w", key, clusterID, err)
	}
	return v, nil
}

// DefaultServerVersion is the version scylla_manager_server_current_version
// reports when Options.ServerVersion is empty, as a Scylla Manager build
// without a version does.
const DefaultServerVersion = "Snapshot"

// managerMetrics are the Manager's own series of Scylla Manager's
// (reference §10): the cluster ID to name mapping and the server version.
type managerMetrics struct {
	clusterName *prometheus.GaugeVec
	version     *prometheus.GaugeVec
}

func newManagerMetrics(r prometheus.Registerer, version string) *managerMetrics {
	f := promauto.With(r)
	mm := &managerMetrics{
		clusterName: f.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "scylla_manager", Subsystem: "cluster", Name: "name",
			Help: "Mapping from cluster ID to name (the value is always 0).",
		}, []string{"cluster", "name"}),
		version: f.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "scylla_manager", Subsystem: "server", Name: "current_version",
			Help: "The version of the manager server, in the version label (the value is always 1).",
		}, []string{"version"}),
	}
	mm.version.WithLabelValues(version).Set(1)
	return mm
}

// setClusterName maps the cluster to its (new) name.
func (mm *managerMetrics) setClusterName(id uuid.UUID, name string) {
	mm.clusterName.DeletePartialMatch(prometheus.Labels{"cluster": id.String()})
	mm.clusterName.WithLabelValues(id.String(), name).Set(0)
}

// forgetCluster drops the mapping of a deleted cluster.
func (mm *managerMetrics) forgetCluster(id uuid.UUID) {
	mm.clusterName.DeletePartialMatch(prometheus.Labels{"cluster": id.String()})
}

// loadClusterNames maps every stored cluster (Run calls it at start, so
// a restarted manager exports the clusters it already has).
func (m *Manager) loadClusterNames(ctx context.Context) {
	cs, err := m.st.ListClusters(ctx)
	if err != nil {
		m.log.WarnContext(ctx, "cluster name metrics: list clusters", "err", err)
		return
	}
	for _, c := range cs {
		m.metrics.setClusterName(c.ID, c.Name)
	}
}
