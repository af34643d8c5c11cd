package restapi

import "time"

// BackupProgress is the progress of a backup run (swagger
// "BackupProgress"). Skipped counts bytes already present in the bucket
// (deduplicated).
type BackupProgress struct {
	SnapshotTag           string         `json:"snapshot_tag,omitempty"`
	DCs                   []string       `json:"dcs,omitempty"`
	Hosts                 []HostProgress `json:"hosts,omitempty"`
	Stage                 string         `json:"stage,omitempty"`
	Size                  int64          `json:"size"`
	Uploaded              int64          `json:"uploaded"`
	Skipped               int64          `json:"skipped"`
	Failed                int64          `json:"failed"`
	StartedAt             *time.Time     `json:"started_at,omitempty"`
	CompletedAt           *time.Time     `json:"completed_at,omitempty"`
	RetentionLockMode     string         `json:"retention_lock_mode,omitempty"`
	OverrideRetentionLock bool           `json:"override_retention_lock,omitempty"`
	RetentionDays         int64          `json:"retention_days,omitempty"`
	// Warnings (not in Scylla Manager's model) name the keyspaces the
	// backup does not wholly cover: a DC-filtered backup of a keyspace
	// with replicas outside the chosen DCs.
	Warnings []string `json:"warnings,omitempty"`
}

// HostProgress is the backup progress of one host.
type HostProgress struct {
	Host        string             `json:"host"`
	Keyspaces   []KeyspaceProgress `json:"keyspaces,omitempty"`
	Size        int64              `json:"size"`
	Uploaded    int64              `json:"uploaded"`
	Skipped     int64              `json:"skipped"`
	Failed      int64              `json:"failed"`
	StartedAt   *time.Time         `json:"started_at,omitempty"`
	CompletedAt *time.Time         `json:"completed_at,omitempty"`
}

// KeyspaceProgress is the backup progress of one keyspace on one host.
type KeyspaceProgress struct {
	Keyspace    string          `json:"keyspace"`
	Tables      []TableProgress `json:"tables,omitempty"`
	Size        int64           `json:"size"`
	Uploaded    int64           `json:"uploaded"`
	Skipped     int64           `json:"skipped"`
	Failed      int64           `json:"failed"`
	StartedAt   *time.Time      `json:"started_at,omitempty"`
	CompletedAt *time.Time      `json:"completed_at,omitempty"`
}

// TableProgress is the backup progress of one table on one host.
type TableProgress struct {
	Table       string     `json:"table"`
	Error       string     `json:"error,omitempty"`
	Size        int64      `json:"size"`
	Uploaded    int64      `json:"uploaded"`
	Skipped     int64      `json:"skipped"`
	Failed      int64      `json:"failed"`
	StartedAt   *time.Time `json:"started_at,omitempty"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
}

// BackupUnit is one keyspace of a backup target or listing.
type BackupUnit struct {
	Keyspace  string   `json:"keyspace"`
	Tables    []string `json:"tables,omitempty"`
	AllTables bool     `json:"all_tables"`
}

// BackupTarget is the answer of the backup dry run (swagger
// "BackupTarget").
type BackupTarget struct {
	ClusterID             string       `json:"cluster_id"`
	Host                  string       `json:"host,omitempty"`
	DC                    []string     `json:"dc"`
	WithHosts             []string     `json:"with_hosts,omitempty"`
	Location              []string     `json:"location"`
	Retention             int64        `json:"retention"`
	RetentionDays         int64        `json:"retention_days"`
	RateLimit             []string     `json:"rate_limit,omitempty"`
	SnapshotParallel      []string     `json:"snapshot_parallel,omitempty"`
	UploadParallel        []string     `json:"upload_parallel,omitempty"`
	Units                 []BackupUnit `json:"units"`
	Size                  int64        `json:"size"`
	Transfers             int64        `json:"transfers"`
	PurgeOnly             bool         `json:"purge_only"`
	SkipSchema            bool         `json:"skip_schema"`
	Method                string       `json:"method,omitempty"`
	RetentionLockMode     string       `json:"retention_lock_mode,omitempty"`
	OverrideRetentionLock bool         `json:"override_retention_lock,omitempty"`
	// Warnings: as BackupProgress.Warnings.
	Warnings []string `json:"warnings,omitempty"`
}

// SnapshotInfo is one snapshot of a backup listing.
type SnapshotInfo struct {
	SnapshotTag string `json:"snapshot_tag"`
	Nodes       int64  `json:"nodes"`
	Size        int64  `json:"size"`
}

// BackupListItem is one task's backups in a listing (swagger
// "BackupListItem").
type BackupListItem struct {
	ClusterID    string         `json:"cluster_id"`
	TaskID       string         `json:"task_id"`
	Units        []BackupUnit   `json:"units"`
	SnapshotInfo []SnapshotInfo `json:"snapshot_info"`
}

// BackupFilesInfo lists the files of one node's snapshot (swagger
// "BackupFilesInfo").
type BackupFilesInfo struct {
	Location string            `json:"location"`
	Schema   string            `json:"schema,omitempty"`
	Files    []BackupTableFile `json:"files"`
}

// BackupTableFile is the files of one table in BackupFilesInfo.
type BackupTableFile struct {
	Path     string   `json:"path"`
	Keyspace string   `json:"keyspace"`
	Table    string   `json:"table"`
	Version  string   `json:"version"`
	Files    []string `json:"files"`
	Size     int64    `json:"size"`
}

// BackupDescribeSchema is the answer of GET backups/schema.
type BackupDescribeSchema struct {
	Schema []BackupSchemaItem `json:"schema"`
}

// BackupSchemaItem is one CQL statement of a backed-up schema.
type BackupSchemaItem struct {
	Keyspace string `json:"keyspace"`
	Type     string `json:"type"`
	Name     string `json:"name"`
	CQLStmt  string `json:"cql_stmt"`
}

// ValidateBackupProgress is the progress of a validate_backup run on one
// host (an item of swagger "TaskRunValidateBackupProgress.progress").
type ValidateBackupProgress struct {
	DC              string     `json:"dc"`
	Host            string     `json:"host"`
	Location        string     `json:"location"`
	Manifests       int64      `json:"manifests"`
	ScannedFiles    int64      `json:"scanned_files"`
	BrokenSnapshots []string   `json:"broken_snapshots,omitempty"`
	MissingFiles    int64      `json:"missing_files"`
	OrphanedFiles   int64      `json:"orphaned_files"`
	OrphanedBytes   int64      `json:"orphaned_bytes"`
	DeletedFiles    int64      `json:"deleted_files"`
	StartedAt       *time.Time `json:"started_at,omitempty"`
	CompletedAt     *time.Time `json:"completed_at,omitempty"`
	// IncompleteSnapshots (not in Scylla Manager's shape): snapshots
	// other nodes finished and this one did not, which a restore refuses.
	IncompleteSnapshots []string `json:"incomplete_snapshots,omitempty"`
}
