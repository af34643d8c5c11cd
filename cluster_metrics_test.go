package scyllaops_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/healthcheck"
	"github.com/scyllaops/scyllaops/internal/testenv"
	"github.com/scyllaops/scyllaops/scyllatest"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/memstore"
)

// lintMetrics returns the problems testutil.GatherAndLint finds, but the
// one Scylla Manager compatibility imposes: its
// scylla_manager_scheduler_run_total is a gauge despite the suffix.
func lintMetrics(t *testing.T, g prometheus.Gatherer) []promlint.Problem {
	t.Helper()
	probs, err := testutil.GatherAndLint(g)
	if err != nil {
		t.Fatal(err)
	}
	var out []promlint.Problem
	for _, p := range probs {
		if p.Metric == "scylla_manager_scheduler_run_total" && strings.Contains(p.Text, `"_total" suffix`) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// waitDone polls the task's history until its last run is final.
func waitDone(t *testing.T, m *scyllaops.Manager, cluster, task uuid.UUID) store.Run {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		runs, err := m.TaskHistory(t.Context(), cluster, task, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) == 1 && runs[0].Status.Final() {
			return runs[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s: no final run after a minute: %+v", task, runs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The Manager exports scylla_manager_cluster_name{cluster,name} (0) and
// scylla_manager_server_current_version{version} (1) as Scylla Manager
// does; run_total is a gauge, as there; a renamed cluster has one name
// series, and a deleted cluster leaves no series at all.
func TestManagerMetrics(t *testing.T) {
	sim := scyllatest.New(t, scyllatest.Options{})
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	reg := prometheus.NewPedanticRegistry()
	m, err := scyllaops.New(st, sim.Transport(), scyllaops.Options{Registerer: reg, ServerVersion: "3.5.1",
		Healthcheck: healthcheck.Options{Timeout: 15 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	runManager(t, m)

	if v, n := testenv.MetricSum(t, reg, "scylla_manager_server_current_version", map[string]string{"version": "3.5.1"}); n != 1 || v != 1 {
		t.Errorf("server_current_version{version=3.5.1}: %d series, value %v; want 1 series of 1", n, v)
	}
	c, err := m.CreateCluster(t.Context(), scyllaops.Cluster{Name: "sim", Host: sim.ContactHost(), AuthToken: sim.AuthToken(), WithoutRepair: true})
	if err != nil {
		t.Fatal(err)
	}
	id := c.ID.String()
	if v, n := testenv.MetricSum(t, reg, "scylla_manager_cluster_name", map[string]string{"cluster": id, "name": "sim"}); n != 1 || v != 0 {
		t.Errorf("cluster_name{cluster,name=sim}: %d series, value %v; want 1 series of 0", n, v)
	}
	c.Name = "prod"
	if _, err := m.UpdateCluster(t.Context(), id, c); err != nil {
		t.Fatal(err)
	}
	if _, n := testenv.MetricSum(t, reg, "scylla_manager_cluster_name", map[string]string{"cluster": id}); n != 1 {
		t.Errorf("cluster_name series of the renamed cluster: %d, want 1", n)
	}
	if _, n := testenv.MetricSum(t, reg, "scylla_manager_cluster_name", map[string]string{"cluster": id, "name": "prod"}); n != 1 {
		t.Errorf("cluster_name{name=prod} missing after the rename")
	}

	items, err := m.ListTasks(t.Context(), c.ID, scyllaops.TaskFilter{Type: healthcheck.TaskType})
	if err != nil || len(items) == 0 {
		t.Fatalf("health-check tasks: %v, %v", items, err)
	}
	task := items[0].Task
	if err := m.StartTask(t.Context(), c.ID, task.ID, false); err != nil {
		t.Fatal(err)
	}
	if r := waitDone(t, m, c.ID, task.ID); r.Status != store.StatusDone {
		t.Fatalf("run %s: %s", r.Status, r.Cause)
	}
	if v, _ := testenv.MetricSum(t, reg, "scylla_manager_scheduler_run_total", map[string]string{"cluster": id, "status": "DONE"}); v < 1 {
		t.Errorf("run_total{status=DONE} = %v, want >= 1", v)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "scylla_manager_scheduler_run_total" && mf.GetType() != dto.MetricType_GAUGE {
			t.Errorf("run_total is a %s, want a gauge as Scylla Manager's", mf.GetType())
		}
	}
	if probs := lintMetrics(t, reg); len(probs) != 0 {
		t.Errorf("lint: %v", probs)
	}

	if err := m.DeleteCluster(t.Context(), id, scyllaops.DeleteWhat{}); err != nil {
		t.Fatal(err)
	}
	if mfs, err = reg.Gather(); err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, s := range mf.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "cluster" && l.GetValue() == id {
					t.Errorf("series of the deleted cluster remains: %s %v", mf.GetName(), s.GetLabel())
				}
			}
		}
	}
	if _, n := testenv.MetricSum(t, reg, "scylla_manager_server_current_version", nil); n != 1 {
		t.Errorf("server_current_version series: %d, want 1", n)
	}
}
