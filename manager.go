package scyllaops

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/backup"
	"github.com/scyllaops/scyllaops/healthcheck"
	"github.com/scyllaops/scyllaops/repair"
	"github.com/scyllaops/scyllaops/scheduler"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/storemetrics"
	"github.com/scyllaops/scyllaops/topology"
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
	st        store.Store
	transport http.RoundTripper
	opts      Options
	log       *slog.Logger
	closed    atomic.Bool

	mu      sync.Mutex
	clients map[clientKey]*agentclient.Client

	sched  *scheduler.Scheduler // tasks.go, runs.go
	hooks  *webhooks            // webhook.go
	topo   *topology.Tracker    // topology.go: each cluster's last view and known hosts
	hc     *healthcheck.API     // Healthcheck(): the "healthcheck" runner and cluster status
	backup *backup.API          // Backup(): the "backup" and "validate_backup" runners and calls
	repair *repair.Service      // Repair(): the "repair" runner and calls (repair.go)
	// metrics: cluster names and server version (cluster_metrics.go)
	metrics *managerMetrics
}

type clientKey struct {
	port  int
	token string
}

// New returns a Manager over st that reaches agents through transport
// (nil: TCP+TLS to each node's agent). It starts nothing: call Run.
func New(st store.Store, transport http.RoundTripper, opts Options) (*Manager, error) {
	if st == nil {
		return nil, store.Invalid("store", "a non-nil store.Store, e.g. boltstore.Open(...)", "")
	}
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("scyllaops: %w", err)
	}
	opts = opts.withDefaults()
	if opts.Registerer != nil {
		// Count and time every store call (scyllaops_store_*); the
		// Manager and its services see only the wrapper.
		w, err := storemetrics.Wrap(st, opts.Registerer)
		if err != nil {
			return nil, fmt.Errorf("scyllaops: %w", err)
		}
		st = w
	}
	m := &Manager{
		st:        st,
		transport: transport,
		opts:      opts,
		log:       opts.Logger.With("component", "manager", "owner", opts.OwnerID),
		clients:   make(map[clientKey]*agentclient.Client),
		metrics:   newManagerMetrics(opts.Registerer, opts.ServerVersion),
	}
	m.hooks = newWebhooks(st, opts.Logger, opts.OwnerID)
	m.topo = topology.NewTracker(topologyStore{m}, opts.Discovery, m.log)
	sched, err := scheduler.New(st, scheduler.Options{
		OwnerID: opts.OwnerID, LeaseTTL: opts.LeaseTTL, SyncInterval: opts.SyncInterval, MaxRuns: opts.MaxRuns, MaxRunsPerCluster: opts.MaxRunsPerCluster,
		EventTTL: opts.EventTTL, OnRunEnd: m.hooks.enqueue, Logger: opts.Logger, Registerer: opts.Registerer,
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
		Service: hopts, Transport: transport, AgentPort: opts.AgentPort, Logger: opts.Logger,
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
	if err := m.newRepair(opts.Repair); err != nil {
		return nil, err
	}
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
	wg.Go(func() { m.hooks.run(ctx, schedDone) })
	wg.Go(func() { m.refreshTopologies(ctx) })
	err := m.sched.Run(ctx)
	close(schedDone)
	wg.Wait()
	m.hooks.client.HTTPClient.CloseIdleConnections()
	return err
}

// Close releases the Manager. It does not close the store, which the
// caller owns. It is idempotent; later calls of other methods return
// ErrClosed.
func (m *Manager) Close() error {
	m.closed.Store(true)
	return nil
}

// Store returns the store the Manager was created with, wrapped by
// storemetrics when Options.Registerer is set (calls through it are
// counted too; storemetrics.Store.Unwrap returns the original).
func (m *Manager) Store() store.Store { return m.st }

func (m *Manager) check(ctx context.Context) error {
	if m.closed.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

// agentClient returns the agent client of a cluster (one per agent port
// and auth token, shared).
func (m *Manager) agentClient(port int, token string) (*agentclient.Client, error) {
	k := clientKey{port: port, token: token}
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.clients[k]; ok {
		return c, nil
	}
	c, err := agentclient.New(m.transport, agentclient.Options{AuthToken: token, Port: port, Logger: m.opts.Logger})
	if err != nil {
		return nil, fmt.Errorf("scyllaops: agent client: %w", err)
	}
	m.clients[k] = c
	return c, nil
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
	cl, err := m.agentClient(c.Port, string(token))
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
