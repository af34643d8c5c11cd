package backup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
)

// gateStore is a ProgressStore whose writes wait for gate (when set) and
// that refuses rows with a fence below minFence, as a store does for a
// stale run, and batches that store.CheckProgressBatch refuses.
type gateStore struct {
	gate     chan struct{}
	minFence int64

	mu      sync.Mutex
	rows    map[string]string
	writes  map[string]int
	calls   int
	batches [][]string // the keys of every call, in call order
}

func newGateStore() *gateStore {
	return &gateStore{rows: map[string]string{}, writes: map[string]int{}}
}

func (s *gateStore) PutProgress(ctx context.Context, p *store.Progress) error {
	return s.PutProgressBatch(ctx, []*store.Progress{p})
}

func (s *gateStore) PutProgressBatch(_ context.Context, ps []*store.Progress) error {
	if s.gate != nil {
		<-s.gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	var keys []string
	for _, p := range ps {
		keys = append(keys, p.Key)
	}
	s.batches = append(s.batches, keys)
	if len(ps) == 0 {
		return errors.New("gateStore: empty batch")
	}
	if err := store.CheckProgressBatch(ps); err != nil {
		return err
	}
	if ps[0].Fence < s.minFence {
		return fmt.Errorf("fence %d < %d: %w", ps[0].Fence, s.minFence, store.ErrLeaseLost)
	}
	for _, p := range ps {
		s.rows[p.Key] = string(p.Data)
		s.writes[p.Key]++
	}
	return nil
}

func (s *gateStore) ListProgress(context.Context, uuid.UUID) ([]*store.Progress, error) {
	return nil, nil
}
func (s *gateStore) DeleteProgress(context.Context, uuid.UUID) error { return nil }

func (s *gateStore) row(key string) (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rows[key], s.writes[key]
}

// prow returns a row of one fixed run.
func prow(key, data string, fence int64) *store.Progress {
	return &store.Progress{TaskID: uuid.UUID{1}, RunID: uuid.UUID{2}, Key: key, Data: []byte(data), Fence: fence}
}

// fillWriters puts progressWriterConcurrency rows "busy<i>" one at a time,
// each taken by a writer of its own (blocked on st.gate), so the rows put
// next stay queued.
func fillWriters(t *testing.T, w *progressWriter) {
	t.Helper()
	for i := range progressWriterConcurrency {
		if err := w.put(t.Context(), prow(fmt.Sprint("busy", i), "x", 0), writeAsync); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "write in flight", func() bool { w.mu.Lock(); defer w.mu.Unlock(); return w.busy == i+1 })
	}
}

// waitFor polls cond for up to 5s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestProgressWriterCoalescesAndKeepsNewest(t *testing.T) {
	st := newGateStore()
	st.gate = make(chan struct{})
	w := newProgressWriter(t.Context(), st)
	ctx := t.Context()
	if err := w.put(ctx, prow("a", "1", 0), writeAsync); err != nil {
		t.Fatal(err)
	}
	// "1" is in flight now (blocked on the gate); 2..5 replace each
	// other and go out as one write after it.
	waitFor(t, "first write in flight", func() bool { w.mu.Lock(); defer w.mu.Unlock(); return w.busy == 1 })
	for i := 2; i <= 5; i++ {
		if err := w.put(ctx, prow("a", fmt.Sprint(i), 0), writeAsync); err != nil {
			t.Fatal(err)
		}
	}
	close(st.gate)
	if err := w.flush(ctx); err != nil {
		t.Fatal(err)
	}
	if data, n := st.row("a"); data != "5" || n != 2 {
		t.Errorf("row a = %q after %d writes, want %q after 2", data, n, "5")
	}
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
	if err := w.put(ctx, prow("a", "6", 0), writeAsync); err == nil {
		t.Error("put after close succeeded")
	}
}

func TestProgressWriterNowWaitsForTheStore(t *testing.T) {
	st := newGateStore()
	st.gate = make(chan struct{})
	w := newProgressWriter(t.Context(), st)
	defer func() { _ = w.close() }()
	done := make(chan error, 1)
	go func() { done <- w.put(t.Context(), prow("job", "42", 0), writeNow) }()
	select {
	case err := <-done:
		t.Fatalf("writeNow returned before the store had the row: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(st.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if data, _ := st.row("job"); data != "42" {
		t.Errorf("row job = %q after writeNow, want 42", data)
	}
}

func TestProgressWriterRefusedFenceStopsTheRun(t *testing.T) {
	st := newGateStore()
	st.minFence = 2
	w := newProgressWriter(t.Context(), st)
	ctx := t.Context()
	if err := w.put(ctx, prow("t1", "x", 1), writeAsync); err != nil {
		t.Fatal(err)
	}
	if err := w.flush(ctx); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("flush after a refused row: %v, want ErrLeaseLost", err)
	}
	if err := w.put(ctx, prow("t2", "x", 1), writeAsync); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("put after a refused row: %v, want ErrLeaseLost", err)
	}
	if err := w.put(ctx, prow("run", "x", 1), writeNow); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("writeNow after a refused row: %v, want ErrLeaseLost", err)
	}
	if err := w.close(); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("close: %v, want ErrLeaseLost", err)
	}
	if _, n := st.row("t2"); n != 0 {
		t.Errorf("t2 written %d times after the run was refused", n)
	}
}

func TestProgressWriterLazyRowsRideAlong(t *testing.T) {
	st := newGateStore()
	w := newProgressWriter(t.Context(), st)
	ctx := t.Context()
	for _, k := range []string{"a", "b"} {
		if err := w.put(ctx, prow(k, "moved", 0), writeLazy); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, n := st.row("a"); n != 0 {
		t.Errorf("lazy row a written %d times by flush, want 0", n)
	}
	// a's next row replaces the hint: one write for both.
	if err := w.put(ctx, prow("a", "moved+deduplicated", 0), writeAsync); err != nil {
		t.Fatal(err)
	}
	if err := w.flush(ctx); err != nil {
		t.Fatal(err)
	}
	if data, n := st.row("a"); data != "moved+deduplicated" || n != 1 {
		t.Errorf("row a = %q after %d writes, want moved+deduplicated after 1", data, n)
	}
	// close stores the hints left.
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
	if data, n := st.row("b"); data != "moved" || n != 1 {
		t.Errorf("row b = %q after %d writes at close, want moved after 1", data, n)
	}
}

func TestProgressWriterBoundsQueuedRows(t *testing.T) {
	st := newGateStore()
	st.gate = make(chan struct{})
	w := newProgressWriter(t.Context(), st)
	ctx := t.Context()
	// progressWriterConcurrency rows in flight, then a full queue: rows
	// in flight count against the bound.
	fillWriters(t, w)
	n := progressWriterMaxQueued
	for i := progressWriterConcurrency; i < n; i++ {
		if err := w.put(ctx, prow(fmt.Sprint(i), "x", 0), writeAsync); err != nil {
			t.Fatal(err)
		}
	}
	blocked := make(chan error, 1)
	go func() { blocked <- w.put(ctx, prow("over", "x", 0), writeAsync) }()
	select {
	case err := <-blocked:
		t.Fatalf("put beyond %d queued rows returned at once: %v", progressWriterMaxQueued, err)
	case <-time.After(50 * time.Millisecond):
	}
	close(st.gate)
	if err := <-blocked; err != nil {
		t.Fatal(err)
	}
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.rows) != n+1 {
		t.Errorf("%d rows stored, want %d", len(st.rows), n+1)
	}
}

func TestProgressWriterNowJumpsTheQueue(t *testing.T) {
	st := newGateStore()
	st.gate = make(chan struct{})
	w := newProgressWriter(t.Context(), st)
	ctx := t.Context()
	// Every writer busy, so the rows put next stay queued.
	fillWriters(t, w)
	for i := range 3 {
		if err := w.put(ctx, prow(fmt.Sprint(i), "x", 0), writeAsync); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- w.put(ctx, prow("job", "1", 0), writeNow) }()
	waitFor(t, "job row queued", func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return slices.Contains(w.queue, "job")
	})
	w.mu.Lock()
	first := w.queue[0]
	w.mu.Unlock()
	if first != "job" {
		t.Errorf("queue starts with %q, want the writeNow row first", first)
	}
	close(st.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, b := range st.batches {
		if i := slices.Index(b, "job"); i > 0 {
			t.Errorf("batch %v holds the writeNow row at %d, want it first", b, i)
		}
	}
}

func TestProgressWriterBatchesQueuedRows(t *testing.T) {
	st := newGateStore()
	st.gate = make(chan struct{})
	w := newProgressWriter(t.Context(), st)
	ctx := t.Context()
	fillWriters(t, w)
	// 100 rows queued behind busy writers go out as 32+32+32+4 once the
	// writers are free; a key put twice is written once, with its newest
	// data.
	const queued = 100
	for i := range queued {
		if err := w.put(ctx, prow(fmt.Sprint(i), "old", 0), writeAsync); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.put(ctx, prow("7", "new", 0), writeAsync); err != nil {
		t.Fatal(err)
	}
	close(st.gate)
	if err := w.flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if want := progressWriterConcurrency + (queued+progressWriterBatch-1)/progressWriterBatch; st.calls != want {
		t.Errorf("%d store calls for %d busy + %d queued rows, want %d: %v", st.calls, progressWriterConcurrency, queued, want, st.batches)
	}
	for _, b := range st.batches {
		if len(b) > progressWriterBatch {
			t.Errorf("batch of %d rows, want at most %d", len(b), progressWriterBatch)
		}
	}
	if len(st.rows) != queued+progressWriterConcurrency {
		t.Errorf("%d rows stored, want %d", len(st.rows), queued+progressWriterConcurrency)
	}
	for k, n := range st.writes {
		if n != 1 {
			t.Errorf("row %s written %d times, want once", k, n)
		}
	}
	if st.rows["7"] != "new" {
		t.Errorf("row 7 = %q, want the newest put", st.rows["7"])
	}
}

func TestProgressWriterBatchHoldsOneFence(t *testing.T) {
	st := newGateStore()
	st.gate = make(chan struct{})
	w := newProgressWriter(t.Context(), st)
	ctx := t.Context()
	fillWriters(t, w)
	for i, fence := range []int64{0, 0, 1, 1, 0} {
		if err := w.put(ctx, prow(fmt.Sprint(i), "x", fence), writeAsync); err != nil {
			t.Fatal(err)
		}
	}
	close(st.gate)
	// gateStore refuses a batch of mixed fences (CheckProgressBatch).
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	var got [][]string
	for _, b := range st.batches {
		if !strings.HasPrefix(b[0], "busy") {
			got = append(got, b)
		}
	}
	slices.SortFunc(got, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
	if want := "[[0 1] [2 3] [4]]"; fmt.Sprint(got) != want {
		t.Errorf("batches of the queued rows = %v, want %s", got, want)
	}
}
