package scheduler_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/scheduler"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/memstore"
)

// env is a memstore with one cluster, for use inside a synctest bubble.
type env struct {
	t       *testing.T
	st      *memstore.Store
	cluster uuid.UUID
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st := memstore.New()
	c := &store.Cluster{ID: uuid.New(), Name: "prod", Host: "10.0.0.1"}
	if err := st.CreateCluster(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, st: st, cluster: c.ID}
}

func (e *env) addCluster(name string) uuid.UUID {
	c := &store.Cluster{ID: uuid.New(), Name: name, Host: "10.0.0.2"}
	if err := e.st.CreateCluster(e.t.Context(), c); err != nil {
		e.t.Fatal(err)
	}
	return c.ID
}

func (e *env) task(cluster uuid.UUID, typ string, s store.Schedule) *store.Task {
	e.t.Helper()
	if s.StartDate.IsZero() {
		s.StartDate = time.Now().Add(time.Second)
	}
	t := &store.Task{ClusterID: cluster, ID: uuid.New(), Type: typ, Enabled: true, Schedule: s,
		Properties: json.RawMessage(`{}`), CreatedAt: time.Now()}
	if err := e.st.CreateTask(e.t.Context(), t); err != nil {
		e.t.Fatal(err)
	}
	return t
}

func (e *env) runs(taskID uuid.UUID) []*store.Run {
	e.t.Helper()
	rs, err := e.st.ListRuns(context.Background(), taskID, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	// Oldest first.
	for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
		rs[i], rs[j] = rs[j], rs[i]
	}
	return rs
}

func (e *env) events(q store.EventQuery) []*store.Event {
	e.t.Helper()
	q.ClusterID = e.cluster
	evs, err := e.st.QueryEvents(context.Background(), q)
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

// sched is a scheduler running in its own goroutine.
type sched struct {
	*scheduler.Scheduler
	cancel context.CancelFunc
	done   chan struct{}
}

func (e *env) start(opts scheduler.Options, runners map[string]scheduler.Runner) *sched {
	e.t.Helper()
	if opts.SyncInterval == 0 {
		opts.SyncInterval = time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(e.t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	s, err := scheduler.New(e.st, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	for typ, r := range runners {
		s.Register(typ, r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &sched{Scheduler: s, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(h.done)
		if err := s.Run(ctx); err != nil {
			e.t.Errorf("Run: %v", err)
		}
	}()
	e.t.Cleanup(h.stop)
	return h
}

// stop cancels Run and waits for it to return.
func (h *sched) stop() {
	h.cancel()
	<-h.done
}

// call is one Runner invocation.
type call struct {
	task, run uuid.UUID
	at        time.Time
	props     map[string]any
	cause     error
}

// recorder is a Runner that records calls and tracks concurrency. Each
// call lasts dur (virtual time) unless canceled, then returns fail.
type recorder struct {
	mu      sync.Mutex
	calls   []call
	cur     map[string]int // running per key
	max     map[string]int
	dur     time.Duration
	fail    error
	keyFunc func(clusterID, taskID uuid.UUID) string
	// remaining work per run, for resumable runners (0 = use dur).
	left map[uuid.UUID]time.Duration
}

func newRecorder(dur time.Duration) *recorder {
	return &recorder{cur: map[string]int{}, max: map[string]int{}, dur: dur, left: map[uuid.UUID]time.Duration{}}
}

func (r *recorder) Run(ctx context.Context, clusterID, taskID, runID uuid.UUID, properties json.RawMessage) error {
	var props map[string]any
	_ = json.Unmarshal(properties, &props)
	key := "all"
	if r.keyFunc != nil {
		key = r.keyFunc(clusterID, taskID)
	}
	r.mu.Lock()
	r.cur[key]++
	r.max[key] = max(r.max[key], r.cur[key])
	left, ok := r.left[runID]
	if !ok {
		left = r.dur
	}
	r.mu.Unlock()
	start := time.Now()
	var err error
	select {
	case <-time.After(left):
		err = r.fail
		left = 0
	case <-ctx.Done():
		err = context.Cause(ctx)
		left -= time.Since(start)
	}
	r.mu.Lock()
	r.cur[key]--
	r.left[runID] = left
	r.calls = append(r.calls, call{task: taskID, run: runID, at: start, props: props, cause: context.Cause(ctx)})
	r.mu.Unlock()
	return err
}

func (r *recorder) snapshot() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}

func (r *recorder) maxConcurrent(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.max[key]
}
