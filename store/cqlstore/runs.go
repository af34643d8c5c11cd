package cqlstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gocql/gocql"
	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
)

// Fencing without inequality conditions: Cassandra 2.1.0 accepts only
// "IF col = ?" in lightweight transactions, so a fenced write is an
// optimistic loop. It first assumes the stored fence equals the writer's;
// when the condition fails, the transaction's answer carries the stored
// fence: higher means the writer is stale (ErrLeaseLost), absent means no
// such row (ErrNotFound), lower means a newer lease holder writes for the
// first time, so the write is retried with the stored value as the
// condition.

const runCols = "task_id, id, cluster_id, type, status, cause, owner, fence, attempt, activation, properties, start_time, end_time"

// maxFenceTries bounds the optimistic loops.
const maxFenceTries = 8

func scanRun(it *gocql.Iter) *store.Run {
	var r store.Run
	var tid, id, cid gocql.UUID
	var status string
	var props []byte
	if !it.Scan(&tid, &id, &cid, &r.Type, &status, &r.Cause, &r.Owner, &r.Fence, &r.Attempt, &r.Activation,
		&props, &r.StartTime, &r.EndTime) {
		return nil
	}
	r.TaskID, r.ID, r.ClusterID = uuid.UUID(tid), uuid.UUID(id), uuid.UUID(cid)
	r.Status = store.Status(status)
	if len(props) > 0 {
		r.Properties = json.RawMessage(props)
	}
	r.Activation, r.StartTime, r.EndTime = utc(r.Activation), utc(r.StartTime), utc(r.EndTime)
	return &r
}

func (s *Store) getRun(ctx context.Context, taskID, runID uuid.UUID) (*store.Run, error) {
	it := s.query(ctx, "SELECT "+runCols+" FROM run WHERE task_id = ? AND id = ?", gocql.UUID(taskID), gocql.UUID(runID)).Iter()
	r := scanRun(it)
	if err := it.Close(); err != nil {
		return nil, s.dbErr("get run "+runID.String(), err)
	}
	if r == nil {
		return nil, fmt.Errorf("cqlstore: run %s of task %s: %w", runID, taskID, store.ErrNotFound)
	}
	return r, nil
}

// markUnfinished adds or removes r in the unfinished-run index.
func (s *Store) markUnfinished(ctx context.Context, r *store.Run, unfinished bool) error {
	var err error
	if unfinished {
		err = s.query(ctx, "INSERT INTO unfinished_run (bucket, run_id, task_id) VALUES (0, ?, ?)",
			gocql.UUID(r.ID), gocql.UUID(r.TaskID)).Exec()
	} else {
		err = s.query(ctx, "DELETE FROM unfinished_run WHERE bucket = 0 AND run_id = ?", gocql.UUID(r.ID)).Exec()
	}
	if err != nil {
		return s.dbErr("index run "+r.ID.String(), err)
	}
	return nil
}

// initRunFence creates the progress partition of a run with its fence,
// unless it exists.
func (s *Store) initRunFence(ctx context.Context, runID uuid.UUID, fence int64) error {
	_, err := s.query(ctx, "INSERT INTO run_progress (run_id, fence) VALUES (?, ?) IF NOT EXISTS",
		gocql.UUID(runID), fence).MapScanCAS(map[string]any{})
	if err != nil {
		return s.dbErr("init fence of run "+runID.String(), err)
	}
	return nil
}

// CreateRun implements store.RunStore.
func (s *Store) CreateRun(ctx context.Context, r *store.Run) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if err := store.CheckRun(r); err != nil {
		return fmt.Errorf("cqlstore: %w", err)
	}
	if _, err := s.getTask(ctx, r.ClusterID, r.TaskID); err != nil {
		return err
	}
	if !r.Status.Final() {
		if err := s.markUnfinished(ctx, r, true); err != nil {
			return err
		}
	}
	applied, err := s.query(ctx, "INSERT INTO run ("+runCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS",
		gocql.UUID(r.TaskID), gocql.UUID(r.ID), gocql.UUID(r.ClusterID), r.Type, string(r.Status), r.Cause, r.Owner, r.Fence,
		r.Attempt, r.Activation, []byte(r.Properties), r.StartTime, r.EndTime).MapScanCAS(map[string]any{})
	if err != nil {
		return s.dbErr("create run "+r.ID.String(), err)
	}
	if !applied {
		return fmt.Errorf("cqlstore: run %s exists: %w", r.ID, store.ErrConflict)
	}
	return s.initRunFence(ctx, r.ID, r.Fence)
}

// casFence interprets a failed fenced transaction: it returns the stored
// fence to retry with, or the error to return.
func casFence(m map[string]any, fence int64, what string) (int64, error) {
	cur, ok := m["fence"].(int64)
	if !ok {
		return 0, fmt.Errorf("cqlstore: %s: %w", what, store.ErrNotFound)
	}
	if cur > fence {
		return 0, fmt.Errorf("cqlstore: %s: fence %d is lower than the stored %d: %w", what, fence, cur, store.ErrLeaseLost)
	}
	return cur, nil
}

// raiseRunFence sets the progress partition's fence to fence unless it is
// higher already (ErrLeaseLost).
func (s *Store) raiseRunFence(ctx context.Context, runID uuid.UUID, fence, expect int64) error {
	what := "raise fence of run " + runID.String()
	for range maxFenceTries {
		m := map[string]any{}
		applied, err := s.query(ctx, "UPDATE run_progress SET fence = ? WHERE run_id = ? IF fence = ?",
			fence, gocql.UUID(runID), expect).MapScanCAS(m)
		if err != nil {
			return s.dbErr(what, err)
		}
		if applied {
			return nil
		}
		if expect, err = casFence(m, fence, what); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return s.initRunFence(ctx, runID, fence)
			}
			return err
		}
	}
	return fmt.Errorf("cqlstore: %s: contended: %w", what, store.ErrLeaseLost)
}

// UpdateRun implements store.RunStore.
func (s *Store) UpdateRun(ctx context.Context, r *store.Run) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if err := store.CheckRun(r); err != nil {
		return fmt.Errorf("cqlstore: %w", err)
	}
	what := "update run " + r.ID.String()
	if !r.Status.Final() {
		// Index first: the index may hold stale entries, never miss one.
		if _, err := s.getRun(ctx, r.TaskID, r.ID); err != nil {
			return err
		}
		if err := s.markUnfinished(ctx, r, true); err != nil {
			return err
		}
	}
	expect := r.Fence
	for range maxFenceTries {
		m := map[string]any{}
		applied, err := s.query(ctx, "UPDATE run SET cluster_id = ?, type = ?, status = ?, cause = ?, owner = ?, fence = ?, "+
			"attempt = ?, activation = ?, properties = ?, start_time = ?, end_time = ? WHERE task_id = ? AND id = ? IF fence = ?",
			gocql.UUID(r.ClusterID), r.Type, string(r.Status), r.Cause, r.Owner, r.Fence, r.Attempt, r.Activation,
			[]byte(r.Properties), r.StartTime, r.EndTime, gocql.UUID(r.TaskID), gocql.UUID(r.ID), expect).MapScanCAS(m)
		if err != nil {
			return s.dbErr(what, err)
		}
		if applied {
			if r.Status.Final() {
				return s.markUnfinished(ctx, r, false)
			}
			return nil
		}
		if expect, err = casFence(m, r.Fence, what); err != nil {
			return err
		}
		// A new lease holder: fence the progress rows first, so the old
		// holder's progress writes fail from now on.
		if err := s.raiseRunFence(ctx, r.ID, r.Fence, expect); err != nil {
			return err
		}
	}
	return fmt.Errorf("cqlstore: %s: contended: %w", what, store.ErrLeaseLost)
}

// GetRun implements store.RunStore.
func (s *Store) GetRun(ctx context.Context, taskID, runID uuid.UUID) (*store.Run, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	return s.getRun(ctx, taskID, runID)
}

// ListRuns implements store.RunStore.
func (s *Store) ListRuns(ctx context.Context, taskID uuid.UUID, limit int) ([]*store.Run, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	stmt := "SELECT " + runCols + " FROM run WHERE task_id = ?"
	args := []any{gocql.UUID(taskID)}
	if limit > 0 {
		stmt += " LIMIT ?"
		args = append(args, limit)
	}
	it := s.query(ctx, stmt, args...).Iter()
	out := []*store.Run{}
	for r := scanRun(it); r != nil; r = scanRun(it) {
		out = append(out, r)
	}
	if err := it.Close(); err != nil {
		return nil, s.dbErr("list runs", err)
	}
	// Clustering order is by timeuuid time; break ties like the other
	// drivers do.
	slices.SortStableFunc(out, func(a, b *store.Run) int { return -compareTimeUUID(a.ID, b.ID) })
	return out, nil
}

func compareTimeUUID(a, b uuid.UUID) int {
	if c := store.UUIDTime(a).Compare(store.UUIDTime(b)); c != 0 {
		return c
	}
	return bytes.Compare(a[:], b[:])
}

// ListUnfinishedRuns implements store.RunStore.
func (s *Store) ListUnfinishedRuns(ctx context.Context) ([]*store.Run, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	type ref struct{ run, task gocql.UUID }
	var refs []ref
	it := s.query(ctx, "SELECT run_id, task_id FROM unfinished_run WHERE bucket = 0").Iter()
	var rf ref
	for it.Scan(&rf.run, &rf.task) {
		refs = append(refs, rf)
	}
	if err := it.Close(); err != nil {
		return nil, s.dbErr("list unfinished runs", err)
	}
	out := []*store.Run{}
	for _, rf := range refs {
		r, err := s.getRun(ctx, uuid.UUID(rf.task), uuid.UUID(rf.run))
		if errors.Is(err, store.ErrNotFound) {
			continue // stale index entry of a deleted run
		}
		if err != nil {
			return nil, err
		}
		if r.Status.Final() {
			continue // stale index entry: its removal did not happen
		}
		out = append(out, r)
	}
	slices.SortStableFunc(out, func(a, b *store.Run) int { return compareTimeUUID(a.ID, b.ID) })
	return out, nil
}

// ListProgress implements store.ProgressStore.
func (s *Store) ListProgress(ctx context.Context, runID uuid.UUID) ([]*store.Progress, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	it := s.query(ctx, "SELECT key, cluster_id, task_id, data, row_fence, updated_at FROM run_progress WHERE run_id = ?",
		gocql.UUID(runID)).Iter()
	out := []*store.Progress{}
	for {
		var p store.Progress
		var key *string
		var cid, tid gocql.UUID
		var data []byte
		if !it.Scan(&key, &cid, &tid, &data, &p.Fence, &p.UpdatedAt) {
			break
		}
		if key == nil || *key == "" {
			continue // the partition's static fence only
		}
		p.Key, p.RunID, p.ClusterID, p.TaskID = *key, runID, uuid.UUID(cid), uuid.UUID(tid)
		if data != nil {
			p.Data = json.RawMessage(data)
		}
		p.UpdatedAt = utc(p.UpdatedAt)
		out = append(out, &p)
	}
	if err := it.Close(); err != nil {
		return nil, s.dbErr("list progress of run "+runID.String(), err)
	}
	slices.SortFunc(out, func(a, b *store.Progress) int { return compareStrings(a.Key, b.Key) })
	return out, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// DeleteProgress implements store.ProgressStore. It deletes the rows one
// by one (CQL 2.1 has no range deletes) and keeps the partition's fence.
func (s *Store) DeleteProgress(ctx context.Context, runID uuid.UUID) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	it := s.query(ctx, "SELECT key FROM run_progress WHERE run_id = ?", gocql.UUID(runID)).Iter()
	var keys []string
	var key *string
	for it.Scan(&key) {
		if key != nil && *key != "" {
			keys = append(keys, *key)
		}
	}
	if err := it.Close(); err != nil {
		return s.dbErr("delete progress of run "+runID.String(), err)
	}
	for _, k := range keys {
		if err := s.query(ctx, "DELETE FROM run_progress WHERE run_id = ? AND key = ?", gocql.UUID(runID), k).Exec(); err != nil {
			return s.dbErr("delete progress of run "+runID.String(), err)
		}
	}
	return nil
}

// ceilSeconds rounds d up to whole seconds (CQL TTLs are in seconds).
func ceilSeconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}
