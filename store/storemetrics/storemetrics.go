package storemetrics

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/scyllaops/scyllaops/store"
)

// op names a method of store.Store; its index selects the method's
// pre-resolved series.
type op int

const (
	opCreateCluster op = iota
	opUpdateCluster
	opGetCluster
	opGetClusterByName
	opListClusters
	opDeleteCluster
	opPutSecret
	opGetSecret
	opDeleteSecret
	opListSecretKeys
	opCreateTask
	opUpdateTask
	opGetTask
	opListTasks
	opDeleteTask
	opCreateRun
	opUpdateRun
	opGetRun
	opListRuns
	opListUnfinishedRuns
	opPutProgress
	opPutProgressBatch
	opListProgress
	opDeleteProgress
	opAppendEvent
	opQueryEvents
	opAcquireLease
	opRenewLease
	opReleaseLease
	opGetLease
	opClose
	numOps
)

// opNames are the op label values, indexed by op. Read-only.
var opNames = [numOps]string{
	"create_cluster", "update_cluster", "get_cluster", "get_cluster_by_name", "list_clusters", "delete_cluster",
	"put_secret", "get_secret", "delete_secret", "list_secret_keys",
	"create_task", "update_task", "get_task", "list_tasks", "delete_task",
	"create_run", "update_run", "get_run", "list_runs", "list_unfinished_runs",
	"put_progress", "put_progress_batch", "list_progress", "delete_progress",
	"append_event", "query_events",
	"acquire_lease", "renew_lease", "release_lease", "get_lease",
	"close",
}

// result classifies a call's error; see the package doc for the order.
type result int

const (
	resOK result = iota
	resNotFound
	resConflict
	resLeaseLost
	resLeaseHeld
	resInvalid
	resClosed
	resCanceled
	resUnavailable
	resError
	numResults
)

// resultNames are the result label values, indexed by result. Read-only.
var resultNames = [numResults]string{
	"ok", "not_found", "conflict", "lease_lost", "lease_held", "invalid", "closed", "canceled", "unavailable", "error",
}

// classify returns the result of an error; the order is the package doc's.
func classify(err error) result {
	switch {
	case err == nil:
		return resOK
	case errors.Is(err, store.ErrNotFound):
		return resNotFound
	case errors.Is(err, store.ErrConflict):
		return resConflict
	case errors.Is(err, store.ErrLeaseLost):
		return resLeaseLost
	case errors.Is(err, store.ErrLeaseHeld):
		return resLeaseHeld
	case errors.Is(err, store.ErrInvalid):
		return resInvalid
	case errors.Is(err, store.ErrClosed):
		return resClosed
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return resCanceled
	case errors.Is(err, store.ErrUnavailable):
		return resUnavailable
	}
	return resError
}

// DurationBuckets are the bounds (seconds) of
// scyllaops_store_request_duration_seconds: 0.1 ms to 10 s.
func DurationBuckets() []float64 {
	return []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
}

// opSeries are the series of one op, resolved once so that a call costs
// no label lookup.
type opSeries struct {
	dur     prometheus.Observer
	results [numResults]prometheus.Counter
}

// Store is a store.Store that forwards every call to the wrapped store and
// records it. Create it with Wrap.
type Store struct {
	s   store.Store
	ops [numOps]opSeries
}

var (
	_ store.Store           = (*Store)(nil)
	_ store.ProgressBatcher = (*Store)(nil)
)

// Wrap returns s wrapped so that its calls are counted and timed (see the
// package doc for the metrics). It registers the collectors on reg (nil:
// none); if reg refuses them, for example because another Wrap already
// registered them there, Wrap returns the registration error (it wraps
// prometheus.AlreadyRegisteredError in that case) and leaves reg as it
// was.
func Wrap(s store.Store, reg prometheus.Registerer) (*Store, error) {
	if s == nil {
		return nil, store.Invalid("store", "a non-nil store.Store", "")
	}
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "scyllaops", Subsystem: "store", Name: "requests_total",
		Help: "Calls of the store's methods by op (method) and result (ok, not_found, conflict, lease_lost, lease_held, invalid, closed, canceled, unavailable, error).",
	}, []string{"op", "result"})
	durations := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "scyllaops", Subsystem: "store", Name: "request_duration_seconds",
		Help:    "Duration of the store's method calls by op (method), whatever their result.",
		Buckets: DurationBuckets(),
	}, []string{"op"})
	if reg != nil {
		if err := reg.Register(requests); err != nil {
			return nil, fmt.Errorf("storemetrics: register %s: %w", "scyllaops_store_requests_total", err)
		}
		if err := reg.Register(durations); err != nil {
			reg.Unregister(requests)
			return nil, fmt.Errorf("storemetrics: register %s: %w", "scyllaops_store_request_duration_seconds", err)
		}
	}
	w := &Store{s: s}
	for o := range numOps {
		w.ops[o].dur = durations.WithLabelValues(opNames[o])
		for r := range numResults {
			w.ops[o].results[r] = requests.WithLabelValues(opNames[o], resultNames[r])
		}
	}
	return w, nil
}

// Unwrap returns the wrapped store.
func (w *Store) Unwrap() store.Store { return w.s }

// observe calls f and records its duration and result under o. Every
// method goes through it (or through observeErr).
func observe[T any](w *Store, o op, f func() (T, error)) (T, error) {
	start := time.Now()
	v, err := f()
	ser := &w.ops[o]
	ser.dur.Observe(time.Since(start).Seconds())
	ser.results[classify(err)].Inc()
	return v, err
}

// observeErr is observe for methods that return only an error.
func observeErr(w *Store, o op, f func() error) error {
	_, err := observe(w, o, func() (struct{}, error) { return struct{}{}, f() })
	return err
}

// CreateCluster forwards to the wrapped store.
func (w *Store) CreateCluster(ctx context.Context, c *store.Cluster) error {
	return observeErr(w, opCreateCluster, func() error { return w.s.CreateCluster(ctx, c) })
}

// UpdateCluster forwards to the wrapped store.
func (w *Store) UpdateCluster(ctx context.Context, c *store.Cluster) error {
	return observeErr(w, opUpdateCluster, func() error { return w.s.UpdateCluster(ctx, c) })
}

// GetCluster forwards to the wrapped store.
func (w *Store) GetCluster(ctx context.Context, id uuid.UUID) (*store.Cluster, error) {
	return observe(w, opGetCluster, func() (*store.Cluster, error) { return w.s.GetCluster(ctx, id) })
}

// GetClusterByName forwards to the wrapped store.
func (w *Store) GetClusterByName(ctx context.Context, name string) (*store.Cluster, error) {
	return observe(w, opGetClusterByName, func() (*store.Cluster, error) { return w.s.GetClusterByName(ctx, name) })
}

// ListClusters forwards to the wrapped store.
func (w *Store) ListClusters(ctx context.Context) ([]*store.Cluster, error) {
	return observe(w, opListClusters, func() ([]*store.Cluster, error) { return w.s.ListClusters(ctx) })
}

// DeleteCluster forwards to the wrapped store.
func (w *Store) DeleteCluster(ctx context.Context, id uuid.UUID) error {
	return observeErr(w, opDeleteCluster, func() error { return w.s.DeleteCluster(ctx, id) })
}

// PutSecret forwards to the wrapped store.
func (w *Store) PutSecret(ctx context.Context, clusterID uuid.UUID, key string, value []byte) error {
	return observeErr(w, opPutSecret, func() error { return w.s.PutSecret(ctx, clusterID, key, value) })
}

// GetSecret forwards to the wrapped store.
func (w *Store) GetSecret(ctx context.Context, clusterID uuid.UUID, key string) ([]byte, error) {
	return observe(w, opGetSecret, func() ([]byte, error) { return w.s.GetSecret(ctx, clusterID, key) })
}

// DeleteSecret forwards to the wrapped store.
func (w *Store) DeleteSecret(ctx context.Context, clusterID uuid.UUID, key string) error {
	return observeErr(w, opDeleteSecret, func() error { return w.s.DeleteSecret(ctx, clusterID, key) })
}

// ListSecretKeys forwards to the wrapped store.
func (w *Store) ListSecretKeys(ctx context.Context, clusterID uuid.UUID) ([]string, error) {
	return observe(w, opListSecretKeys, func() ([]string, error) { return w.s.ListSecretKeys(ctx, clusterID) })
}

// CreateTask forwards to the wrapped store.
func (w *Store) CreateTask(ctx context.Context, t *store.Task) error {
	return observeErr(w, opCreateTask, func() error { return w.s.CreateTask(ctx, t) })
}

// UpdateTask forwards to the wrapped store.
func (w *Store) UpdateTask(ctx context.Context, t *store.Task) error {
	return observeErr(w, opUpdateTask, func() error { return w.s.UpdateTask(ctx, t) })
}

// GetTask forwards to the wrapped store.
func (w *Store) GetTask(ctx context.Context, clusterID, taskID uuid.UUID) (*store.Task, error) {
	return observe(w, opGetTask, func() (*store.Task, error) { return w.s.GetTask(ctx, clusterID, taskID) })
}

// ListTasks forwards to the wrapped store.
func (w *Store) ListTasks(ctx context.Context, clusterID uuid.UUID) ([]*store.Task, error) {
	return observe(w, opListTasks, func() ([]*store.Task, error) { return w.s.ListTasks(ctx, clusterID) })
}

// DeleteTask forwards to the wrapped store.
func (w *Store) DeleteTask(ctx context.Context, clusterID, taskID uuid.UUID) error {
	return observeErr(w, opDeleteTask, func() error { return w.s.DeleteTask(ctx, clusterID, taskID) })
}

// CreateRun forwards to the wrapped store.
func (w *Store) CreateRun(ctx context.Context, r *store.Run) error {
	return observeErr(w, opCreateRun, func() error { return w.s.CreateRun(ctx, r) })
}

// UpdateRun forwards to the wrapped store.
func (w *Store) UpdateRun(ctx context.Context, r *store.Run) error {
	return observeErr(w, opUpdateRun, func() error { return w.s.UpdateRun(ctx, r) })
}

// GetRun forwards to the wrapped store.
func (w *Store) GetRun(ctx context.Context, taskID, runID uuid.UUID) (*store.Run, error) {
	return observe(w, opGetRun, func() (*store.Run, error) { return w.s.GetRun(ctx, taskID, runID) })
}

// ListRuns forwards to the wrapped store.
func (w *Store) ListRuns(ctx context.Context, taskID uuid.UUID, limit int) ([]*store.Run, error) {
	return observe(w, opListRuns, func() ([]*store.Run, error) { return w.s.ListRuns(ctx, taskID, limit) })
}

// ListUnfinishedRuns forwards to the wrapped store.
func (w *Store) ListUnfinishedRuns(ctx context.Context) ([]*store.Run, error) {
	return observe(w, opListUnfinishedRuns, func() ([]*store.Run, error) { return w.s.ListUnfinishedRuns(ctx) })
}

// PutProgress forwards to the wrapped store.
func (w *Store) PutProgress(ctx context.Context, p *store.Progress) error {
	return observeErr(w, opPutProgress, func() error { return w.s.PutProgress(ctx, p) })
}

// PutProgressBatch forwards to the wrapped store's PutProgressBatch, or
// its row-by-row fallback when it is not a store.ProgressBatcher (one
// call, one count, however many chunks or rows the store writes).
func (w *Store) PutProgressBatch(ctx context.Context, ps []*store.Progress) error {
	return observeErr(w, opPutProgressBatch, func() error { return store.PutProgressBatch(ctx, w.s, ps) })
}

// ListProgress forwards to the wrapped store.
func (w *Store) ListProgress(ctx context.Context, runID uuid.UUID) ([]*store.Progress, error) {
	return observe(w, opListProgress, func() ([]*store.Progress, error) { return w.s.ListProgress(ctx, runID) })
}

// DeleteProgress forwards to the wrapped store.
func (w *Store) DeleteProgress(ctx context.Context, runID uuid.UUID) error {
	return observeErr(w, opDeleteProgress, func() error { return w.s.DeleteProgress(ctx, runID) })
}

// AppendEvent forwards to the wrapped store.
func (w *Store) AppendEvent(ctx context.Context, e *store.Event) error {
	return observeErr(w, opAppendEvent, func() error { return w.s.AppendEvent(ctx, e) })
}

// QueryEvents forwards to the wrapped store.
func (w *Store) QueryEvents(ctx context.Context, q store.EventQuery) ([]*store.Event, error) {
	return observe(w, opQueryEvents, func() ([]*store.Event, error) { return w.s.QueryEvents(ctx, q) })
}

// AcquireLease forwards to the wrapped store.
func (w *Store) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (store.Lease, error) {
	return observe(w, opAcquireLease, func() (store.Lease, error) { return w.s.AcquireLease(ctx, name, owner, ttl) })
}

// RenewLease forwards to the wrapped store.
func (w *Store) RenewLease(ctx context.Context, l store.Lease, ttl time.Duration) (store.Lease, error) {
	return observe(w, opRenewLease, func() (store.Lease, error) { return w.s.RenewLease(ctx, l, ttl) })
}

// ReleaseLease forwards to the wrapped store.
func (w *Store) ReleaseLease(ctx context.Context, l store.Lease) error {
	return observeErr(w, opReleaseLease, func() error { return w.s.ReleaseLease(ctx, l) })
}

// GetLease forwards to the wrapped store.
func (w *Store) GetLease(ctx context.Context, name string) (store.Lease, error) {
	return observe(w, opGetLease, func() (store.Lease, error) { return w.s.GetLease(ctx, name) })
}

// Close closes the wrapped store. It unregisters nothing: the metrics keep
// their values, and later calls are counted with result "closed".
func (w *Store) Close() error {
	return observeErr(w, opClose, w.s.Close)
}
