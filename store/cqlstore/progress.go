package cqlstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/gocql/gocql"

	"github.com/scyllaops/scyllaops/store"
)

// Progress rows are written with fenced lightweight transactions on the
// run's partition (run_progress, partition key run_id), whose static
// column fence is the run's fence. A batch of rows is one conditional
// batch: every UPDATE of it carries the same "IF fence = ?", which
// Cassandra (2.0.6+) and ScyllaDB accept when all statements address one
// partition, and which they apply or refuse as a whole. PutProgress is a
// batch of one, sent as a plain conditional UPDATE.

// Bounds of one conditional batch; a larger PutProgressBatch is stored as
// consecutive chunks, each atomic. Cassandra and ScyllaDB do not apply
// batch_size_warn/fail_threshold to conditional batches (Cassandra's
// BatchStatement checks the size only on its unconditional path), but a
// conditional batch is one Paxos proposal: every replica stores it in
// system.paxos, then applies it, and a timeout redoes all of it. The
// bounds keep that at about what a backup's rows need: 64 rows (a
// progress writer's batch of 32 in one chunk), 256 KiB of keys and data
// (a table row lists the table's SSTable files, ~1 KiB per SSTable).
const (
	progressBatchMaxRows  = 64
	progressBatchMaxBytes = 256 << 10
	// progressRowOverhead approximates the bytes of a row's other cells
	// (ids, fence, time, TTL) in the mutation.
	progressRowOverhead = 128
)

const putProgressStmt = "UPDATE run_progress USING TTL ? SET cluster_id = ?, task_id = ?, data = ?, " +
	"row_fence = ?, updated_at = ? WHERE run_id = ? AND key = ? IF fence = ?"

// PutProgress implements store.ProgressStore.
func (s *Store) PutProgress(ctx context.Context, p *store.Progress) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if err := store.CheckProgress(p); err != nil {
		return fmt.Errorf("cqlstore: %w", err)
	}
	return s.putProgress(ctx, []*store.Progress{p}, fmt.Sprintf("put progress %s of run %s", p.Key, p.RunID))
}

// PutProgressBatch implements store.ProgressBatcher. Rows beyond 64, or
// beyond 256 KiB of keys and data, are stored in chunks of that size, in
// order: each chunk is one conditional batch, all or none, and the first
// chunk that fails ends the call with its error, the chunks before it
// stored.
func (s *Store) PutProgressBatch(ctx context.Context, ps []*store.Progress) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if err := store.CheckProgressBatch(ps); err != nil {
		return fmt.Errorf("cqlstore: %w", err)
	}
	for _, c := range chunkProgress(ps, progressBatchMaxRows, progressBatchMaxBytes) {
		what := fmt.Sprintf("put %d progress rows (%s..%s) of run %s", len(c), c[0].Key, c[len(c)-1].Key, c[0].RunID)
		if len(c) == 1 {
			what = fmt.Sprintf("put progress %s of run %s", c[0].Key, c[0].RunID)
		}
		if err := s.putProgress(ctx, c, what); err != nil {
			return err
		}
	}
	return nil
}

// chunkProgress splits ps into consecutive chunks of at most maxRows rows
// and, unless a single row is larger, maxBytes bytes (key, data and
// progressRowOverhead per row).
func chunkProgress(ps []*store.Progress, maxRows, maxBytes int) [][]*store.Progress {
	var out [][]*store.Progress
	start, size := 0, 0
	for i, p := range ps {
		n := len(p.Key) + len(p.Data) + progressRowOverhead
		if i > start && (i-start == maxRows || size+n > maxBytes) {
			out = append(out, ps[start:i])
			start, size = i, 0
		}
		size += n
	}
	if start < len(ps) {
		out = append(out, ps[start:])
	}
	return out
}

// putProgress stores rows (validated, of one run and fence, at most one
// chunk) in one fenced transaction, with the optimistic loop described
// in runs.go: it first expects the partition's fence to equal the rows'
// fence; on refusal the answer carries the stored fence, higher means
// ErrLeaseLost, lower means the run's fence is older than the writer's
// lease (retry with it), absent means no fence row: either no run
// (ErrNotFound) or CreateRun stopped before writing it (write it from the
// run, then retry, or ErrLeaseLost if the run's fence is higher).
func (s *Store) putProgress(ctx context.Context, rows []*store.Progress, what string) error {
	p := rows[0]
	ttl := int64(ceilSeconds(s.opts.ProgressTTL))
	expect := p.Fence
	for range maxFenceTries {
		// The partition's fence is only compared, never raised here: it
		// is the run's fence, which only UpdateRun changes.
		applied, m, err := s.casProgress(ctx, rows, ttl, expect)
		if err != nil {
			return s.dbErr(what, err)
		}
		if applied {
			return nil
		}
		expect, err = casFence(m, p.Fence, what)
		if errors.Is(err, store.ErrNotFound) {
			r, gerr := s.getRun(ctx, p.TaskID, p.RunID)
			if gerr != nil {
				return gerr
			}
			if r.Fence > p.Fence {
				// Retrying with the run's fence as the condition would
				// store the stale rows.
				return fmt.Errorf("cqlstore: %s: fence %d is lower than the run's %d: %w", what, p.Fence, r.Fence, store.ErrLeaseLost)
			}
			if ierr := s.initRunFence(ctx, p.RunID, r.Fence); ierr != nil {
				return ierr
			}
			expect = r.Fence
			continue
		}
		if err != nil {
			return err
		}
	}
	return fmt.Errorf("cqlstore: %s: contended: %w", what, store.ErrLeaseLost)
}

// casProgress sends one attempt: a conditional UPDATE for one row, a
// conditional batch of UPDATEs for more. On refusal m holds the first
// row of the answer; its "fence" is the partition's stored fence, absent
// when the partition has no fence row.
func (s *Store) casProgress(ctx context.Context, rows []*store.Progress, ttl, expect int64) (applied bool, m map[string]any, err error) {
	m = map[string]any{}
	if len(rows) == 1 {
		p := rows[0]
		applied, err = s.query(ctx, putProgressStmt, ttl, gocql.UUID(p.ClusterID), gocql.UUID(p.TaskID), []byte(p.Data),
			p.Fence, p.UpdatedAt, gocql.UUID(p.RunID), p.Key, expect).MapScanCAS(m)
		return applied, m, err
	}
	sess := s.current()
	// A conditional batch goes through Paxos whatever its type; LOGGED is
	// what BEGIN BATCH means.
	b := sess.NewBatch(gocql.LoggedBatch).WithContext(ctx)
	for _, p := range rows {
		b.Query(putProgressStmt, ttl, gocql.UUID(p.ClusterID), gocql.UUID(p.TaskID), []byte(p.Data),
			p.Fence, p.UpdatedAt, gocql.UUID(p.RunID), p.Key, expect)
	}
	// The answer of a refused batch has one row per condition's row; all
	// conditions are on the partition's static row here, so one row.
	applied, it, err := sess.MapExecuteBatchCAS(b, m)
	if it != nil {
		if cerr := it.Close(); err == nil {
			err = cerr
		}
	}
	return applied, m, err
}
