package storemetrics_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/boltstore"
	"github.com/scyllaops/scyllaops/store/memstore"
	"github.com/scyllaops/scyllaops/store/storemetrics"
	"github.com/scyllaops/scyllaops/store/storetest"
)

const (
	requestsName = "scyllaops_store_requests_total"
	durationName = "scyllaops_store_request_duration_seconds"
	numOps       = 31 // the 30 methods of store.Store and Close
	numResults   = 10
)

// wrap wraps s on a new pedantic registry.
func wrap(t *testing.T, s store.Store) (*storemetrics.Store, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	w, err := storemetrics.Wrap(s, reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w, reg
}

func TestConformanceMemstore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		w, _ := wrap(t, memstore.New())
		return w
	})
}

func TestConformanceBoltstore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := boltstore.Open(t.Context(), filepath.Join(t.TempDir(), "store.db"), boltstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		w, _ := wrap(t, s)
		return w
	})
}

// counts gathers reg: the request counters by "op/result" and the
// histogram's sample counts by op.
func counts(t *testing.T, reg prometheus.Gatherer) (requests map[string]float64, durations map[string]uint64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	requests, durations = map[string]float64{}, map[string]uint64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			switch mf.GetName() {
			case requestsName:
				requests[l["op"]+"/"+l["result"]] = m.GetCounter().GetValue()
			case durationName:
				durations[l["op"]] = m.GetHistogram().GetSampleCount()
			}
		}
	}
	return requests, durations
}

// nonZero drops the zero entries of m.
func nonZero[V float64 | uint64](m map[string]V) map[string]V {
	out := map[string]V{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

// TestCounts performs calls with known outcomes and checks every series.
func TestCounts(t *testing.T) {
	ctx := t.Context()
	inner := memstore.New()
	w, reg := wrap(t, inner)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	want := func(what string, err, target error) {
		t.Helper()
		if !errors.Is(err, target) {
			t.Fatalf("%s: %v, want %v", what, err, target)
		}
	}

	c := &store.Cluster{ID: uuid.New(), Name: "prod", CreatedAt: time.Now()}
	must(w.CreateCluster(ctx, c))                                            // ok
	want("second CreateCluster", w.CreateCluster(ctx, c), store.ErrConflict) // conflict
	got, err := w.GetCluster(ctx, c.ID)                                      // ok
	must(err)
	if got.Name != "prod" {
		t.Errorf("GetCluster through the wrapper: Name %q, want prod", got.Name)
	}
	_, err = w.GetCluster(ctx, uuid.New()) // not_found
	want("GetCluster(unknown)", err, store.ErrNotFound)
	want("CreateCluster(no name)", w.CreateCluster(ctx, &store.Cluster{ID: uuid.New()}), store.ErrInvalid) // invalid

	tk := &store.Task{ClusterID: c.ID, ID: uuid.New(), Type: "backup"}
	must(w.CreateTask(ctx, tk)) // ok
	runID, err := uuid.NewUUID()
	must(err)
	r := &store.Run{ClusterID: c.ID, TaskID: tk.ID, ID: runID, Type: "backup", Status: store.StatusRunning, Fence: 5}
	must(w.CreateRun(ctx, r)) // ok
	stale := *r
	stale.Fence = 3
	want("UpdateRun(stale fence)", w.UpdateRun(ctx, &stale), store.ErrLeaseLost) // lease_lost
	batch := []*store.Progress{
		{ClusterID: c.ID, TaskID: tk.ID, RunID: runID, Key: "a", Fence: 5},
		{ClusterID: c.ID, TaskID: tk.ID, RunID: runID, Key: "b", Fence: 5},
	}
	must(w.PutProgressBatch(ctx, batch))                                                                        // ok
	must(w.PutProgressBatch(ctx, batch[:1:1]))                                                                  // ok
	want("PutProgressBatch(duplicate key)", w.PutProgressBatch(ctx, append(batch, batch[0])), store.ErrInvalid) // invalid

	_, err = w.AcquireLease(ctx, "l", "a", time.Hour) // ok
	must(err)
	_, err = w.AcquireLease(ctx, "l", "b", time.Hour) // lease_held
	want("AcquireLease(held)", err, store.ErrLeaseHeld)

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = w.ListClusters(canceled) // canceled
	want("ListClusters(canceled)", err, context.Canceled)

	must(w.Close())                  // ok
	_, err = w.GetCluster(ctx, c.ID) // closed
	want("GetCluster after Close", err, store.ErrClosed)
	must(w.Close()) // ok: Close is idempotent

	requests, durations := counts(t, reg)
	if len(requests) != numOps*numResults || len(durations) != numOps {
		t.Errorf("%d request series and %d histograms, want %d and %d (all created at zero by Wrap)",
			len(requests), len(durations), numOps*numResults, numOps)
	}
	wantReq := map[string]float64{
		"create_cluster/ok": 1, "create_cluster/conflict": 1, "create_cluster/invalid": 1,
		"get_cluster/ok": 1, "get_cluster/not_found": 1, "get_cluster/closed": 1,
		"create_task/ok": 1, "create_run/ok": 1, "update_run/lease_lost": 1,
		"put_progress_batch/ok": 2, "put_progress_batch/invalid": 1,
		"acquire_lease/ok": 1, "acquire_lease/lease_held": 1,
		"list_clusters/canceled": 1,
		"close/ok":               2,
	}
	if d := cmp.Diff(wantReq, nonZero(requests)); d != "" {
		t.Errorf("%s (-want +got):\n%s", requestsName, d)
	}
	wantDur := map[string]uint64{}
	for k, v := range wantReq {
		op, _, _ := strings.Cut(k, "/")
		wantDur[op] += uint64(v)
	}
	if d := cmp.Diff(wantDur, nonZero(durations)); d != "" {
		t.Errorf("%s sample counts (-want +got):\n%s", durationName, d)
	}
	if probs, err := testutil.GatherAndLint(reg); err != nil || len(probs) > 0 {
		t.Errorf("GatherAndLint: %v %v", probs, err)
	}
}

// errStore is a store whose GetCluster fails with err.
type errStore struct {
	store.Store
	err error
}

func (s errStore) GetCluster(context.Context, uuid.UUID) (*store.Cluster, error) { return nil, s.err }

// TestResults checks the classification of errors no healthy memstore
// returns, and that the wrapper returns the very error of the store.
func TestResults(t *testing.T) {
	unavailable := fmt.Errorf("cqlstore: get cluster: %w", store.ErrUnavailable)
	tests := []struct {
		err    error
		result string
	}{
		{unavailable, "unavailable"},
		{fmt.Errorf("cqlstore: get cluster: %w", errors.Join(store.ErrUnavailable, context.DeadlineExceeded)), "canceled"},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), "canceled"},
		{store.Invalid("id", "a UUID", "x"), "invalid"},
		{fmt.Errorf("x: %w", store.ErrClosed), "closed"},
		{errors.New("disk on fire"), "error"},
	}
	for _, tc := range tests {
		t.Run(tc.result+"/"+tc.err.Error(), func(t *testing.T) {
			w, reg := wrap(t, errStore{memstore.New(), tc.err})
			_, err := w.GetCluster(t.Context(), uuid.New())
			if err != tc.err { //nolint:errorlint // the wrapper must return the store's error itself
				t.Errorf("GetCluster: %v, want the store's error %v", err, tc.err)
			}
			requests, _ := counts(t, reg)
			if d := cmp.Diff(map[string]float64{"get_cluster/" + tc.result: 1}, nonZero(requests)); d != "" {
				t.Errorf("%s (-want +got):\n%s", requestsName, d)
			}
		})
	}
}

func TestWrapTwiceOnOneRegistry(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	first, err := storemetrics.Wrap(memstore.New(), reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := storemetrics.Wrap(memstore.New(), reg); !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
		t.Fatalf("second Wrap on one registry: %v, want an AlreadyRegisteredError", err)
	}
	// The first wrapper still reports through the registry.
	if _, err := first.ListClusters(t.Context()); err != nil {
		t.Fatal(err)
	}
	if requests, _ := counts(t, reg); requests["list_clusters/ok"] != 1 {
		t.Errorf("list_clusters/ok = %v after the refused second Wrap, want 1", requests["list_clusters/ok"])
	}
	// Distinct labels per store make two wrappers coexist on one registry.
	shared := prometheus.NewPedanticRegistry()
	for _, name := range []string{"a", "b"} {
		if _, err := storemetrics.Wrap(memstore.New(), prometheus.WrapRegistererWith(prometheus.Labels{"store": name}, shared)); err != nil {
			t.Errorf("Wrap with store=%s: %v", name, err)
		}
	}
}

// TestWrapHalfRegistered: when the histogram cannot be registered, the
// counter registered just before is taken back.
func TestWrapHalfRegistered(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	squatter := prometheus.NewGauge(prometheus.GaugeOpts{Name: durationName, Help: "in the way"})
	reg.MustRegister(squatter)
	if _, err := storemetrics.Wrap(memstore.New(), reg); err == nil {
		t.Fatal("Wrap over a registered gauge of the histogram's name: nil error")
	}
	if n, err := testutil.GatherAndCount(reg, requestsName); err != nil || n != 0 {
		t.Errorf("%s series after the failed Wrap: %d (%v), want 0", requestsName, n, err)
	}
}

func TestWrapNil(t *testing.T) {
	if _, err := storemetrics.Wrap(nil, nil); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Wrap(nil store): %v, want ErrInvalid", err)
	}
	// A nil Registerer: the wrapper works and registers nothing.
	w, err := storemetrics.Wrap(memstore.New(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.ListClusters(t.Context()); err != nil {
		t.Error(err)
	}
	if w.Unwrap() == nil {
		t.Error("Unwrap: nil")
	}
}

// BenchmarkWrapOverhead compares GetCluster on a bare memstore and on a
// wrapped one; the difference is the cost of the metrics per call.
func BenchmarkWrapOverhead(b *testing.B) {
	ctx := b.Context()
	bare := memstore.New()
	c := &store.Cluster{ID: uuid.New(), Name: "prod"}
	if err := bare.CreateCluster(ctx, c); err != nil {
		b.Fatal(err)
	}
	wrapped, err := storemetrics.Wrap(bare, prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		s    store.Store
	}{{"bare", bare}, {"wrapped", wrapped}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.s.GetCluster(ctx, c.ID); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
