package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/internal/cqlconn"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/topology"
)

// Task types of the backup service's Runners.
const (
	// TaskType is the task type of backups.
	TaskType = "backup"
	// ValidateTaskType is the task type of backup validation (sctool
	// backup validate).
	ValidateTaskType = "validate_backup"
)

// Clusters is what the backup service's call surface needs from the
// Manager: clusters by ID or name, their agents, and their CQL
// credentials. *scyllaops.Manager implements it.
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
}

// TaskStore is the part of the store the call surface reads: the
// cluster's tasks (their locations and retention policies).
type TaskStore interface {
	GetTask(ctx context.Context, clusterID, taskID uuid.UUID) (*store.Task, error)
	ListTasks(ctx context.Context, clusterID uuid.UUID) ([]*store.Task, error)
}

// APIOptions tune NewAPI.
type APIOptions struct {
	// Service tunes the backup service.
	Service Options
	// CQLDial opens the CQL connections of the schema dump. Required.
	CQLDial func(ctx context.Context, network, addr string) (net.Conn, error)
	// ConnectTimeout bounds one CQL schema dump attempt. Required.
	ConnectTimeout time.Duration
	// Logger logs (Service.Logger defaults to it). Required.
	Logger *slog.Logger
}

// API is the backup service's call surface for the Manager and the REST
// API: the Runners the scheduler calls (with the cluster's retention map
// and validate locations injected) and the direct calls of sctool backup
// (target, list, files, schema, validate, delete, purge). Clusters are
// named by ID or name. Build it with NewAPI; scyllaops.Manager.Backup
// returns the Manager's.
type API struct {
	svc      *Service
	tasks    TaskStore
	clusters Clusters
	opts     APIOptions
	log      *slog.Logger
}

// NewAPI builds the backup service over st and its call surface over
// clusters. Service.Schema defaults to a CQL DESCRIBE SCHEMA on the first
// node that answers.
func NewAPI(st interface {
	Store
	TaskStore
}, clusters Clusters, opts APIOptions) (*API, error) {
	a := &API{tasks: st, clusters: clusters, opts: opts, log: opts.Logger}
	if a.log == nil {
		return nil, errors.New("backup: APIOptions.Logger is required")
	}
	if opts.Service.Logger == nil {
		opts.Service.Logger = opts.Logger
	}
	if opts.Service.Schema == nil {
		opts.Service.Schema = cqlSchema{a}
	}
	svc, err := New(st, clusterResolver{clusters, opts.ConnectTimeout}, opts.Service)
	if err != nil {
		return nil, err
	}
	a.svc = svc
	return a, nil
}

// Service returns the backup service.
func (a *API) Service() *Service { return a.svc }

// clusterResolver is the ClusterResolver over Clusters: the contact is
// the first of the cluster's hosts whose agent answers (hedged, package
// topology), so a dead first host does not stop the calls.
type clusterResolver struct {
	c       Clusters
	timeout time.Duration
}

// Client implements ClusterResolver.
func (r clusterResolver) Client(ctx context.Context, clusterID uuid.UUID) (*agentclient.Client, string, error) {
	c, hosts, err := r.c.ClusterClient(ctx, clusterID)
	if err != nil {
		return nil, "", err
	}
	contact, err := topology.FirstAnswering(ctx, c, hosts, topology.HedgeOptions{ContactTimeout: r.timeout, MaxContacts: -1})
	if err != nil {
		return nil, "", fmt.Errorf("backup: cluster %s: %w", clusterID, err)
	}
	return c, contact, nil
}

// cqlSchema is the default SchemaDumper: DESCRIBE SCHEMA WITH INTERNALS
// over CQL on the first node that answers. Without CQL credentials of the
// cluster it still tries (clusters without authentication answer); an
// authentication failure is an error naming the missing credentials.
type cqlSchema struct{ a *API }

// DescribeSchema implements SchemaDumper.
func (s cqlSchema) DescribeSchema(ctx context.Context, clusterID uuid.UUID) ([]SchemaRow, error) {
	cl, hosts, err := s.a.clusters.ClusterClient(ctx, clusterID)
	if err != nil {
		return nil, err
	}
	user, pass, err := s.a.clusters.CQLCredentials(ctx, clusterID)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, h := range hosts {
		rows, err := s.describeOn(ctx, cl, h, user, pass)
		if err == nil {
			return rows, nil
		}
		if errors.Is(err, cqlconn.ErrUnauthorized) {
			return nil, fmt.Errorf("backup: schema of cluster %s: set the cluster's CQL username and password: %w", clusterID, err)
		}
		errs = append(errs, fmt.Errorf("%s: %w", h, err))
	}
	return nil, fmt.Errorf("backup: schema of cluster %s: no node answered: %w", clusterID, errors.Join(errs...))
}

func (s cqlSchema) describeOn(ctx context.Context, cl *agentclient.Client, host, user, pass string) ([]SchemaRow, error) {
	cols, rows, err := cqlconn.QueryOn(ctx, s.a.opts.CQLDial, cl, host, user, pass, "DESCRIBE SCHEMA WITH INTERNALS", s.a.opts.ConnectTimeout)
	if err != nil {
		return nil, err
	}
	if len(cols) < 4 {
		return nil, fmt.Errorf("DESCRIBE SCHEMA answered %d columns, want 4 (keyspace_name, type, name, create_statement)", len(cols))
	}
	out := make([]SchemaRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, SchemaRow{Keyspace: r[0], Type: r[1], Name: r[2], CQLStmt: r[3]})
	}
	return out, nil
}

// locations returns locations, or when empty the union of the locations
// of the cluster's backup tasks (taskLocations). Scylla Manager's backups
// API takes enabled tasks only; disabled ones are included here because
// their snapshots are still in their buckets.
func (a *API) locations(ctx context.Context, clusterID uuid.UUID, locations []string) ([]string, error) {
	if len(locations) > 0 {
		return locations, nil
	}
	out, err := a.taskLocations(ctx, clusterID)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, store.Invalid("locations", "at least one location like \"s3:my-bucket\" (the cluster has no backup task to take them from)", "")
	}
	return out, nil
}

// taskLocations returns the union of the locations of the cluster's
// backup tasks, enabled or disabled (a disabled task's snapshots are
// still in its buckets), not deleted; first-seen order, no duplicates.
// A task whose properties do not parse is skipped with a warning.
func (a *API) taskLocations(ctx context.Context, clusterID uuid.UUID) ([]string, error) {
	tasks, err := a.tasks.ListTasks(ctx, clusterID)
	if err != nil {
		return nil, fmt.Errorf("backup: locations of cluster %s's backup tasks: list tasks: %w", clusterID, err)
	}
	var out []string
	for _, t := range tasks {
		if t.Type != TaskType || t.ClusterID != clusterID || t.Deleted {
			continue
		}
		p, err := ParseProperties(t.Properties)
		if err != nil {
			a.log.WarnContext(ctx, "backup task properties do not parse: its locations are left out",
				"cluster", clusterID, "task", t.ID, "err", err)
			continue
		}
		for _, l := range p.Location {
			if !slices.Contains(out, l) {
				out = append(out, l)
			}
		}
	}
	return out, nil
}

// Target is the dry run of a backup task: it validates the properties,
// checks every location from every node, and returns what a run would
// back up. Nothing is snapshotted or uploaded.
func (a *API) Target(ctx context.Context, idOrName string, properties json.RawMessage) (*Target, error) {
	id, err := a.clusters.ResolveCluster(ctx, idOrName)
	if err != nil {
		return nil, err
	}
	return a.svc.GetTarget(ctx, id, properties)
}

// List lists the snapshots in locations (empty: the locations of the
// cluster's backup tasks).
func (a *API) List(ctx context.Context, idOrName string, locations []string, f ListFilter) ([]ListItem, error) {
	id, err := a.clusters.ResolveCluster(ctx, idOrName)
	if err != nil {
		return nil, err
	}
	if locations, err = a.locations(ctx, id, locations); err != nil {
		return nil, err
	}
	return a.svc.List(ctx, id, locations, f)
}

// ListFiles lists the files of the snapshots that match f.
func (a *API) ListFiles(ctx context.Context, idOrName string, locations []string, f ListFilter) ([]FilesInfo, error) {
	id, err := a.clusters.ResolveCluster(ctx, idOrName)
	if err != nil {
		return nil, err
	}
	if locations, err = a.locations(ctx, id, locations); err != nil {
		return nil, err
	}
	return a.svc.ListFiles(ctx, id, locations, f)
}

// DeleteSnapshots deletes snapshots by tag from locations with the purge
// rules: files a kept snapshot references stay.
func (a *API) DeleteSnapshots(ctx context.Context, idOrName string, locations, tags []string) error {
	id, err := a.clusters.ResolveCluster(ctx, idOrName)
	if err != nil {
		return err
	}
	if len(tags) == 0 {
		return store.Invalid("snapshot_tags", "one or more snapshot tags like \"sm_20250102030405UTC\"", "")
	}
	if locations, err = a.locations(ctx, id, locations); err != nil {
		return err
	}
	return a.svc.DeleteSnapshot(ctx, id, locations, tags)
}

// Validate checks the backups in locations: files missing for a snapshot,
// orphaned files (optionally deleted), and a content check of a sample of
// files.
func (a *API) Validate(ctx context.Context, idOrName string, locations []string, o ValidateOptions) ([]ValidateReport, error) {
	id, err := a.clusters.ResolveCluster(ctx, idOrName)
	if err != nil {
		return nil, err
	}
	if locations, err = a.locations(ctx, id, locations); err != nil {
		return nil, err
	}
	return a.svc.Validate(ctx, id, locations, o)
}

// Progress returns the typed progress of a backup run.
func (a *API) Progress(ctx context.Context, clusterID, taskID, runID uuid.UUID) (*RunProgress, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return a.svc.RunProgress(ctx, clusterID, taskID, runID)
}

// Schema returns the CQL schema the backup of snapshot tag stored in
// location (taskID uuid.Nil: the task is found from the snapshot's
// manifests).
func (a *API) Schema(ctx context.Context, idOrName, location, tag string, taskID uuid.UUID) ([]SchemaRow, error) {
	id, err := a.clusters.ResolveCluster(ctx, idOrName)
	if err != nil {
		return nil, err
	}
	return a.svc.Schema(ctx, id, location, tag, taskID)
}

// Purge applies the retention policy of a backup task now, outside a run
// (Scylla Manager's purge_only, as a direct call): stale snapshots of the
// task are deleted with the files no kept snapshot references. Snapshots
// of the cluster's other backup tasks follow their own task's policy, as
// in a run (the cluster's retention map, computed from the store):
// disabled tasks keep theirs, soft-deleted tasks with count retention keep
// snapshots max(retention_days, 30) days, and snapshots of tasks unknown
// to the store are kept 30 days.
func (a *API) Purge(ctx context.Context, idOrName string, taskID uuid.UUID) ([]PurgeReport, error) {
	id, err := a.clusters.ResolveCluster(ctx, idOrName)
	if err != nil {
		return nil, err
	}
	t, err := a.tasks.GetTask(ctx, id, taskID)
	if err != nil {
		return nil, fmt.Errorf("backup: task %s: %w", taskID, err)
	}
	if t.Type != TaskType {
		return nil, store.Invalid("task", "a backup task", t.Type+"/"+taskID.String())
	}
	props, err := a.withRetentionMap(ctx, id, t.Properties)
	if err != nil {
		return nil, err
	}
	return a.svc.Purge(ctx, id, taskID, props)
}

// DeleteLocalSnapshots deletes every backup snapshot (tag
// sm_YYYYMMDDhhmmssUTC) from the disks of every node of the cluster
// (Scylla Manager's DELETE /cluster/{id}/backups/local_snapshots); other
// snapshots stay. It returns what it deleted per node (see
// Service.DeleteLocalSnapshots): nodes that answer are cleaned even when
// others fail, and the error names the failed nodes. The snapshot of a
// backup running now is deleted too, and that run fails.
func (a *API) DeleteLocalSnapshots(ctx context.Context, idOrName string) ([]NodeSnapshots, error) {
	id, err := a.clusters.ResolveCluster(ctx, idOrName)
	if err != nil {
		return nil, err
	}
	return a.svc.DeleteLocalSnapshots(ctx, id)
}
