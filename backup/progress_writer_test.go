package backup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
)

// gateStore is a ProgressStore whose writes wait for gate (when set) and
// that refuses rows with a fence below minFence, as a store does for a
// stale run.
type gateStore struct {
	gate     chan struct{}
	minFence int64

	mu     sync.Mutex
	rows   map[string]string
	writes map[string]int
	calls  int
}

func newGateStore() *gateStore {
	return &gateStore{rows: map[string]string{}, writes: map[string]int{}}
}

func (s *gateStore) PutProgress(_ context.Context, p *store.Progress) error {
	if s.gate != nil {
		<-s.gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if p.Fence < s.minFence {
		return fmt.Errorf("fence %d < %d: %w", p.Fence, s.minFence, store.ErrLeaseLost)
	}
	s.rows[p.Key] = string(p.Data)
	s.writes[p.Key]++
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

func prow(key, data string, fence int64) *store.Progress {
	return &store.Progress{Key: key, Data: []byte(data), Fence: fence}
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
	// progressWriterConcurrency rows in flight, then a full queue.
	n := progressWriterConcurrency + progressWriterMaxQueued
	for i := range n {
		if err := w.put(ctx, prow(fmt.Sprint(i), "x", 0), writeAsync); err != nil {
			t.Fatal(err)
		}
		if i < progressWriterConcurrency {
			waitFor(t, "write in flight", func() bool { w.mu.Lock(); defer w.mu.Unlock(); return w.busy == i+1 })
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
	for i := range progressWriterConcurrency + 3 {
		if err := w.put(ctx, prow(fmt.Sprint(i), "x", 0), writeAsync); err != nil {
			t.Fatal(err)
		}
	}
	// Every writer busy, so the job row stays queued.
	waitFor(t, "writers busy", func() bool { w.mu.Lock(); defer w.mu.Unlock(); return w.busy == progressWriterConcurrency })
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
}
