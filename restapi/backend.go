package restapi

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
)

// backend is what the task, backup and suspend endpoints need from the
// Manager, in the handler's own terms. manager.go adapts
// *scyllaops.Manager to it; keeping the seam here means a change of the
// Manager's signatures touches one file.
type backend interface {
	createTask(ctx context.Context, cluster string, t store.Task) (store.Task, error)
	getTask(ctx context.Context, cluster string, id uuid.UUID) (store.Task, error)
	updateTask(ctx context.Context, cluster string, t store.Task) (store.Task, error)
	deleteTask(ctx context.Context, cluster string, id uuid.UUID) error
	listTasks(ctx context.Context, cluster string, f taskFilter) ([]taskSummary, error)
	startTask(ctx context.Context, cluster string, id uuid.UUID, cont bool) error
	stopTask(ctx context.Context, cluster string, id uuid.UUID, disable bool) error
	history(ctx context.Context, cluster string, id uuid.UUID, limit int) ([]store.Run, error)
	// runProgress returns the run named by ref (a UUID, "latest" or
	// "~N") and its progress JSON; a nil run means the task has no run
	// yet.
	runProgress(ctx context.Context, cluster string, id uuid.UUID, ref string) (*store.Run, json.RawMessage, error)

	suspended(ctx context.Context, cluster string) (suspended bool, allowTaskType string, err error)
	suspend(ctx context.Context, cluster, allowTaskType string, failIfRunning, noContinue bool) error
	resume(ctx context.Context, cluster string, startTasks, startMissed, noContinue bool) error

	// target computes the dry-run target of a task of t.Type.
	target(ctx context.Context, cluster string, t store.Task) (any, error)
	listBackups(ctx context.Context, cluster string, q backupQuery) (any, error)
	backupFiles(ctx context.Context, cluster string, q backupQuery) (any, error)
	backupSchema(ctx context.Context, cluster string, q backupQuery) (any, error)
	deleteSnapshots(ctx context.Context, cluster string, locations, tags []string) error
	// deleteLocalSnapshots deletes the sm_* snapshots on the nodes.
	deleteLocalSnapshots(ctx context.Context, cluster string) error
	// setRepairIntensity and setRepairParallel tune the cluster's running
	// repair.
	setRepairIntensity(ctx context.Context, cluster string, v float64) error
	setRepairParallel(ctx context.Context, cluster string, v int) error
}

// taskFilter selects tasks in listTasks.
type taskFilter struct {
	all    bool
	typ    string
	status string
	taskID uuid.UUID
	short  bool
}

// taskSummary is a task with its run summary.
type taskSummary struct {
	task           store.Task
	status         string
	successCount   int
	errorCount     int
	lastSuccess    time.Time
	lastError      time.Time
	nextActivation time.Time
	suspended      bool
	retry          int
}

// backupQuery is the query of the backup listing endpoints.
type backupQuery struct {
	locations    []string
	queryCluster string // query_cluster_id as sent: a cluster UUID or name
	queryTaskID  uuid.UUID
	keyspace     []string
	minDate      time.Time
	maxDate      time.Time
	snapshotTag  string
}
