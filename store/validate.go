package store

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// The Check functions validate records before a driver writes them. Every
// driver calls them first, so all drivers refuse the same input with the
// same error, and nothing is written on error.

// MaxNameLen caps cluster and task names, in bytes: a name is shown in
// listings, logs and metric labels, so it stays short.
const MaxNameLen = 255

// CheckName refuses a name longer than MaxNameLen; field names it in the
// error ("cluster.name", "task.name").
func CheckName(field, name string) error {
	if len(name) > MaxNameLen {
		return Invalid(field, fmt.Sprintf("at most %d bytes, got %d", MaxNameLen, len(name)), "")
	}
	return nil
}

// CheckCluster validates a cluster record.
func CheckCluster(c *Cluster) error {
	if c == nil {
		return Invalid("cluster", "a non-nil *store.Cluster", "")
	}
	if c.ID == uuid.Nil {
		return Invalid("cluster.id", "a non-nil UUID", "")
	}
	if c.Name == "" {
		return Invalid("cluster.name", "a non-empty name that is not a UUID, e.g. \"prod-eu\"", "")
	}
	if _, err := uuid.Parse(c.Name); err == nil {
		return Invalid("cluster.name", "a name that is not a UUID, e.g. \"prod-eu\"", c.Name)
	}
	if err := CheckName("cluster.name", c.Name); err != nil {
		return err
	}
	if c.Port < 0 || c.Port > 65535 {
		return Invalid("cluster.port", "a TCP port 1-65535, or 0 for the default 10001", "")
	}
	return nil
}

// CheckSecretKey validates a secret's address.
func CheckSecretKey(clusterID uuid.UUID, key string) error {
	if clusterID == uuid.Nil {
		return Invalid("cluster_id", "a non-nil UUID", "")
	}
	if key == "" {
		return Invalid("secret.key", "a non-empty key, e.g. \"cql_creds\"", "")
	}
	return nil
}

// CheckTask validates a task record.
func CheckTask(t *Task) error {
	if t == nil {
		return Invalid("task", "a non-nil *store.Task", "")
	}
	if t.ClusterID == uuid.Nil {
		return Invalid("task.cluster_id", "a non-nil UUID", "")
	}
	if t.ID == uuid.Nil {
		return Invalid("task.id", "a non-nil UUID", "")
	}
	if t.Type == "" {
		return Invalid("task.type", "a task type, e.g. \"backup\"", "")
	}
	return CheckName("task.name", t.Name)
}

// CheckRun validates a run record.
func CheckRun(r *Run) error {
	if r == nil {
		return Invalid("run", "a non-nil *store.Run", "")
	}
	if r.ClusterID == uuid.Nil {
		return Invalid("run.cluster_id", "a non-nil UUID", "")
	}
	if r.TaskID == uuid.Nil {
		return Invalid("run.task_id", "a non-nil UUID", "")
	}
	if r.ID.Version() != 1 {
		return Invalid("run.id", "a version-1 (time-based) UUID, e.g. from uuid.NewUUID", r.ID.String())
	}
	if !r.Status.Valid() {
		return Invalid("run.status", "one of NEW, RUNNING, STOPPING, STOPPED, WAITING, DONE, ERROR, ABORTED", string(r.Status))
	}
	if r.Fence < 0 {
		return Invalid("run.fence", "a fencing token >= 0", "")
	}
	return nil
}

// CheckProgress validates a progress row.
func CheckProgress(p *Progress) error {
	if p == nil {
		return Invalid("progress", "a non-nil *store.Progress", "")
	}
	if p.RunID == uuid.Nil {
		return Invalid("progress.run_id", "a non-nil UUID", "")
	}
	if p.TaskID == uuid.Nil {
		return Invalid("progress.task_id", "a non-nil UUID", "")
	}
	if p.Key == "" {
		return Invalid("progress.key", "a non-empty row key, e.g. \"10.0.0.1/ks/t\"", "")
	}
	return nil
}

// CheckProgressBatch validates the rows of one PutProgressBatch call:
// each as CheckProgress, all with the RunID, TaskID and Fence of the
// first, no Key twice. The error names the row by its index, e.g.
// "progress[2].fence". An empty batch is valid.
func CheckProgressBatch(ps []*Progress) error {
	keys := make(map[string]int, len(ps))
	for i, p := range ps {
		if err := CheckProgress(p); err != nil {
			var ie *InvalidError
			if errors.As(err, &ie) {
				// "progress.key" -> "progress[i].key"
				field := fmt.Sprintf("progress[%d]", i) + strings.TrimPrefix(ie.Field, "progress")
				return Invalid(field, ie.Want, ie.Got)
			}
			return err
		}
		first := ps[0]
		switch {
		case p.RunID != first.RunID:
			return Invalid(fmt.Sprintf("progress[%d].run_id", i),
				fmt.Sprintf("the run_id of progress[0] (%s): a batch holds the rows of one run", first.RunID), p.RunID.String())
		case p.TaskID != first.TaskID:
			return Invalid(fmt.Sprintf("progress[%d].task_id", i),
				fmt.Sprintf("the task_id of progress[0] (%s): a batch holds the rows of one run", first.TaskID), p.TaskID.String())
		case p.Fence != first.Fence:
			return Invalid(fmt.Sprintf("progress[%d].fence", i),
				fmt.Sprintf("the fence of progress[0] (%d): a batch is written under one fencing token", first.Fence),
				strconv.FormatInt(p.Fence, 10))
		}
		if j, dup := keys[p.Key]; dup {
			return Invalid(fmt.Sprintf("progress[%d].key", i),
				fmt.Sprintf("a key not in the batch already (progress[%d] has it)", j), p.Key)
		}
		keys[p.Key] = i
	}
	return nil
}

// CheckEvent validates an event.
func CheckEvent(e *Event) error {
	if e == nil {
		return Invalid("event", "a non-nil *store.Event", "")
	}
	if e.ID.Version() != 1 {
		return Invalid("event.id", "a version-1 (time-based) UUID, e.g. from uuid.NewUUID", e.ID.String())
	}
	if e.ClusterID == uuid.Nil {
		return Invalid("event.cluster_id", "a non-nil UUID", "")
	}
	if e.Time.IsZero() {
		return Invalid("event.time", "a non-zero time", "")
	}
	if e.TTL < 0 {
		return Invalid("event.ttl", "a duration >= 0 (0 = never expires)", e.TTL.String())
	}
	return nil
}

// CheckEventQuery validates an event query.
func CheckEventQuery(q EventQuery) error {
	if q.ClusterID == uuid.Nil {
		return Invalid("query.cluster_id", "a non-nil UUID", "")
	}
	if q.Limit < 0 {
		return Invalid("query.limit", "a limit >= 0 (0 = no limit)", "")
	}
	return nil
}

// CheckLease validates lease arguments.
func CheckLease(name, owner string, ttl time.Duration) error {
	if name == "" {
		return Invalid("lease.name", "a non-empty name, e.g. \"task/<uuid>\"", "")
	}
	if owner == "" {
		return Invalid("lease.owner", "a non-empty owner id, e.g. the manager's hostname:pid", "")
	}
	if ttl <= 0 {
		return Invalid("lease.ttl", "a duration > 0, e.g. 30s", ttl.String())
	}
	return nil
}

// UUIDTime returns the time embedded in a version-1 UUID (zero time for
// other versions). Drivers order runs and events by it.
func UUIDTime(id uuid.UUID) time.Time {
	if id.Version() != 1 {
		return time.Time{}
	}
	sec, nsec := id.Time().UnixTime()
	return time.Unix(sec, nsec).UTC()
}
