package repair

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/internal/cqlconn"
	"github.com/scyllaops/scyllaops/topology"
)

// Clusters is what the repair service's call surface needs from the
// Manager: clusters by ID or name, their agents and a fresh topology
// view. *scyllaops.Manager's cluster access implements it.
type Clusters interface {
	// ResolveCluster returns the ID of the cluster with the given ID or
	// name (store.ErrNotFound wrapped if there is none).
	ResolveCluster(ctx context.Context, idOrName string) (uuid.UUID, error)
	// ClusterClient returns the cluster's agent client and its hosts,
	// the contact host first.
	ClusterClient(ctx context.Context, clusterID uuid.UUID) (*agentclient.Client, []string, error)
	// Topology returns a view of the cluster discovered now (package
	// topology, hedged over the cluster's known hosts).
	Topology(ctx context.Context, clusterID uuid.UUID) (*topology.Cluster, error)
}

// APIOptions tune NewAPI.
type APIOptions struct {
	// Logger and Registerer are the defaults of Service.Logger and
	// Service.Registerer.
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Service tunes the repair service.
	Service Options
	// ContactTimeout bounds the agent call that picks a contact host
	// among the cluster's hosts, and one CQL connection attempt. Default:
	// topology.DefaultContactTimeout.
	ContactTimeout time.Duration
	// CQLDial opens the CQL connections that list the cluster's views
	// (system_schema.views, with the cluster's CQL credentials when
	// Clusters has them) so that views are repaired after their base
	// tables. nil: views are planned as tables.
	CQLDial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// CQLCredentials is implemented by Clusters that keep the clusters' CQL
// credentials (the Manager's do); without it the views are listed
// without logging in.
type CQLCredentials interface {
	CQLCredentials(ctx context.Context, clusterID uuid.UUID) (user, password string, err error)
}

// API is the repair service's call surface for the Manager and the REST
// API: the Runner the scheduler registers for TaskType (the Service
// itself), the dry run (Target), live tuning of a running repair
// (SetIntensity, SetParallel) and ad-hoc repairs of tables
// (RepairTables, which restore ends with). Clusters are named by ID or
// name. Build it with NewAPI; scyllaops.Manager.Repair returns the
// Manager's.
type API struct {
	svc      *Service
	clusters Clusters
}

// NewAPI builds the repair service over st and its call surface over
// clusters: the service plans on clusters' fresh topology view
// (Topologies) and reaches the nodes through the first of the cluster's
// hosts whose agent answers.
func NewAPI(st Store, clusters Clusters, opts APIOptions) (*API, error) {
	if clusters == nil {
		return nil, fmt.Errorf("repair: NewAPI: clusters are required")
	}
	if opts.Service.Logger == nil {
		opts.Service.Logger = opts.Logger
	}
	if opts.Service.Registerer == nil {
		opts.Service.Registerer = opts.Registerer
	}
	svc, err := New(st, apiResolver{clusters, cmp.Or(opts.ContactTimeout, topology.DefaultContactTimeout), opts.CQLDial}, opts.Service)
	if err != nil {
		return nil, err
	}
	return &API{svc: svc, clusters: clusters}, nil
}

// Service returns the repair service (the Runner of TaskType).
func (a *API) Service() *Service { return a.svc }

// Target plans a repair task's properties on a cluster (by ID or name)
// without running it: Scylla Manager's dry run.
func (a *API) Target(ctx context.Context, idOrName string, properties json.RawMessage) (*TargetInfo, error) {
	id, err := a.clusters.ResolveCluster(ctx, idOrName)
	if err != nil {
		return nil, err
	}
	return a.svc.GetTarget(ctx, id, properties)
}

// SetIntensity changes the intensity of the cluster's running repair
// (not persisted; applies to the next jobs).
func (a *API) SetIntensity(ctx context.Context, idOrName string, intensity float64) error {
	id, err := a.clusters.ResolveCluster(ctx, idOrName)
	if err != nil {
		return err
	}
	return a.svc.SetIntensity(ctx, id, intensity)
}

// SetParallel changes the parallel of the cluster's running repair (not
// persisted; applies to the next jobs).
func (a *API) SetParallel(ctx context.Context, idOrName string, parallel int) error {
	id, err := a.clusters.ResolveCluster(ctx, idOrName)
	if err != nil {
		return err
	}
	return a.svc.SetParallel(ctx, id, parallel)
}

// RepairTables repairs tables ("ks" or "ks.table") of a cluster now,
// outside the scheduler and without persisted progress. The Manager
// wires it as restore's REPAIR stage (restore.Repairer).
func (a *API) RepairTables(ctx context.Context, clusterID uuid.UUID, keyspaceTables []string, o TablesOptions) error {
	return a.svc.Repair(ctx, clusterID, keyspaceTables, o)
}

// apiResolver is the service's ClusterResolver over Clusters: the
// contact is the first of the cluster's hosts whose agent answers
// (hedged), and the topology is the Manager's fresh view (Topologies).
type apiResolver struct {
	c       Clusters
	timeout time.Duration
	dial    func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Client implements ClusterResolver.
func (r apiResolver) Client(ctx context.Context, clusterID uuid.UUID) (*agentclient.Client, string, error) {
	c, hosts, err := r.c.ClusterClient(ctx, clusterID)
	if err != nil {
		return nil, "", err
	}
	contact, err := topology.FirstAnswering(ctx, c, hosts, topology.HedgeOptions{ContactTimeout: r.timeout, MaxContacts: -1})
	if err != nil {
		return nil, "", fmt.Errorf("repair: cluster %s: %w", clusterID, err)
	}
	return c, contact, nil
}

// Topology implements Topologies.
func (r apiResolver) Topology(ctx context.Context, clusterID uuid.UUID) (*topology.Cluster, error) {
	return r.c.Topology(ctx, clusterID)
}

// Views implements ViewLister: system_schema.views over CQL on the first
// of the cluster's hosts that answers, at the node's native transport
// address (its node_info). None without APIOptions.CQLDial.
func (r apiResolver) Views(ctx context.Context, clusterID uuid.UUID) ([]ViewInfo, error) {
	if r.dial == nil {
		return nil, nil
	}
	cl, hosts, err := r.c.ClusterClient(ctx, clusterID)
	if err != nil {
		return nil, err
	}
	var user, pass string
	if cc, ok := r.c.(CQLCredentials); ok {
		if user, pass, err = cc.CQLCredentials(ctx, clusterID); err != nil {
			return nil, err
		}
	}
	var errs []error
	for _, h := range hosts {
		rows, err := r.queryOn(ctx, cl, h, user, pass, ViewsQuery)
		var se *cqlconn.ServerError
		switch {
		case err == nil:
			out := make([]ViewInfo, 0, len(rows))
			for _, row := range rows {
				if len(row) < 3 {
					return nil, fmt.Errorf("repair: system_schema.views answered %d columns, want 3", len(row))
				}
				out = append(out, ViewInfo{Keyspace: row[0], View: row[1], BaseTable: row[2]})
			}
			return out, nil
		case errors.As(err, &se):
			return nil, fmt.Errorf("repair: cql on %s: %w", h, err)
		}
		errs = append(errs, fmt.Errorf("%s: %w", h, err))
	}
	return nil, fmt.Errorf("repair: cql on cluster %s: no node answered: %w", clusterID, errors.Join(errs...))
}

func (r apiResolver) queryOn(ctx context.Context, cl *agentclient.Client, host, user, pass, stmt string) ([][]string, error) {
	_, rows, err := cqlconn.QueryOn(ctx, r.dial, cl, host, user, pass, stmt, r.timeout)
	return rows, err
}
