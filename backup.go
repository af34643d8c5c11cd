package scyllaops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/backup"
	"github.com/scyllaops/scyllaops/internal/cqlconn"
	"github.com/scyllaops/scyllaops/store"
)

// BackupTaskType is the task type of backups.
const BackupTaskType = "backup"

// ValidateBackupTaskType is the task type of backup validation (sctool
// backup validate).
const ValidateBackupTaskType = "validate_backup"

// newBackup builds the backup service and registers its Runner.
func (m *Manager) newBackup(opts backup.Options) error {
	if opts.Logger == nil {
		opts.Logger = m.opts.Logger
	}
	if opts.Registerer == nil {
		opts.Registerer = m.opts.Registerer
	}
	if opts.LeaseOwner == "" {
		opts.LeaseOwner = m.opts.OwnerID
	}
	if opts.LeaseTTL == 0 {
		// A crashed Manager's backup is taken over after its run lease
		// expires; its cluster upload lease must not outlast that.
		opts.LeaseTTL = m.opts.LeaseTTL
	}
	if opts.Schema == nil {
		opts.Schema = backupCluster{m}
	}
	svc, err := backup.New(m.st, backupCluster{m}, opts)
	if err != nil {
		return fmt.Errorf("scyllaops: %w", err)
	}
	m.backup = svc
	// Every run gets the cluster's retention map, so its purge applies
	// each other backup task's own policy to that task's snapshots.
	m.sched.Register(BackupTaskType, m.backupRunner(svc))
	// A validate_backup task without locations validates those of the
	// cluster's backup tasks.
	m.sched.Register(ValidateBackupTaskType, m.validateRunner(svc))
	return nil
}

// backupCluster gives the backup service the Manager's view of clusters.
type backupCluster struct{ m *Manager }

// Client implements backup.ClusterResolver.
func (b backupCluster) Client(ctx context.Context, clusterID uuid.UUID) (*agentclient.Client, string, error) {
	c, hosts, err := b.m.ClusterClient(ctx, clusterID)
	if err != nil {
		return nil, "", err
	}
	sc, err := b.m.st.GetCluster(ctx, clusterID)
	if err != nil {
		return nil, "", fmt.Errorf("scyllaops: cluster %s: %w", clusterID, err)
	}
	contact := sc.Host
	if contact == "" && len(hosts) > 0 {
		contact = hosts[0]
	}
	return c, contact, nil
}

// DescribeSchema implements backup.SchemaDumper: DESCRIBE SCHEMA WITH
// INTERNALS over CQL on the first node that answers. Without CQL
// credentials of the cluster it still tries (clusters without
// authentication answer); an authentication failure is an error naming
// the missing credentials.
func (b backupCluster) DescribeSchema(ctx context.Context, clusterID uuid.UUID) ([]backup.SchemaRow, error) {
	cl, hosts, err := b.m.ClusterClient(ctx, clusterID)
	if err != nil {
		return nil, err
	}
	user, pass, err := b.m.CQLCredentials(ctx, clusterID)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, h := range hosts {
		rows, err := b.describeOn(ctx, cl, h, user, pass)
		if err == nil {
			return rows, nil
		}
		if errors.Is(err, cqlconn.ErrUnauthorized) {
			return nil, fmt.Errorf("scyllaops: schema of cluster %s: set the cluster's CQL username and password: %w", clusterID, err)
		}
		errs = append(errs, fmt.Errorf("%s: %w", h, err))
	}
	return nil, fmt.Errorf("scyllaops: schema of cluster %s: no node answered: %w", clusterID, errors.Join(errs...))
}

func (b backupCluster) describeOn(ctx context.Context, cl *agentclient.Client, host, user, pass string) ([]backup.SchemaRow, error) {
	addr := net.JoinHostPort(host, "9042")
	if ni, err := cl.NodeInfo(ctx, host); err == nil {
		a := cmpOr(ni.BroadcastRPCAddress, ni.RPCAddress, ni.ListenAddress)
		if ip := net.ParseIP(a); ip == nil || ip.IsUnspecified() {
			a = host
		}
		port := ni.NativeTransportPort
		if port == "" || port == "0" {
			port = "9042"
		}
		addr = net.JoinHostPort(a, port)
	}
	ctx, cancel := context.WithTimeout(ctx, b.m.opts.ConnectTimeout)
	defer cancel()
	conn, err := cqlconn.Open(ctx, b.m.opts.CQLDial, addr, nil, user, pass)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	cols, rows, err := conn.Query("DESCRIBE SCHEMA WITH INTERNALS")
	if err != nil {
		return nil, err
	}
	if len(cols) < 4 {
		return nil, fmt.Errorf("DESCRIBE SCHEMA answered %d columns, want 4 (keyspace_name, type, name, create_statement)", len(cols))
	}
	out := make([]backup.SchemaRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, backup.SchemaRow{Keyspace: r[0], Type: r[1], Name: r[2], CQLStmt: r[3]})
	}
	return out, nil
}

func cmpOr(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// backupLocations returns locations, or when empty the union of the
// locations of the cluster's backup tasks (taskLocations). Scylla
// Manager's backups API takes enabled tasks only; disabled ones are
// included here because their snapshots are still in their buckets.
func (m *Manager) backupLocations(ctx context.Context, clusterID uuid.UUID, locations []string) ([]string, error) {
	if len(locations) > 0 {
		return locations, nil
	}
	out, err := m.taskLocations(ctx, clusterID)
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
func (m *Manager) taskLocations(ctx context.Context, clusterID uuid.UUID) ([]string, error) {
	tasks, err := m.st.ListTasks(ctx, clusterID)
	if err != nil {
		return nil, fmt.Errorf("scyllaops: locations of cluster %s's backup tasks: list tasks: %w", clusterID, err)
	}
	var out []string
	for _, t := range tasks {
		if t.Type != BackupTaskType || t.ClusterID != clusterID || t.Deleted {
			continue
		}
		p, err := backup.ParseProperties(t.Properties)
		if err != nil {
			m.log.WarnContext(ctx, "backup task properties do not parse: its locations are left out",
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

func (m *Manager) backupCall(ctx context.Context, idOrName string) (uuid.UUID, error) {
	if err := m.check(ctx); err != nil {
		return uuid.Nil, err
	}
	sc, err := m.resolveCluster(ctx, idOrName)
	if err != nil {
		return uuid.Nil, err
	}
	return sc.ID, nil
}

// BackupTarget is the dry run of a backup task: it validates the
// properties, checks every location from every node, and returns what a
// run would back up. Nothing is snapshotted or uploaded.
func (m *Manager) BackupTarget(ctx context.Context, idOrName string, properties json.RawMessage) (*backup.Target, error) {
	id, err := m.backupCall(ctx, idOrName)
	if err != nil {
		return nil, err
	}
	return m.backup.GetTarget(ctx, id, properties)
}

// ListBackups lists the snapshots in locations (empty: the locations of
// the cluster's backup tasks).
func (m *Manager) ListBackups(ctx context.Context, idOrName string, locations []string, f backup.ListFilter) ([]backup.ListItem, error) {
	id, err := m.backupCall(ctx, idOrName)
	if err != nil {
		return nil, err
	}
	if locations, err = m.backupLocations(ctx, id, locations); err != nil {
		return nil, err
	}
	return m.backup.List(ctx, id, locations, f)
}

// ListBackupFiles lists the files of the snapshots that match f.
func (m *Manager) ListBackupFiles(ctx context.Context, idOrName string, locations []string, f backup.ListFilter) ([]backup.FilesInfo, error) {
	id, err := m.backupCall(ctx, idOrName)
	if err != nil {
		return nil, err
	}
	if locations, err = m.backupLocations(ctx, id, locations); err != nil {
		return nil, err
	}
	return m.backup.ListFiles(ctx, id, locations, f)
}

// DeleteBackupSnapshots deletes snapshots by tag from locations with the
// purge rules: files a kept snapshot references stay.
func (m *Manager) DeleteBackupSnapshots(ctx context.Context, idOrName string, locations, tags []string) error {
	id, err := m.backupCall(ctx, idOrName)
	if err != nil {
		return err
	}
	if len(tags) == 0 {
		return store.Invalid("snapshot_tags", "one or more snapshot tags like \"sm_20250102030405UTC\"", "")
	}
	if locations, err = m.backupLocations(ctx, id, locations); err != nil {
		return err
	}
	return m.backup.DeleteSnapshot(ctx, id, locations, tags)
}

// ValidateBackup checks the backups in locations: files missing for a
// snapshot, orphaned files (optionally deleted), and a content check of a
// sample of files.
func (m *Manager) ValidateBackup(ctx context.Context, idOrName string, locations []string, o backup.ValidateOptions) ([]backup.ValidateReport, error) {
	id, err := m.backupCall(ctx, idOrName)
	if err != nil {
		return nil, err
	}
	if locations, err = m.backupLocations(ctx, id, locations); err != nil {
		return nil, err
	}
	return m.backup.Validate(ctx, id, locations, o)
}

// BackupProgress returns the typed progress of a backup run.
func (m *Manager) BackupProgress(ctx context.Context, clusterID, taskID, runID uuid.UUID) (*backup.RunProgress, error) {
	if err := m.check(ctx); err != nil {
		return nil, err
	}
	return m.backup.RunProgress(ctx, clusterID, taskID, runID)
}

// BackupSchema returns the CQL schema the backup of snapshot tag stored in
// location (taskID uuid.Nil: the task is found from the snapshot's
// manifests).
func (m *Manager) BackupSchema(ctx context.Context, idOrName, location, tag string, taskID uuid.UUID) ([]backup.SchemaRow, error) {
	id, err := m.backupCall(ctx, idOrName)
	if err != nil {
		return nil, err
	}
	return m.backup.Schema(ctx, id, location, tag, taskID)
}

// PurgeBackups applies the retention policy of a backup task now, outside
// a run (Scylla Manager's purge_only, as a direct call): stale snapshots of
// the task are deleted with the files no kept snapshot references.
// Snapshots of the cluster's other backup tasks follow their own task's
// policy, as in a run (the cluster's retention map, computed from the
// store): disabled tasks keep theirs, soft-deleted tasks with count retention keep
// snapshots max(retention_days, 30) days, and snapshots of tasks unknown
// to the store are kept 30 days.
func (m *Manager) PurgeBackups(ctx context.Context, idOrName string, taskID uuid.UUID) ([]backup.PurgeReport, error) {
	id, err := m.backupCall(ctx, idOrName)
	if err != nil {
		return nil, err
	}
	t, err := m.st.GetTask(ctx, id, taskID)
	if err != nil {
		return nil, fmt.Errorf("scyllaops: task %s: %w", taskID, err)
	}
	if t.Type != BackupTaskType {
		return nil, store.Invalid("task", "a backup task", t.Type+"/"+taskID.String())
	}
	props, err := m.withRetentionMap(ctx, id, t.Properties)
	if err != nil {
		return nil, err
	}
	return m.backup.Purge(ctx, id, taskID, props)
}
