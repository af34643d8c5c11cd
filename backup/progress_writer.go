package backup

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/scyllaops/scyllaops/store"
)

// A run's progress rows are written by a progressWriter so the per-table
// writes (a fenced lightweight transaction each on cqlstore, several ms)
// leave the per-host loops of the stages: a stage queues its table rows
// and goes on with the next agent call while progressWriterConcurrency
// writers store them, each taking up to progressWriterBatch queued rows
// at once (writeNow rows first) and storing them with one
// PutProgressBatch: one conditional batch on cqlstore, which costs about
// two single-row transactions (BenchmarkCQLPutProgress: 600 rows in 1.3 s
// one by one, in 74 ms as batches of 32). All rows of a run share one
// partition on cqlstore; there concurrent batches contend, but writeNow
// rows must not wait for a free writer: 8 writers made BenchmarkWideBackup
// fastest (2 writers store fewer, larger batches, 415 writes against 623,
// yet took 9.0 s against 8.2 s).
//
// Crash safety is that of the synchronous writes it replaces:
//   - the run row (its stage) is written only after every queued row is
//     stored, so a stored stage still implies the rows of the stages
//     before it (and a resumed run's copied rows);
//   - a row whose loss would lose track of work outside the manager (an
//     agent job just started) is written at once (writeNow), except for
//     the job of a small table, which ends long before a takeover: a
//     redo starts a new job that moves what is left;
//   - at most progressWriterMaxQueued rows are queued or being written at
//     any time (put blocks beyond that), so a crash loses at most that
//     many table updates; each of them is idempotent to redo (a
//     re-listed snapshot, a job re-attached or re-run on files the agent
//     already moved);
//   - hints (writeLazy: a Scylla manifest moved to the bucket, which a
//     redo finds gone and skips; a deduplication that skipped nothing,
//     which a redo decides alike) are not waited for at stage
//     boundaries: they go out with the table's next row (its upload job)
//     or when the run ends, which saves one write per table and hint.
//
// Every row carries the fence of the context it was put with (a batch
// holds rows of one fence only), so a stale run is refused by the store
// as before; the first error a write gets is returned by every later
// put, wait and flush, and stops the writer.
const (
	progressWriterConcurrency = 8
	progressWriterMaxQueued   = 256
	progressWriterBatch       = 32
)

// writeMode says when a row must be stored.
type writeMode int

const (
	// writeAsync queues the row; setStage and close wait for it.
	writeAsync writeMode = iota
	// writeNow queues the row and waits until it is stored.
	writeNow
	// writeLazy keeps the row until the key's next write or close.
	writeLazy
)

// progressWriter writes the progress rows of one run; see above.
type progressWriter struct {
	st store.ProgressStore

	mu     sync.Mutex
	cond   *sync.Cond // on mu; broadcast on every state change
	rows   map[string]*queuedRow
	queue  []string // keys to write, each at most once
	busy   int      // batches in flight
	rowsIn int      // rows in flight (in those batches)
	err    error    // first write error; sticky
	closed bool
	wg     sync.WaitGroup
}

// queuedRow is the newest version of one key.
type queuedRow struct {
	p        *store.Progress
	ver      int64 // versions put
	written  int64 // newest version stored
	queued   bool
	inflight bool
	lazy     bool // p (newer than written) waits for the next write or close
	urgent   bool // requeue first after the write in flight
}

// progressWriterOff makes newProgressWriter return nil, so every row is
// written at once as before it existed; for benchmarks
// (SetProgressWriter in progress_export_test.go).
var progressWriterOff atomic.Bool

// newProgressWriter starts the writers of a run; nil if
// progressWriterOff.
func newProgressWriter(ctx context.Context, st store.ProgressStore) *progressWriter {
	if progressWriterOff.Load() {
		return nil
	}
	w := &progressWriter{st: st, rows: map[string]*queuedRow{}}
	w.cond = sync.NewCond(&w.mu)
	// The run's context without its cancelation: a row queued when the
	// run ends (a job ID just recorded) is still stored.
	wctx := context.WithoutCancel(ctx)
	for range progressWriterConcurrency {
		w.wg.Go(func() { w.work(wctx) })
	}
	return w
}

// put stores p (a row of the run) as mode says.
func (w *progressWriter) put(ctx context.Context, p *store.Progress, mode writeMode) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	// Back-pressure bounds what a crash can lose. A lazy row does not
	// count: it is only a hint.
	for w.err == nil && !w.closed && mode != writeLazy && len(w.queue)+w.rowsIn >= progressWriterMaxQueued {
		if ctx.Err() != nil {
			return fmt.Errorf("backup: save progress %s: %w", p.Key, context.Cause(ctx))
		}
		w.cond.Wait()
	}
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return fmt.Errorf("backup: save progress %s: progress writer closed", p.Key)
	}
	e := w.rows[p.Key]
	if e == nil {
		e = &queuedRow{}
		w.rows[p.Key] = e
	}
	e.p = p
	e.ver++
	ver := e.ver
	if mode == writeLazy && !e.queued {
		// Written with the key's next row, or by close. If a write of
		// the key is in flight, work leaves this version lazy.
		e.lazy = true
		return nil
	}
	e.lazy = false
	w.enqueue(p.Key, e, mode == writeNow)
	if mode != writeNow {
		return nil
	}
	for w.err == nil && e.written < ver {
		w.cond.Wait()
	}
	return w.err
}

// enqueue queues key unless it is queued or in flight (work requeues it
// then), first when urgent (a writeNow row must not wait behind the
// queue); w.mu held.
func (w *progressWriter) enqueue(key string, e *queuedRow, urgent bool) {
	if e.inflight {
		e.urgent = e.urgent || urgent
		return
	}
	if e.queued {
		if urgent {
			if i := slices.Index(w.queue, key); i > 0 {
				w.queue = slices.Insert(slices.Delete(w.queue, i, i+1), 0, key)
			}
		}
		return
	}
	e.queued = true
	if urgent {
		w.queue = slices.Insert(w.queue, 0, key)
	} else {
		w.queue = append(w.queue, key)
	}
	w.cond.Broadcast()
}

// work stores queued rows, up to progressWriterBatch at a time, until the
// writer is closed and drained.
func (w *progressWriter) work(ctx context.Context) {
	w.mu.Lock()
	defer w.mu.Unlock()
	type taken struct {
		e   *queuedRow
		ver int64
	}
	for {
		for len(w.queue) == 0 && !w.closed {
			w.cond.Wait()
		}
		if len(w.queue) == 0 {
			return // closed and drained
		}
		if w.err != nil {
			// Drop: the run is failing anyway.
			for _, key := range w.queue {
				w.rows[key].queued = false
			}
			w.queue = w.queue[:0]
			w.cond.Broadcast()
			continue
		}
		// The head of the queue (writeNow rows first) and the rows after
		// it with the same fence.
		fence := w.rows[w.queue[0]].p.Fence
		var rows []*store.Progress
		var batch []taken
		n := 0
		for ; n < len(w.queue) && len(rows) < progressWriterBatch; n++ {
			e := w.rows[w.queue[n]]
			if e.p.Fence != fence {
				break
			}
			e.queued, e.inflight, e.urgent = false, true, false
			rows = append(rows, e.p)
			batch = append(batch, taken{e, e.ver})
		}
		w.queue = w.queue[n:]
		w.busy++
		w.rowsIn += len(rows)
		w.mu.Unlock()
		err := store.PutProgressBatch(ctx, w.st, rows)
		w.mu.Lock()
		w.busy--
		w.rowsIn -= len(rows)
		for i, b := range batch {
			b.e.inflight = false
			if err != nil {
				continue
			}
			b.e.written = b.ver
			if b.e.ver > b.ver && !b.e.lazy {
				w.enqueue(rows[i].Key, b.e, b.e.urgent)
			}
		}
		if err != nil && w.err == nil {
			if len(rows) == 1 {
				w.err = fmt.Errorf("backup: save progress %s: %w", rows[0].Key, err)
			} else {
				w.err = fmt.Errorf("backup: save progress %s and %d more rows: %w", rows[0].Key, len(rows)-1, err)
			}
		}
		w.cond.Broadcast()
	}
}

// flush waits until every queued row is stored (lazy ones excluded).
func (w *progressWriter) flush(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		w.mu.Lock()
		w.cond.Broadcast()
		w.mu.Unlock()
	})
	defer stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.err == nil && (len(w.queue) > 0 || w.busy > 0) {
		if ctx.Err() != nil {
			return fmt.Errorf("backup: save progress: %w", context.Cause(ctx))
		}
		w.cond.Wait()
	}
	return w.err
}

// close stores the rows left, lazy ones included, stops the writers and
// returns the first write error. Later puts fail.
func (w *progressWriter) close() error {
	w.mu.Lock()
	for key, e := range w.rows {
		if e.lazy {
			e.lazy = false
			w.enqueue(key, e, false)
		}
	}
	w.closed = true
	w.cond.Broadcast()
	w.mu.Unlock()
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// putRow stores a progress row with the run's fencing token and waits
// until it is stored.
func (r *run) putRow(ctx context.Context, key string, v any) error {
	return r.putRowAs(ctx, key, v, writeNow)
}

// putRowAs stores a progress row with the run's fencing token as mode
// says; without a writer (a run not started by Run) it is stored at once.
func (r *run) putRowAs(ctx context.Context, key string, v any, mode writeMode) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("backup: marshal %s: %w", key, err)
	}
	p := &store.Progress{ClusterID: r.clusterID, TaskID: r.taskID, RunID: r.runID, Key: key,
		Data: b, Fence: store.FenceFrom(ctx), UpdatedAt: r.s.opts.Now()}
	if r.pw != nil {
		if key == runRowKey {
			// The stage implies the rows written before it.
			if err := r.pw.flush(ctx); err != nil {
				return err
			}
		}
		return r.pw.put(ctx, p, mode)
	}
	if err := r.s.st.PutProgress(ctx, p); err != nil {
		return fmt.Errorf("backup: save progress %s: %w", key, err)
	}
	return nil
}

// saveTableAs persists one table row as mode says.
func (r *run) saveTableAs(ctx context.Context, t *tableRow, mode writeMode) error {
	r.mu.Lock()
	cp := *t
	r.mu.Unlock()
	r.s.m.setTable(r.clusterID.String(), &cp)
	return r.putRowAs(ctx, tableKey(cp.Host, cp.Keyspace, cp.Table), &cp, mode)
}

// closeProgress stores the rows left and stops the writer; an error is
// logged only: the run's result is decided by then, and a refused write
// (a stale run) changes nothing.
func (r *run) closeProgress(log *slog.Logger) {
	if r.pw == nil {
		return
	}
	if err := r.pw.close(); err != nil {
		log.Warn("backup: progress rows left unsaved", "error", err)
	}
}
