package scyllaops_test

import (
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/internal/testenv"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/memstore"
	"github.com/scyllaops/scyllaops/store/storemetrics"
)

// TestStoreMetricsRegisterer: with a Registerer the Manager's store calls
// show up in scyllaops_store_requests_total; without one the store is not
// wrapped; a second Manager on the same Registerer is refused with an
// error, not a panic.
func TestStoreMetricsRegisterer(t *testing.T) {
	ctx := t.Context()
	reg := prometheus.NewPedanticRegistry()
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	m, err := scyllaops.New(st, nil, scyllaops.Options{Registerer: reg, SkipConnectivityCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	if _, err := m.CreateCluster(ctx, scyllaops.Cluster{Name: "prod", Host: "10.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.GetCluster(ctx, "nosuch"); !errors.Is(err, scyllaops.ErrNotFound) {
		t.Fatalf("GetCluster(nosuch): %v, want ErrNotFound", err)
	}
	for _, tc := range []struct{ op, result string }{{"create_cluster", "ok"}, {"get_cluster_by_name", "not_found"}} {
		if v := storeCounter(t, reg, tc.op, tc.result); v < 1 {
			t.Errorf("scyllaops_store_requests_total{op=%q,result=%q} = %v, want >= 1", tc.op, tc.result, v)
		}
	}
	w, ok := m.Store().(*storemetrics.Store)
	if !ok || w.Unwrap() != store.Store(st) {
		t.Errorf("Store() = %T, want a *storemetrics.Store around the store given to New", m.Store())
	}
	if probs := lintMetrics(t, reg); len(probs) > 0 {
		t.Errorf("GatherAndLint: %v", probs)
	}

	if _, err := scyllaops.New(st, nil, scyllaops.Options{Registerer: reg}); !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
		t.Errorf("second Manager on one Registerer: %v, want an AlreadyRegisteredError", err)
	}

	bare, err := scyllaops.New(st, nil, scyllaops.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bare.Close() })
	if bare.Store() != store.Store(st) {
		t.Errorf("Store() without a Registerer = %T, want the store given to New", bare.Store())
	}
}

// storeCounter returns the value of the series {op, result} of
// scyllaops_store_requests_total gathered from reg.
func storeCounter(t *testing.T, reg prometheus.Gatherer, op, result string) float64 {
	t.Helper()
	v, n := testenv.MetricSum(t, reg, "scyllaops_store_requests_total", map[string]string{"op": op, "result": result})
	if n == 0 {
		t.Fatalf("no scyllaops_store_requests_total{op=%q,result=%q}", op, result)
	}
	return v
}
