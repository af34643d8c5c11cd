package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// Store is everything a Manager persists. A driver implements all of it;
// services take the narrowest embedded interface they need.
type Store interface {
	ClusterStore
	SecretStore
	TaskStore
	RunStore
	ProgressStore
	EventStore
	LeaseStore
	// Close releases the driver's resources. It is idempotent; every
	// method called after Close returns ErrClosed.
	Close() error
}

// ClusterStore keeps cluster records. Secrets are never part of a Cluster;
// they live in SecretStore.
type ClusterStore interface {
	// CreateCluster stores c. It returns ErrConflict if a cluster with the
	// same ID or Name exists. c.ID must be set, c.Name must be non-empty
	// and must not parse as a UUID.
	CreateCluster(ctx context.Context, c *Cluster) error
	// UpdateCluster replaces the cluster with c.ID. ErrNotFound if it does
	// not exist, ErrConflict if c.Name is taken by another cluster.
	UpdateCluster(ctx context.Context, c *Cluster) error
	// GetCluster returns a copy of the cluster, or ErrNotFound.
	GetCluster(ctx context.Context, id uuid.UUID) (*Cluster, error)
	// GetClusterByName returns a copy of the cluster, or ErrNotFound.
	GetClusterByName(ctx context.Context, name string) (*Cluster, error)
	// ListClusters returns copies of all clusters ordered by Name. An
	// empty store returns an empty, non-nil slice.
	ListClusters(ctx context.Context) ([]*Cluster, error)
	// DeleteCluster removes the cluster with its secrets, tasks, runs and
	// progress rows. Events stay until their TTL. ErrNotFound if absent.
	DeleteCluster(ctx context.Context, id uuid.UUID) error
}

// SecretStore keeps per-cluster secrets (CQL credentials, the agent auth
// token, TLS identity…) apart from cluster records, so a listing of
// clusters can never leak them. It is also the cluster's private
// key/value drawer for state that must never reach an API response (the
// scheduler keeps a cluster's suspension there, under
// "scheduler_suspended", as Scylla Manager keeps it in its drawer table).
type SecretStore interface {
	// PutSecret creates or replaces the secret key of a cluster. The
	// cluster must exist (ErrNotFound otherwise). key must be non-empty.
	PutSecret(ctx context.Context, clusterID uuid.UUID, key string, value []byte) error
	// GetSecret returns a copy of the value, or ErrNotFound.
	GetSecret(ctx context.Context, clusterID uuid.UUID, key string) ([]byte, error)
	// DeleteSecret removes a secret. Deleting an absent secret is not an
	// error.
	DeleteSecret(ctx context.Context, clusterID uuid.UUID, key string) error
	// ListSecretKeys returns the keys (never the values) of a cluster's
	// secrets, sorted.
	ListSecretKeys(ctx context.Context, clusterID uuid.UUID) ([]string, error)
}

// TaskStore keeps task definitions.
type TaskStore interface {
	// CreateTask stores t. The cluster must exist (ErrNotFound). It
	// returns ErrConflict if t.ID exists, or if t.Name is non-empty and
	// another non-deleted task of the same cluster and type has it.
	CreateTask(ctx context.Context, t *Task) error
	// UpdateTask replaces the task (ErrNotFound if absent); same name rule
	// as CreateTask.
	UpdateTask(ctx context.Context, t *Task) error
	// GetTask returns a copy of the task, or ErrNotFound.
	GetTask(ctx context.Context, clusterID, taskID uuid.UUID) (*Task, error)
	// ListTasks returns copies of the tasks of a cluster (uuid.Nil: of
	// every cluster), deleted ones included, ordered by ClusterID, Type,
	// Name, ID.
	ListTasks(ctx context.Context, clusterID uuid.UUID) ([]*Task, error)
	// DeleteTask removes a task and its runs and progress rows for good.
	// (Soft delete is an UpdateTask with Deleted set.) ErrNotFound if
	// absent.
	DeleteTask(ctx context.Context, clusterID, taskID uuid.UUID) error
}

// RunStore keeps task runs. Run IDs are version-1 (time-based) UUIDs; the
// time in the ID orders runs.
//
// Writes are fenced: a Run carries the fencing token of the lease its
// writer holds, and an update whose Fence is lower than the stored one is
// refused with ErrLeaseLost, so a writer that lost its lease can never
// overwrite its successor.
type RunStore interface {
	// CreateRun stores r. The task must exist (ErrNotFound). ErrConflict
	// if a run with r.ID exists for the task: two managers creating the
	// run of one activation (same derived ID) never both succeed.
	CreateRun(ctx context.Context, r *Run) error
	// UpdateRun replaces the run. ErrNotFound if absent; ErrLeaseLost if
	// r.Fence is lower than the stored run's Fence.
	UpdateRun(ctx context.Context, r *Run) error
	// GetRun returns a copy of the run, or ErrNotFound.
	GetRun(ctx context.Context, taskID, runID uuid.UUID) (*Run, error)
	// ListRuns returns up to limit runs of a task, newest first (by the
	// time in the run ID). limit <= 0 means all.
	ListRuns(ctx context.Context, taskID uuid.UUID, limit int) ([]*Run, error)
	// ListUnfinishedRuns returns every run, of any cluster, whose status
	// is not final (see Status.Final), ordered by run ID time.
	ListUnfinishedRuns(ctx context.Context) ([]*Run, error)
}

// ProgressStore keeps the progress rows a service writes under a run. A
// service chooses the Key of its rows (for example "host/keyspace/table")
// and their JSON payload.
type ProgressStore interface {
	// PutProgress creates or replaces the row (RunID, Key). The run must
	// exist (ErrNotFound). ErrLeaseLost if p.Fence is lower than the run's
	// Fence.
	PutProgress(ctx context.Context, p *Progress) error
	// ListProgress returns copies of the rows of a run ordered by Key.
	ListProgress(ctx context.Context, runID uuid.UUID) ([]*Progress, error)
	// DeleteProgress removes every row of a run.
	DeleteProgress(ctx context.Context, runID uuid.UUID) error
}

// ProgressBatcher is an optional capability of a ProgressStore: storing
// many rows of a run in one transaction (on cqlstore one conditional
// batch instead of one lightweight transaction per row). memstore,
// boltstore and cqlstore have it; callers use the PutProgressBatch
// function, which falls back to PutProgress row by row.
type ProgressBatcher interface {
	// PutProgressBatch creates or replaces the rows ps of one run, all or
	// none, with the errors of PutProgress: ErrNotFound if the run does
	// not exist, ErrLeaseLost if the rows' Fence is lower than the run's;
	// either way no row of ps is stored. The rows must share RunID, TaskID
	// and Fence and have distinct Keys (see CheckProgressBatch); otherwise
	// an error wrapping ErrInvalid names the first offending field
	// ("progress[3].fence") and nothing is written. An empty ps stores
	// nothing and returns nil. The store does not keep ps or its rows.
	//
	// A driver may bound what one transaction holds: it then stores a
	// large ps as consecutive chunks, each all or none, in order, and
	// stops at the first chunk that fails (the chunks before it stay
	// stored). cqlstore does so (64 rows or 256 KiB per chunk, see its
	// doc); memstore and boltstore store any ps at once.
	PutProgressBatch(ctx context.Context, ps []*Progress) error
}

// PutProgressBatch stores the rows ps of one run with s's PutProgressBatch
// when s is a ProgressBatcher. Otherwise it checks ps as one
// (CheckProgressBatch) and stores the rows one by one with PutProgress, in
// order, stopping at the first error: not all or none, but as the rows
// share one run and fence, an unknown run or a stale fence fails on the
// first row and stores nothing.
func PutProgressBatch(ctx context.Context, s ProgressStore, ps []*Progress) error {
	if b, ok := s.(ProgressBatcher); ok {
		return b.PutProgressBatch(ctx, ps)
	}
	if err := CheckProgressBatch(ps); err != nil {
		return err
	}
	for _, p := range ps {
		if err := s.PutProgress(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// EventStore is an append-only log of what happened, with a TTL per event.
type EventStore interface {
	// AppendEvent stores e. e.ID must be a version-1 UUID (its time is the
	// event's order); e.TTL > 0 makes the event expire, 0 keeps it.
	AppendEvent(ctx context.Context, e *Event) error
	// QueryEvents returns the unexpired events matching q, oldest first.
	QueryEvents(ctx context.Context, q EventQuery) ([]*Event, error)
}

// LeaseStore gives named, expiring leases with fencing tokens. The token
// of a lease name only ever grows: every acquisition by a new holder
// (after release or expiry) gets a strictly larger Fence than any before.
type LeaseStore interface {
	// AcquireLease takes the lease name for owner for ttl. If another
	// owner holds it unexpired it returns ErrLeaseHeld. If owner already
	// holds it, it is extended and keeps its Fence.
	AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (Lease, error)
	// RenewLease extends l by ttl. ErrLeaseLost unless the stored lease
	// still has l's owner and Fence (a lease that expired but was not
	// taken by anyone may be renewed).
	RenewLease(ctx context.Context, l Lease, ttl time.Duration) (Lease, error)
	// ReleaseLease gives l up. ErrLeaseLost if l is no longer held.
	ReleaseLease(ctx context.Context, l Lease) error
	// GetLease returns the current lease, or ErrNotFound if it was never
	// taken, released, or expired.
	GetLease(ctx context.Context, name string) (Lease, error)
}

// Cluster is a managed ScyllaDB cluster. It holds no secrets.
type Cluster struct {
	ID uuid.UUID
	// Name is unique, non-empty and never parses as a UUID.
	Name string
	// Host is the initial contact point (IP or hostname).
	Host string
	// Port is the agent port. Default 10001.
	Port   int
	Labels map[string]string
	// KnownHosts are the node addresses seen at the last discovery.
	KnownHosts             []string
	ForceTLSDisabled       bool
	ForceNonSSLSessionPort bool
	CreatedAt              time.Time
	UpdatedAt              time.Time
}

// Secret keys used by scyllaops. Drivers treat keys as opaque strings.
const (
	SecretAuthToken       = "auth_token"
	SecretCQLCreds        = "cql_creds"
	SecretAlternatorCreds = "alternator_creds"
	SecretTLSIdentity     = "tls_identity"
)

// Schedule says when a task runs. The scheduler package parses and
// validates it; the store keeps it verbatim.
type Schedule struct {
	// Cron is a cron spec (5 or 6 fields, or a descriptor like @daily).
	Cron string `json:"cron,omitempty"`
	// Window is a list of begin/end pairs "[Weekday-]HH:MM".
	Window []string `json:"window,omitempty"`
	// Timezone is an IANA name applied to Cron and Window. Empty = UTC.
	Timezone  string    `json:"timezone,omitempty"`
	StartDate time.Time `json:"start_date,omitzero"`
	// Interval is the legacy trigger when Cron is empty; 0 = one-shot.
	Interval   time.Duration `json:"interval,omitempty"`
	NumRetries int           `json:"num_retries,omitempty"`
	RetryWait  time.Duration `json:"retry_wait,omitempty"`
}

// Task is a scheduled piece of work of one type on one cluster.
type Task struct {
	ClusterID  uuid.UUID
	ID         uuid.UUID
	Type       string
	Name       string
	Labels     map[string]string
	Enabled    bool
	Deleted    bool
	Schedule   Schedule
	Properties json.RawMessage
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Status is the state of a run.
type Status string

// Run statuses, as Scylla Manager names them.
const (
	StatusNew      Status = "NEW"
	StatusRunning  Status = "RUNNING"
	StatusStopping Status = "STOPPING"
	StatusStopped  Status = "STOPPED"
	StatusWaiting  Status = "WAITING"
	StatusDone     Status = "DONE"
	StatusError    Status = "ERROR"
	StatusAborted  Status = "ABORTED"
)

// Final reports whether no more work happens in a run with status s.
// WAITING is not final: the run continues in the next window.
func (s Status) Final() bool {
	switch s {
	case StatusStopped, StatusDone, StatusError, StatusAborted:
		return true
	}
	return false
}

// Valid reports whether s is one of the statuses above.
func (s Status) Valid() bool {
	switch s {
	case StatusNew, StatusRunning, StatusStopping, StatusStopped, StatusWaiting, StatusDone, StatusError, StatusAborted:
		return true
	}
	return false
}

// Run is one execution of a task.
type Run struct {
	ClusterID uuid.UUID
	TaskID    uuid.UUID
	// ID is a version-1 UUID; its time orders runs.
	ID     uuid.UUID
	Type   string
	Status Status
	// Cause says why the run ended the way it did (error text, stop
	// reason).
	Cause string
	// Owner names the manager that runs it.
	Owner string
	// Fence is the fencing token of the lease the writer holds.
	Fence int64
	// Attempt counts retries: 0 for the first try.
	Attempt int
	// Activation is the planned activation time this run serves.
	Activation time.Time
	// Properties are the task properties the run was started with
	// (including overrides such as "continue": false).
	Properties json.RawMessage
	StartTime  time.Time
	EndTime    time.Time
}

// Progress is one progress row of a run.
type Progress struct {
	ClusterID uuid.UUID
	TaskID    uuid.UUID
	RunID     uuid.UUID
	// Key identifies the row within the run; non-empty.
	Key string
	// Data is the service's JSON payload.
	Data      json.RawMessage
	Fence     int64
	UpdatedAt time.Time
}

// Event is one entry of the event log.
type Event struct {
	// ID is a version-1 UUID; its time orders events.
	ID        uuid.UUID
	ClusterID uuid.UUID
	TaskID    uuid.UUID // uuid.Nil if not about a task
	RunID     uuid.UUID // uuid.Nil if not about a run
	Time      time.Time
	// Kind is a short machine-readable name, e.g. "run_status", "retry".
	Kind string
	// Severity is "info", "warning" or "error".
	Severity   string
	Message    string
	Attributes map[string]string
	// TTL > 0 makes the event expire TTL after Time.
	TTL time.Duration
}

// EventQuery selects events. Zero fields match everything; ClusterID is
// required.
type EventQuery struct {
	ClusterID uuid.UUID
	TaskID    uuid.UUID
	RunID     uuid.UUID
	// Since and Until bound Event.Time (inclusive, exclusive).
	Since time.Time
	Until time.Time
	// Limit caps the result (the oldest Limit events); 0 = no cap.
	Limit int
}

// Lease is a held lease.
type Lease struct {
	Name    string
	Owner   string
	Fence   int64
	Expires time.Time
}
