package restapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/backup"
	"github.com/scyllaops/scyllaops/internal/backupspec"
	"github.com/scyllaops/scyllaops/store"
)

// errNotWired answers endpoints whose Manager call is not available in
// this build.
var errNotWired = &httpError{status: http.StatusNotImplemented, message: "not implemented",
	err: errors.New("not available in this build of the manager yet")}

// backupErr maps the backup package's errors to the API's: a malformed
// location or tag is bad input, an absent snapshot is not found.
func backupErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, backupspec.ErrInvalid):
		return badRequest(err)
	case errors.Is(err, backup.ErrSnapshotNotFound):
		return &httpError{status: http.StatusNotFound, message: "not found", err: err}
	}
	return err
}

// targetErr maps the errors of a dry run as Scylla Manager does: the dry
// run exists to validate input, so what it finds wrong (a location the
// nodes cannot use, no matching keyspace) is a 400; only an unknown
// cluster (404) and a closed or canceled manager (503) are not.
func targetErr(err error) error {
	if err == nil {
		return nil
	}
	var he *httpError
	switch {
	case errors.As(err, &he), errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrInvalid),
		errors.Is(err, scyllaops.ErrClosed), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return backupErr(err)
	}
	return badRequest(err)
}

// filter converts the query to the backup package's filter, resolving
// query_cluster_id: a UUID is taken as is (the bucket may hold clusters
// this manager does not know), a name must be a known cluster's.
func (b managerBackend) filter(ctx context.Context, q backupQuery) (backup.ListFilter, error) {
	f := backup.ListFilter{Keyspace: q.keyspace, SnapshotTag: q.snapshotTag, MinDate: q.minDate, MaxDate: q.maxDate}
	if q.queryCluster == "" {
		return f, nil
	}
	if id, err := uuid.Parse(q.queryCluster); err == nil {
		f.ClusterID = id
		return f, nil
	}
	c, err := b.m.GetCluster(ctx, q.queryCluster)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return f, badRequest(store.Invalid("query_cluster_id", "a cluster UUID or the name of a cluster added to this manager", q.queryCluster))
	case err != nil:
		return f, err
	}
	f.ClusterID = c.ID
	return f, nil
}

// managerBackend adapts *scyllaops.Manager to backend.
type managerBackend struct{ m *scyllaops.Manager }

var _ backend = managerBackend{}

// clusterID resolves a {cluster_id} path value (UUID or name).
func (b managerBackend) clusterID(ctx context.Context, cluster string) (uuid.UUID, error) {
	c, err := b.m.GetCluster(ctx, cluster)
	if err != nil {
		return uuid.Nil, err
	}
	return c.ID, nil
}

func (b managerBackend) createTask(ctx context.Context, cluster string, t store.Task) (store.Task, error) {
	id, err := b.clusterID(ctx, cluster)
	if err != nil {
		return store.Task{}, err
	}
	t.ClusterID = id
	return b.m.CreateTask(ctx, t)
}
func (b managerBackend) getTask(ctx context.Context, cluster string, id uuid.UUID) (store.Task, error) {
	cid, err := b.clusterID(ctx, cluster)
	if err != nil {
		return store.Task{}, err
	}
	return b.m.GetTask(ctx, cid, id)
}
func (b managerBackend) updateTask(ctx context.Context, cluster string, t store.Task) (store.Task, error) {
	cid, err := b.clusterID(ctx, cluster)
	if err != nil {
		return store.Task{}, err
	}
	t.ClusterID = cid
	return b.m.UpdateTask(ctx, t)
}
func (b managerBackend) deleteTask(ctx context.Context, cluster string, id uuid.UUID) error {
	cid, err := b.clusterID(ctx, cluster)
	if err != nil {
		return err
	}
	return b.m.DeleteTask(ctx, cid, id)
}
func (b managerBackend) listTasks(ctx context.Context, cluster string, f taskFilter) ([]taskSummary, error) {
	cid, err := b.clusterID(ctx, cluster)
	if err != nil {
		return nil, err
	}
	items, err := b.m.ListTasks(ctx, cid, scyllaops.TaskFilter{All: f.all, Type: f.typ, Status: store.Status(f.status), TaskID: f.taskID})
	if err != nil {
		return nil, err
	}
	out := make([]taskSummary, 0, len(items))
	for _, it := range items {
		s := taskSummary{task: it.Task, status: string(it.Status), successCount: it.SuccessCount, errorCount: it.ErrorCount,
			suspended: it.Suspended, retry: it.Retry}
		if it.LastSuccess != nil {
			s.lastSuccess = *it.LastSuccess
		}
		if it.LastError != nil {
			s.lastError = *it.LastError
		}
		if it.NextActivation != nil {
			s.nextActivation = *it.NextActivation
		}
		out = append(out, s)
	}
	return out, nil
}
func (b managerBackend) startTask(ctx context.Context, cluster string, id uuid.UUID, cont bool) error {
	cid, err := b.clusterID(ctx, cluster)
	if err != nil {
		return err
	}
	return b.m.StartTask(ctx, cid, id, cont)
}
func (b managerBackend) stopTask(ctx context.Context, cluster string, id uuid.UUID, disable bool) error {
	cid, err := b.clusterID(ctx, cluster)
	if err != nil {
		return err
	}
	return b.m.StopTask(ctx, cid, id, disable)
}
func (b managerBackend) history(ctx context.Context, cluster string, id uuid.UUID, limit int) ([]store.Run, error) {
	cid, err := b.clusterID(ctx, cluster)
	if err != nil {
		return nil, err
	}
	return b.m.TaskHistory(ctx, cid, id, limit)
}
func (b managerBackend) runProgress(ctx context.Context, cluster string, id uuid.UUID, ref string) (*store.Run, json.RawMessage, error) {
	cid, err := b.clusterID(ctx, cluster)
	if err != nil {
		return nil, nil, err
	}
	run, p, err := b.m.RunProgress(ctx, cid, id, ref)
	if err != nil {
		return nil, nil, err
	}
	if run.ID == uuid.Nil {
		// The Manager's synthetic NEW run: the handler presents it with
		// the type's empty progress.
		return nil, nil, nil
	}
	return &run, p, nil
}
func (b managerBackend) suspended(ctx context.Context, cluster string) (bool, string, error) {
	cid, err := b.clusterID(ctx, cluster)
	if err != nil {
		return false, "", err
	}
	d, err := b.m.ClusterSuspended(ctx, cid)
	return d.Suspended, d.AllowTaskType, err
}
func (b managerBackend) suspend(ctx context.Context, cluster, allow string, failIfRunning, noContinue bool) error {
	cid, err := b.clusterID(ctx, cluster)
	if err != nil {
		return err
	}
	return b.m.SuspendCluster(ctx, cid, scyllaops.SuspendOptions{AllowTaskType: allow, FailIfRunning: failIfRunning, NoContinue: noContinue})
}
func (b managerBackend) resume(ctx context.Context, cluster string, start, missed, noContinue bool) error {
	cid, err := b.clusterID(ctx, cluster)
	if err != nil {
		return err
	}
	return b.m.ResumeCluster(ctx, cid, scyllaops.ResumeOptions{StartTasks: start, StartTasksMissedActivation: missed, NoContinue: noContinue})
}
func (b managerBackend) target(ctx context.Context, cluster string, t store.Task) (any, error) {
	switch t.Type {
	case "backup":
		target, err := b.m.Backup().Target(ctx, cluster, t.Properties)
		return target, targetErr(err)
	case "repair":
		target, err := b.m.Repair().Target(ctx, cluster, t.Properties)
		return target, targetErr(err)
	case "restore":
		target, err := b.m.Restore().Target(ctx, cluster, t.Properties)
		return target, targetErr(err)
	}
	return nil, errNotWired
}
func (b managerBackend) setRepairIntensity(ctx context.Context, cluster string, v float64) error {
	return b.m.Repair().SetIntensity(ctx, cluster, v)
}
func (b managerBackend) setRepairParallel(ctx context.Context, cluster string, v int) error {
	return b.m.Repair().SetParallel(ctx, cluster, v)
}
func (b managerBackend) listBackups(ctx context.Context, cluster string, q backupQuery) (any, error) {
	f, err := b.filter(ctx, q)
	if err != nil {
		return nil, err
	}
	items, err := b.m.Backup().List(ctx, cluster, q.locations, f)
	if err != nil {
		return nil, backupErr(err)
	}
	if items == nil {
		items = []backup.ListItem{}
	}
	return items, nil
}
func (b managerBackend) backupFiles(ctx context.Context, cluster string, q backupQuery) (any, error) {
	f, err := b.filter(ctx, q)
	if err != nil {
		return nil, err
	}
	files, err := b.m.Backup().ListFiles(ctx, cluster, q.locations, f)
	if err != nil {
		return nil, backupErr(err)
	}
	if files == nil {
		files = []backup.FilesInfo{}
	}
	return files, nil
}
func (b managerBackend) backupSchema(ctx context.Context, cluster string, q backupQuery) (any, error) {
	rows, err := b.m.Backup().Schema(ctx, cluster, q.locations[len(q.locations)-1], q.snapshotTag, q.queryTaskID)
	if err != nil {
		return nil, backupErr(err)
	}
	if rows == nil {
		rows = []backup.SchemaRow{}
	}
	return map[string]any{"schema": rows}, nil
}
func (b managerBackend) deleteSnapshots(ctx context.Context, cluster string, locations, tags []string) error {
	return backupErr(b.m.Backup().DeleteSnapshots(ctx, cluster, locations, tags))
}
func (b managerBackend) deleteLocalSnapshots(ctx context.Context, cluster string) error {
	_, err := b.m.Backup().DeleteLocalSnapshots(ctx, cluster)
	return backupErr(err)
}
