package boltstore

import (
	"bytes"
	"context"
	"fmt"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"github.com/scyllaops/scyllaops/store"
)

// CreateRun implements store.RunStore.
func (s *Store) CreateRun(ctx context.Context, r *store.Run) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := store.CheckRun(r); err != nil {
		return invalid(err)
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bTasks).Get(taskKey(r.ClusterID, r.TaskID)) == nil {
			return notFound("task", r.TaskID)
		}
		runs := tx.Bucket(bRuns)
		key := runKey(r.TaskID, r.ID)
		if runs.Get(key) != nil {
			return fmt.Errorf("run %s of task %s exists: %w", r.ID, r.TaskID, store.ErrConflict)
		}
		if err := putJSON(runs, key, encodeRun(r)); err != nil {
			return err
		}
		return indexRun(tx, r)
	})
}

// indexRun keeps the unfinished index in step with r's status.
func indexRun(tx *bolt.Tx, r *store.Run) error {
	b := tx.Bucket(bUnfinished)
	if r.Status.Final() {
		return b.Delete(unfinishedKey(r.TaskID, r.ID))
	}
	return b.Put(unfinishedKey(r.TaskID, r.ID), present)
}

// getRun returns the stored run, or ErrNotFound.
func getRun(tx *bolt.Tx, taskID, runID uuid.UUID) (*store.Run, error) {
	data := tx.Bucket(bRuns).Get(runKey(taskID, runID))
	if data == nil {
		return nil, notFound("run", runID)
	}
	return decodeRun(data)
}

// UpdateRun implements store.RunStore.
func (s *Store) UpdateRun(ctx context.Context, r *store.Run) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := store.CheckRun(r); err != nil {
		return invalid(err)
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		old, err := getRun(tx, r.TaskID, r.ID)
		if err != nil {
			return err
		}
		if r.Fence < old.Fence {
			return fmt.Errorf("run %s: fence %d < stored %d: %w", r.ID, r.Fence, old.Fence, store.ErrLeaseLost)
		}
		if err := putJSON(tx.Bucket(bRuns), runKey(r.TaskID, r.ID), encodeRun(r)); err != nil {
			return err
		}
		return indexRun(tx, r)
	})
}

// GetRun implements store.RunStore.
func (s *Store) GetRun(ctx context.Context, taskID, runID uuid.UUID) (*store.Run, error) {
	var r *store.Run
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		r, err = getRun(tx, taskID, runID)
		return err
	})
	return r, err
}

// ListRuns implements store.RunStore: a reverse scan of the task's run
// keys, which are ordered by the time in the run ID.
func (s *Store) ListRuns(ctx context.Context, taskID uuid.UUID, limit int) ([]*store.Run, error) {
	out := make([]*store.Run, 0)
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bRuns).Cursor()
		prefix := taskID[:]
		// Every run key of the task sorts before prefix|ff...ff.
		k, _ := c.Seek(cat(prefix, bytes.Repeat([]byte{0xff}, 24)))
		var v []byte
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Prev() {
			if limit > 0 && len(out) == limit {
				break
			}
			r, err := decodeRun(v)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListUnfinishedRuns implements store.RunStore: a scan of the unfinished
// index, which is ordered by the time in the run ID.
func (s *Store) ListUnfinishedRuns(ctx context.Context) ([]*store.Run, error) {
	out := make([]*store.Run, 0)
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bUnfinished).ForEach(func(k, _ []byte) error {
			runID, _ := uuid.FromBytes(k[8:24])
			taskID, _ := uuid.FromBytes(k[24:40])
			r, err := getRun(tx, taskID, runID)
			if err != nil {
				return fmt.Errorf("unfinished index: %w", err)
			}
			out = append(out, r)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func progressKey(runID uuid.UUID, key string) []byte {
	return cat(runID[:], []byte(key))
}

// PutProgress implements store.ProgressStore.
func (s *Store) PutProgress(ctx context.Context, p *store.Progress) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := store.CheckProgress(p); err != nil {
		return invalid(err)
	}
	return s.putProgress(ctx, []*store.Progress{p})
}

// PutProgressBatch implements store.ProgressBatcher: one bbolt transaction
// stores every row or none.
func (s *Store) PutProgressBatch(ctx context.Context, ps []*store.Progress) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := store.CheckProgressBatch(ps); err != nil {
		return invalid(err)
	}
	if len(ps) == 0 {
		return nil
	}
	return s.putProgress(ctx, ps)
}

// putProgress stores checked rows of one run with one fence in one
// transaction.
func (s *Store) putProgress(ctx context.Context, ps []*store.Progress) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		p := ps[0]
		r, err := getRun(tx, p.TaskID, p.RunID)
		if err != nil {
			return err
		}
		if p.Fence < r.Fence {
			return fmt.Errorf("progress of run %s: fence %d < run's %d: %w", p.RunID, p.Fence, r.Fence, store.ErrLeaseLost)
		}
		b := tx.Bucket(bProgress)
		for _, p := range ps {
			if err := putJSON(b, progressKey(p.RunID, p.Key), encodeProgress(p)); err != nil {
				return err
			}
		}
		return nil
	})
}

// ListProgress implements store.ProgressStore.
func (s *Store) ListProgress(ctx context.Context, runID uuid.UUID) ([]*store.Progress, error) {
	out := make([]*store.Progress, 0)
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return prefixScan(tx.Bucket(bProgress), runID[:], func(_, v []byte) error {
			p, err := decodeProgress(v)
			if err != nil {
				return err
			}
			out = append(out, p)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteProgress implements store.ProgressStore.
func (s *Store) DeleteProgress(ctx context.Context, runID uuid.UUID) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		_, err := deletePrefix(tx.Bucket(bProgress), runID[:])
		return err
	})
}
