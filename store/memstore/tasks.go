package memstore

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
)

// CreateTask implements store.TaskStore.
func (s *Store) CreateTask(ctx context.Context, t *store.Task) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := store.CheckTask(t); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, ok := s.clusters[t.ClusterID]; !ok {
		return notFound("cluster", t.ClusterID)
	}
	if _, ok := s.tasks[t.ID]; ok {
		return conflict("task %s exists", t.ID)
	}
	if err := s.checkTaskNameLocked(t); err != nil {
		return err
	}
	s.tasks[t.ID] = cloneTask(t)
	return nil
}

// checkTaskNameLocked refuses a name used by another non-deleted task of
// the same cluster and type.
func (s *Store) checkTaskNameLocked(t *store.Task) error {
	if t.Name == "" || t.Deleted {
		return nil
	}
	for _, o := range s.tasks {
		if o.ID != t.ID && !o.Deleted && o.ClusterID == t.ClusterID && o.Type == t.Type && o.Name == t.Name {
			return conflict("task name %q is taken by %s task %s", t.Name, o.Type, o.ID)
		}
	}
	return nil
}

// UpdateTask implements store.TaskStore.
func (s *Store) UpdateTask(ctx context.Context, t *store.Task) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := store.CheckTask(t); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	old, ok := s.tasks[t.ID]
	if !ok || old.ClusterID != t.ClusterID {
		return notFound("task", t.ID)
	}
	if err := s.checkTaskNameLocked(t); err != nil {
		return err
	}
	s.tasks[t.ID] = cloneTask(t)
	return nil
}

// GetTask implements store.TaskStore.
func (s *Store) GetTask(ctx context.Context, clusterID, taskID uuid.UUID) (*store.Task, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	t, ok := s.tasks[taskID]
	if !ok || t.ClusterID != clusterID {
		return nil, notFound("task", taskID)
	}
	return cloneTask(t), nil
}

// ListTasks implements store.TaskStore.
func (s *Store) ListTasks(ctx context.Context, clusterID uuid.UUID) ([]*store.Task, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make([]*store.Task, 0)
	for _, t := range s.tasks {
		if clusterID == uuid.Nil || t.ClusterID == clusterID {
			out = append(out, cloneTask(t))
		}
	}
	slices.SortFunc(out, compareTasks)
	return out, nil
}

func compareTasks(a, b *store.Task) int {
	return cmp.Or(
		bytes.Compare(a.ClusterID[:], b.ClusterID[:]),
		cmp.Compare(a.Type, b.Type),
		cmp.Compare(a.Name, b.Name),
		bytes.Compare(a.ID[:], b.ID[:]),
	)
}

// DeleteTask implements store.TaskStore.
func (s *Store) DeleteTask(ctx context.Context, clusterID, taskID uuid.UUID) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	t, ok := s.tasks[taskID]
	if !ok || t.ClusterID != clusterID {
		return notFound("task", taskID)
	}
	s.deleteTaskLocked(taskID)
	return nil
}

// deleteTaskLocked removes a task with its runs and their progress rows.
func (s *Store) deleteTaskLocked(taskID uuid.UUID) {
	for runID := range s.runs[taskID] {
		delete(s.progress, runID)
	}
	delete(s.runs, taskID)
	delete(s.tasks, taskID)
}

// CreateRun implements store.RunStore.
func (s *Store) CreateRun(ctx context.Context, r *store.Run) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := store.CheckRun(r); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	t, ok := s.tasks[r.TaskID]
	if !ok || t.ClusterID != r.ClusterID {
		return notFound("task", r.TaskID)
	}
	m := s.runs[r.TaskID]
	if m == nil {
		m = make(map[uuid.UUID]*store.Run)
		s.runs[r.TaskID] = m
	}
	if _, ok := m[r.ID]; ok {
		return conflict("run %s of task %s exists", r.ID, r.TaskID)
	}
	m[r.ID] = cloneRun(r)
	return nil
}

// UpdateRun implements store.RunStore.
func (s *Store) UpdateRun(ctx context.Context, r *store.Run) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := store.CheckRun(r); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	old, ok := s.runs[r.TaskID][r.ID]
	if !ok {
		return notFound("run", r.ID)
	}
	if r.Fence < old.Fence {
		return fmt.Errorf("memstore: run %s: fence %d < stored %d: %w", r.ID, r.Fence, old.Fence, store.ErrLeaseLost)
	}
	s.runs[r.TaskID][r.ID] = cloneRun(r)
	return nil
}

// GetRun implements store.RunStore.
func (s *Store) GetRun(ctx context.Context, taskID, runID uuid.UUID) (*store.Run, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	r, ok := s.runs[taskID][runID]
	if !ok {
		return nil, notFound("run", runID)
	}
	return cloneRun(r), nil
}

// compareRuns orders runs by the time in their ID, then by ID bytes.
func compareRuns(a, b *store.Run) int {
	return cmp.Or(
		store.UUIDTime(a.ID).Compare(store.UUIDTime(b.ID)),
		bytes.Compare(a.ID[:], b.ID[:]),
	)
}

// ListRuns implements store.RunStore.
func (s *Store) ListRuns(ctx context.Context, taskID uuid.UUID, limit int) ([]*store.Run, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	m := s.runs[taskID]
	all := make([]*store.Run, 0, len(m))
	for _, r := range m {
		all = append(all, r)
	}
	slices.SortFunc(all, func(a, b *store.Run) int { return compareRuns(b, a) })
	if limit > 0 && len(all) > limit {
		all = all[:limit]
	}
	out := make([]*store.Run, len(all))
	for i, r := range all {
		out[i] = cloneRun(r)
	}
	return out, nil
}

// ListUnfinishedRuns implements store.RunStore.
func (s *Store) ListUnfinishedRuns(ctx context.Context) ([]*store.Run, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make([]*store.Run, 0)
	for _, m := range s.runs {
		for _, r := range m {
			if !r.Status.Final() {
				out = append(out, cloneRun(r))
			}
		}
	}
	slices.SortFunc(out, compareRuns)
	return out, nil
}

// PutProgress implements store.ProgressStore.
func (s *Store) PutProgress(ctx context.Context, p *store.Progress) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := store.CheckProgress(p); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	return s.putProgress(ctx, []*store.Progress{p})
}

// PutProgressBatch implements store.ProgressBatcher: the rows are stored
// under one lock hold, so readers see all of them or none.
func (s *Store) PutProgressBatch(ctx context.Context, ps []*store.Progress) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := store.CheckProgressBatch(ps); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	if len(ps) == 0 {
		return nil
	}
	return s.putProgress(ctx, ps)
}

// putProgress stores checked rows of one run with one fence.
func (s *Store) putProgress(ctx context.Context, ps []*store.Progress) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	p := ps[0]
	r, ok := s.runs[p.TaskID][p.RunID]
	if !ok {
		return notFound("run", p.RunID)
	}
	if p.Fence < r.Fence {
		return fmt.Errorf("memstore: progress of run %s: fence %d < run's %d: %w", p.RunID, p.Fence, r.Fence, store.ErrLeaseLost)
	}
	m := s.progress[p.RunID]
	if m == nil {
		m = make(map[string]*store.Progress, len(ps))
		s.progress[p.RunID] = m
	}
	for _, p := range ps {
		m[p.Key] = cloneProgress(p)
	}
	return nil
}

// ListProgress implements store.ProgressStore.
func (s *Store) ListProgress(ctx context.Context, runID uuid.UUID) ([]*store.Progress, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	m := s.progress[runID]
	out := make([]*store.Progress, 0, len(m))
	for _, p := range m {
		out = append(out, cloneProgress(p))
	}
	slices.SortFunc(out, func(a, b *store.Progress) int { return cmp.Compare(a.Key, b.Key) })
	return out, nil
}

// DeleteProgress implements store.ProgressStore.
func (s *Store) DeleteProgress(ctx context.Context, runID uuid.UUID) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	delete(s.progress, runID)
	return nil
}
