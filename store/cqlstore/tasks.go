package cqlstore

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/gocql/gocql"
	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
)

const taskCols = "cluster_id, id, type, name, labels, enabled, deleted, schedule, properties, created_at, updated_at"

func scanTask(it *gocql.Iter) (*store.Task, error) {
	var t store.Task
	var cid, id gocql.UUID
	var sched, props []byte
	if !it.Scan(&cid, &id, &t.Type, &t.Name, &t.Labels, &t.Enabled, &t.Deleted, &sched, &props, &t.CreatedAt, &t.UpdatedAt) {
		return nil, nil
	}
	t.ClusterID, t.ID = uuid.UUID(cid), uuid.UUID(id)
	if len(sched) > 0 {
		if err := json.Unmarshal(sched, &t.Schedule); err != nil {
			return nil, fmt.Errorf("cqlstore: task %s: decode schedule: %w", t.ID, err)
		}
	}
	if len(props) > 0 {
		t.Properties = json.RawMessage(props)
	}
	t.CreatedAt, t.UpdatedAt = utc(t.CreatedAt), utc(t.UpdatedAt)
	return &t, nil
}

func (s *Store) getTask(ctx context.Context, clusterID, taskID uuid.UUID) (*store.Task, error) {
	it := s.query(ctx, "SELECT "+taskCols+" FROM task WHERE cluster_id = ? AND id = ?",
		gocql.UUID(clusterID), gocql.UUID(taskID)).Iter()
	t, err := scanTask(it)
	if cerr := it.Close(); cerr != nil {
		return nil, s.dbErr("get task "+taskID.String(), cerr)
	}
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, fmt.Errorf("cqlstore: task %s of cluster %s: %w", taskID, clusterID, store.ErrNotFound)
	}
	return t, nil
}

// listTasks returns the tasks of a cluster (uuid.Nil: all), unsorted.
func (s *Store) listTasks(ctx context.Context, clusterID uuid.UUID) ([]*store.Task, error) {
	var q *gocql.Query
	if clusterID == uuid.Nil {
		q = s.query(ctx, "SELECT "+taskCols+" FROM task")
	} else {
		q = s.query(ctx, "SELECT "+taskCols+" FROM task WHERE cluster_id = ?", gocql.UUID(clusterID))
	}
	it := q.Iter()
	out := []*store.Task{}
	var serr error
	for {
		t, err := scanTask(it)
		if err != nil {
			serr = err
			continue
		}
		if t == nil {
			break
		}
		out = append(out, t)
	}
	if err := it.Close(); err != nil {
		return nil, s.dbErr("list tasks", err)
	}
	return out, serr
}

// claimTaskName makes t the owner of its (cluster, type, name). A
// claim whose task is gone, deleted, or now named differently is stale.
func (s *Store) claimTaskName(ctx context.Context, t *store.Task) error {
	if t.Name == "" || t.Deleted {
		return nil
	}
	return s.claim(ctx, taskNameClaim(t), gocql.UUID(t.ID), func(cur gocql.UUID) (bool, error) {
		other, err := s.getTask(ctx, t.ClusterID, uuid.UUID(cur))
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return err == nil && !other.Deleted && other.Type == t.Type && other.Name == t.Name, err
	})
}

// releaseTaskName drops t's claim on its name, if it still holds it.
func (s *Store) releaseTaskName(ctx context.Context, t *store.Task) error {
	if t.Name == "" {
		return nil
	}
	return s.release(ctx, taskNameClaim(t), gocql.UUID(t.ID))
}

// claimTaskID makes t's cluster the owner of t.ID.
func (s *Store) claimTaskID(ctx context.Context, t *store.Task) error {
	return s.claim(ctx, taskIDClaim(t), gocql.UUID(t.ClusterID), func(cur gocql.UUID) (bool, error) {
		_, err := s.getTask(ctx, uuid.UUID(cur), t.ID)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	})
}

func taskArgs(t *store.Task) ([]any, error) {
	sched, err := json.Marshal(t.Schedule)
	if err != nil {
		return nil, fmt.Errorf("cqlstore: task %s: encode schedule: %w", t.ID, err)
	}
	return []any{t.Type, t.Name, t.Labels, t.Enabled, t.Deleted, sched, []byte(t.Properties), t.CreatedAt, t.UpdatedAt}, nil
}

// CreateTask implements store.TaskStore.
func (s *Store) CreateTask(ctx context.Context, t *store.Task) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if err := store.CheckTask(t); err != nil {
		return fmt.Errorf("cqlstore: %w", err)
	}
	args, err := taskArgs(t)
	if err != nil {
		return err
	}
	if _, err := s.getCluster(ctx, t.ClusterID); err != nil {
		return err
	}
	if _, err := s.getTask(ctx, t.ClusterID, t.ID); err == nil {
		return fmt.Errorf("cqlstore: task %s exists: %w", t.ID, store.ErrConflict)
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err := s.claimTaskID(ctx, t); err != nil {
		return err
	}
	if err := s.claimTaskName(ctx, t); err != nil {
		return errors.Join(err, s.release(ctx, taskIDClaim(t), gocql.UUID(t.ClusterID)))
	}
	applied, err := s.query(ctx, "INSERT INTO task ("+taskCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS",
		append([]any{gocql.UUID(t.ClusterID), gocql.UUID(t.ID)}, args...)...).MapScanCAS(map[string]any{})
	if err != nil {
		return s.dbErr("create task "+t.ID.String(), err)
	}
	if !applied {
		return fmt.Errorf("cqlstore: task %s exists: %w", t.ID, store.ErrConflict)
	}
	return nil
}

// UpdateTask implements store.TaskStore.
func (s *Store) UpdateTask(ctx context.Context, t *store.Task) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if err := store.CheckTask(t); err != nil {
		return fmt.Errorf("cqlstore: %w", err)
	}
	args, err := taskArgs(t)
	if err != nil {
		return err
	}
	for range 5 {
		old, err := s.getTask(ctx, t.ClusterID, t.ID)
		if err != nil {
			return err
		}
		sameName := old.Name == t.Name && old.Type == t.Type && old.Deleted == t.Deleted
		if !sameName {
			if err := s.claimTaskName(ctx, t); err != nil {
				return err
			}
		}
		// IF updated_at = old: optimistic concurrency, and "if exists".
		applied, err := s.query(ctx, "UPDATE task SET type = ?, name = ?, labels = ?, enabled = ?, deleted = ?, schedule = ?, "+
			"properties = ?, created_at = ?, updated_at = ? WHERE cluster_id = ? AND id = ? IF type = ? AND name = ? AND deleted = ?",
			append(args, gocql.UUID(t.ClusterID), gocql.UUID(t.ID), old.Type, old.Name, old.Deleted)...).MapScanCAS(map[string]any{})
		if err != nil {
			return s.dbErr("update task "+t.ID.String(), err)
		}
		if !applied {
			continue
		}
		if !sameName && !old.Deleted {
			if err := s.releaseTaskName(ctx, old); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("cqlstore: update task %s: contended: %w", t.ID, store.ErrConflict)
}

// GetTask implements store.TaskStore.
func (s *Store) GetTask(ctx context.Context, clusterID, taskID uuid.UUID) (*store.Task, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	return s.getTask(ctx, clusterID, taskID)
}

// ListTasks implements store.TaskStore.
func (s *Store) ListTasks(ctx context.Context, clusterID uuid.UUID) ([]*store.Task, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	out, err := s.listTasks(ctx, clusterID)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b *store.Task) int {
		return cmp.Or(bytes.Compare(a.ClusterID[:], b.ClusterID[:]), cmp.Compare(a.Type, b.Type),
			cmp.Compare(a.Name, b.Name), bytes.Compare(a.ID[:], b.ID[:]))
	})
	return out, nil
}

// DeleteTask implements store.TaskStore.
func (s *Store) DeleteTask(ctx context.Context, clusterID, taskID uuid.UUID) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	t, err := s.getTask(ctx, clusterID, taskID)
	if err != nil {
		return err
	}
	return s.deleteTask(ctx, t)
}

// deleteTask removes the runs and progress rows of t, its name claim and
// then t itself, so a failure half-way can be finished by a retry.
func (s *Store) deleteTask(ctx context.Context, t *store.Task) error {
	it := s.query(ctx, "SELECT id FROM run WHERE task_id = ?", gocql.UUID(t.ID)).Iter()
	var ids []gocql.UUID
	var id gocql.UUID
	for it.Scan(&id) {
		ids = append(ids, id)
	}
	if err := it.Close(); err != nil {
		return s.dbErr("list runs of task "+t.ID.String(), err)
	}
	for _, id := range ids {
		if err := s.query(ctx, "DELETE FROM run_progress WHERE run_id = ?", id).Exec(); err != nil {
			return s.dbErr("delete progress of run "+id.String(), err)
		}
		if err := s.query(ctx, "DELETE FROM unfinished_run WHERE bucket = 0 AND run_id = ?", id).Exec(); err != nil {
			return s.dbErr("delete run "+id.String(), err)
		}
	}
	if err := s.query(ctx, "DELETE FROM run WHERE task_id = ?", gocql.UUID(t.ID)).Exec(); err != nil {
		return s.dbErr("delete runs of task "+t.ID.String(), err)
	}
	if err := s.releaseTaskName(ctx, t); err != nil {
		return err
	}
	applied, err := s.query(ctx, "DELETE FROM task WHERE cluster_id = ? AND id = ? IF EXISTS",
		gocql.UUID(t.ClusterID), gocql.UUID(t.ID)).MapScanCAS(map[string]any{})
	if err != nil {
		return s.dbErr("delete task "+t.ID.String(), err)
	}
	if !applied {
		return fmt.Errorf("cqlstore: task %s: %w", t.ID, store.ErrNotFound)
	}
	return s.release(ctx, taskIDClaim(t), gocql.UUID(t.ClusterID))
}
