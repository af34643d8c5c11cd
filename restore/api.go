package restore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/datastax/go-cassandra-native-protocol/primitive"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/internal/cqlconn"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/topology"
)

// Task types of the restore service's Runner.
const (
	// TaskType is the task type of restores.
	TaskType = "restore"
	// OneToOneTaskType is the task type of 1-1 restores (Scylla
	// Manager's 1_1_restore): restore properties with nodes_mapping.
	OneToOneTaskType = "1_1_restore"
)

// Clusters is what the restore service's call surface needs from the
// Manager: clusters by ID or name, their agents, their CQL credentials
// and a fresh topology view. *scyllaops.Manager's cluster access
// implements it.
type Clusters interface {
	// ResolveCluster returns the ID of the cluster with the given ID or
	// name (store.ErrNotFound wrapped if there is none).
	ResolveCluster(ctx context.Context, idOrName string) (uuid.UUID, error)
	// ClusterClient returns the cluster's agent client and its hosts,
	// the contact host first.
	ClusterClient(ctx context.Context, clusterID uuid.UUID) (*agentclient.Client, []string, error)
	// CQLCredentials returns the cluster's CQL username and password
	// ("" when none are set).
	CQLCredentials(ctx context.Context, clusterID uuid.UUID) (user, password string, err error)
	// Topology returns a view of the cluster discovered now (package
	// topology, hedged over the cluster's known hosts).
	Topology(ctx context.Context, clusterID uuid.UUID) (*topology.Cluster, error)
}

// Topologies is implemented by a ClusterResolver that keeps each
// cluster's topology view (the one NewAPI builds): the restore plans on
// the fresh view it returns instead of discovering the cluster from the
// resolver's contact host.
type Topologies interface {
	// Topology returns a view of the cluster discovered now.
	Topology(ctx context.Context, clusterID uuid.UUID) (*topology.Cluster, error)
}

// APIOptions tune NewAPI.
type APIOptions struct {
	// Logger and Registerer are the defaults of Service.Logger and
	// Service.Registerer.
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Service tunes the restore service. Service.CQL defaults to CQL
	// statements on the first node that answers, with the cluster's
	// credentials; Service.Repair is the REPAIR stage, which the Manager
	// wires to the repair service (services never import each other).
	Service Options
	// CQLDial opens the CQL connections of the default Service.CQL.
	// Required unless Service.CQL is set.
	CQLDial func(ctx context.Context, network, addr string) (net.Conn, error)
	// ConnectTimeout bounds one CQL connection attempt of the default
	// Service.CQL, and the agent call that picks a contact host. Default:
	// topology.DefaultContactTimeout.
	ConnectTimeout time.Duration
}

// API is the restore service's call surface for the Manager and the REST
// API: the Runner the scheduler registers for TaskType and
// OneToOneTaskType, the dry run (Target) and run progress. Build it with
// NewAPI; scyllaops.Manager.Restore returns the Manager's.
type API struct {
	svc      *Service
	clusters Clusters
	opts     APIOptions
}

// NewAPI builds the restore service over st and its call surface over
// clusters.
func NewAPI(st Store, clusters Clusters, opts APIOptions) (*API, error) {
	if clusters == nil {
		return nil, errors.New("restore: NewAPI: clusters are required")
	}
	opts.ConnectTimeout = cmp.Or(opts.ConnectTimeout, topology.DefaultContactTimeout)
	if opts.Service.Logger == nil {
		opts.Service.Logger = opts.Logger
	}
	if opts.Service.Registerer == nil {
		opts.Service.Registerer = opts.Registerer
	}
	a := &API{clusters: clusters, opts: opts}
	if opts.Service.CQL == nil {
		if opts.CQLDial == nil {
			return nil, errors.New("restore: NewAPI: APIOptions.CQLDial is required without Service.CQL")
		}
		opts.Service.CQL = cqlOverAgents{a}
	}
	svc, err := New(st, apiResolver{clusters, opts.ConnectTimeout}, opts.Service)
	if err != nil {
		return nil, err
	}
	a.svc = svc
	return a, nil
}

// Service returns the restore service.
func (a *API) Service() *Service { return a.svc }

// Target plans a restore task's properties on a cluster (by ID or name)
// without running it: Scylla Manager's dry run.
func (a *API) Target(ctx context.Context, idOrName string, properties json.RawMessage) (*Target, error) {
	id, err := a.clusters.ResolveCluster(ctx, idOrName)
	if err != nil {
		return nil, err
	}
	return a.svc.GetTarget(ctx, id, properties)
}

// RunProgress returns the progress of a restore run.
func (a *API) RunProgress(ctx context.Context, runID uuid.UUID) (*Progress, error) {
	return a.svc.RunProgress(ctx, runID)
}

// Runner returns the Runner the scheduler registers for TaskType and
// OneToOneTaskType (a 1-1 restore is a restore with nodes_mapping):
// properties validation, the dry run as the check at task creation, and
// progress.
func (a *API) Runner() *Runner { return &Runner{svc: a.svc} }

// Runner adapts the service to the scheduler (scheduler.Runner,
// PropertiesValidator, TargetValidator and ProgressReader, by shape:
// this package does not import the scheduler).
type Runner struct{ svc *Service }

// Run runs a restore.
func (r *Runner) Run(ctx context.Context, clusterID, taskID, runID uuid.UUID, properties json.RawMessage) error {
	return r.svc.Run(ctx, clusterID, taskID, runID, properties)
}

// ValidateProperties checks properties without side effects.
func (r *Runner) ValidateProperties(properties json.RawMessage) error {
	return r.svc.ValidateProperties(properties)
}

// ValidateTarget is the dry run, so a task that cannot run (unknown tag,
// location, keyspace or DC, missing tables) is refused before it is
// stored.
func (r *Runner) ValidateTarget(ctx context.Context, clusterID uuid.UUID, properties json.RawMessage) error {
	_, err := r.svc.GetTarget(ctx, clusterID, properties)
	if errors.Is(err, ErrIncompleteSnapshot) && !errors.Is(err, store.ErrInvalid) {
		// A snapshot that can never be restored is bad input for the
		// task (400), not a passing failure to reach the cluster.
		return fmt.Errorf("%w (%w)", err, store.ErrInvalid)
	}
	return err
}

// Progress returns a run's progress as JSON.
func (r *Runner) Progress(ctx context.Context, _, _, runID uuid.UUID) (json.RawMessage, error) {
	p, err := r.svc.RunProgress(ctx, runID)
	if err != nil {
		return nil, err
	}
	return json.Marshal(p)
}

// topology returns the cluster's topology: the resolver's fresh view
// when it keeps one (Topologies), else discovered from contact.
func (s *Service) topology(ctx context.Context, clusterID uuid.UUID, c *agentclient.Client, contact string) (*topology.Cluster, error) {
	if t, ok := s.cluster.(Topologies); ok {
		return t.Topology(ctx, clusterID)
	}
	return topology.Discover(ctx, c, contact)
}

// apiResolver is the service's ClusterResolver over Clusters: the
// contact is the first of the cluster's hosts whose agent answers
// (hedged), and the topology is the Manager's fresh view.
type apiResolver struct {
	c       Clusters
	timeout time.Duration
}

// Client implements ClusterResolver.
func (r apiResolver) Client(ctx context.Context, clusterID uuid.UUID) (*agentclient.Client, string, error) {
	c, hosts, err := r.c.ClusterClient(ctx, clusterID)
	if err != nil {
		return nil, "", err
	}
	contact, err := topology.FirstAnswering(ctx, c, hosts, topology.HedgeOptions{ContactTimeout: r.timeout, MaxContacts: -1})
	if err != nil {
		return nil, "", err
	}
	return c, contact, nil
}

// Topology implements Topologies.
func (r apiResolver) Topology(ctx context.Context, clusterID uuid.UUID) (*topology.Cluster, error) {
	return r.c.Topology(ctx, clusterID)
}

// cqlOverAgents is the default CQL: statements on the first node that
// answers, with the cluster's credentials, at the node's native
// transport address (its node_info).
type cqlOverAgents struct{ a *API }

// DescribeSchema implements CQL.
func (c cqlOverAgents) DescribeSchema(ctx context.Context, clusterID uuid.UUID) ([]SchemaRow, error) {
	rows, err := c.Query(ctx, clusterID, "DESCRIBE SCHEMA WITH INTERNALS")
	if err != nil {
		return nil, err
	}
	out := make([]SchemaRow, 0, len(rows))
	for _, r := range rows {
		if len(r) < 4 {
			return nil, fmt.Errorf("restore: DESCRIBE SCHEMA answered %d columns, want 4", len(r))
		}
		out = append(out, SchemaRow{Keyspace: r[0], Type: r[1], Name: r[2], CQLStmt: r[3]})
	}
	return out, nil
}

// Exec implements CQL.
func (c cqlOverAgents) Exec(ctx context.Context, clusterID uuid.UUID, stmt string) error {
	_, err := c.Query(ctx, clusterID, stmt)
	return err
}

// Query implements CQL.
func (c cqlOverAgents) Query(ctx context.Context, clusterID uuid.UUID, stmt string) ([][]string, error) {
	cl, hosts, err := c.a.clusters.ClusterClient(ctx, clusterID)
	if err != nil {
		return nil, err
	}
	user, pass, err := c.a.clusters.CQLCredentials(ctx, clusterID)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, h := range hosts {
		rows, err := c.queryOn(ctx, cl, h, user, pass, stmt)
		var se *cqlconn.ServerError
		switch {
		case err == nil:
			return rows, nil
		case errors.As(err, &se) && se.Code == primitive.ErrorCodeAlreadyExists:
			return nil, fmt.Errorf("restore: %s: %w", se.Msg, ErrAlreadyExists)
		case errors.As(err, &se):
			return nil, fmt.Errorf("restore: cql on %s: %w", h, err)
		}
		errs = append(errs, fmt.Errorf("%s: %w", h, err))
	}
	return nil, fmt.Errorf("restore: cql on cluster %s: no node answered: %w", clusterID, errors.Join(errs...))
}

func (c cqlOverAgents) queryOn(ctx context.Context, cl *agentclient.Client, host, user, pass, stmt string) ([][]string, error) {
	_, rows, err := cqlconn.QueryOn(ctx, c.a.opts.CQLDial, cl, host, user, pass, stmt, c.a.opts.ConnectTimeout)
	return rows, err
}

// RepairFunc is a Repairer as a function (the Manager wires the repair
// service's RepairTables through it).
type RepairFunc func(ctx context.Context, clusterID uuid.UUID, tables []string) error

// RepairTables implements Repairer.
func (f RepairFunc) RepairTables(ctx context.Context, clusterID uuid.UUID, tables []string) error {
	return f(ctx, clusterID, tables)
}
