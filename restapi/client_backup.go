package restapi

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ListBackupsOptions filters ListBackups and BackupFiles.
type ListBackupsOptions struct {
	// Locations to list; empty: the locations of the cluster's backup
	// tasks.
	Locations []string
	// QueryClusterID lists another cluster's backups in the bucket;
	// empty: all clusters for ListBackups, this cluster for files.
	QueryClusterID string
	// Keyspace is a list of glob patterns.
	Keyspace []string
	// MinDate and MaxDate bound the snapshot time.
	MinDate, MaxDate time.Time
	// SnapshotTag selects one snapshot.
	SnapshotTag string
}

func (o ListBackupsOptions) query() url.Values {
	q := url.Values{}
	if len(o.Locations) > 0 {
		q.Set("locations", strings.Join(o.Locations, ","))
	}
	if o.QueryClusterID != "" {
		q.Set("query_cluster_id", o.QueryClusterID)
	}
	if len(o.Keyspace) > 0 {
		q.Set("keyspace", strings.Join(o.Keyspace, ","))
	}
	if !o.MinDate.IsZero() {
		q.Set("min_date", o.MinDate.UTC().Format(time.RFC3339))
	}
	if !o.MaxDate.IsZero() {
		q.Set("max_date", o.MaxDate.UTC().Format(time.RFC3339))
	}
	if o.SnapshotTag != "" {
		q.Set("snapshot_tag", o.SnapshotTag)
	}
	return q
}

// ListBackups lists the backups in the locations.
func (c *Client) ListBackups(ctx context.Context, cluster string, o ListBackupsOptions) ([]BackupListItem, error) {
	var out []BackupListItem
	_, err := c.do(ctx, http.MethodGet, c.url(o.query(), "cluster", cluster, "backups"), nil, &out)
	return out, err
}

// BackupFiles lists the files of a snapshot (o.SnapshotTag is required).
func (c *Client) BackupFiles(ctx context.Context, cluster string, o ListBackupsOptions) ([]BackupFilesInfo, error) {
	var out []BackupFilesInfo
	_, err := c.do(ctx, http.MethodGet, c.url(o.query(), "cluster", cluster, "backups", "files"), nil, &out)
	return out, err
}

// BackupSchema returns the CQL schema saved with a snapshot.
func (c *Client) BackupSchema(ctx context.Context, cluster, location, snapshotTag string) (BackupDescribeSchema, error) {
	q := url.Values{"location": {location}, "snapshot_tag": {snapshotTag}}
	var out BackupDescribeSchema
	_, err := c.do(ctx, http.MethodGet, c.url(q, "cluster", cluster, "backups", "schema"), nil, &out)
	return out, err
}

// DeleteSnapshots deletes snapshots from the locations (empty: the
// locations of the cluster's backup tasks).
func (c *Client) DeleteSnapshots(ctx context.Context, cluster string, locations, tags []string) error {
	q := url.Values{"snapshot_tags": {strings.Join(tags, ",")}}
	if len(locations) > 0 {
		q.Set("locations", strings.Join(locations, ","))
	}
	_, err := c.do(ctx, http.MethodDelete, c.url(q, "cluster", cluster, "backups"), nil, nil)
	return err
}

// DeleteLocalSnapshots deletes every sm_* snapshot from the disks of the
// cluster's nodes (DELETE backups/local_snapshots).
func (c *Client) DeleteLocalSnapshots(ctx context.Context, cluster string) error {
	_, err := c.do(ctx, http.MethodDelete, c.url(nil, "cluster", cluster, "backups", "local_snapshots"), nil, nil)
	return err
}
