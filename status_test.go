package scyllaops

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/scyllaops/scyllaops/healthcheck"
	"github.com/scyllaops/scyllaops/scyllatest"
	"github.com/scyllaops/scyllaops/store/memstore"
)

// statusFixture is a Manager on memstore with one scyllatest cluster
// added.
type statusFixture struct {
	m  *Manager
	c  *scyllatest.Cluster
	id uuid.UUID
}

// newStatusFixture starts a simulated cluster and a Manager over it; the
// Manager's CQL dialer is the simulator's unless in Listen mode.
func newStatusFixture(t *testing.T, opts scyllatest.Options, user, pass string, mopts Options) *statusFixture {
	t.Helper()
	c := scyllatest.New(t, opts)
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	if !opts.Listen {
		mopts.CQLDial = c.CQLDialer().DialContext
	}
	m, err := New(st, c.Transport(), mopts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	cl, err := m.CreateCluster(t.Context(), Cluster{
		Name: "sim", Host: c.ContactHost(), AuthToken: c.AuthToken(), Username: user, Password: pass,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &statusFixture{m: m, c: c, id: cl.ID}
}

// row is what the tests compare of a NodeStatus.
type row struct {
	DC, Host, HostID, Status, CQL, REST, Alternator string
}

func rows(ns []healthcheck.ClusterStatusItem) []row {
	out := make([]row, len(ns))
	for i, n := range ns {
		out[i] = row{n.DC, n.Host, n.HostID, n.Status, n.CQLStatus, n.RESTStatus, n.AlternatorStatus}
	}
	return out
}

// wantRows lists the cluster's nodes sorted by DC then address, all UN
// and UP, with f applied to each.
func wantRows(c *scyllatest.Cluster, alternator string, f func(n *scyllatest.Node, r *row)) []row {
	nodes := c.Nodes()
	slices.SortFunc(nodes, func(a, b *scyllatest.Node) int {
		if a.DC != b.DC {
			return strings.Compare(a.DC, b.DC)
		}
		return netip.MustParseAddr(a.IP).Compare(netip.MustParseAddr(b.IP))
	})
	out := make([]row, len(nodes))
	for i, n := range nodes {
		out[i] = row{n.DC, n.IP, n.HostID.String(), "UN", healthcheck.StatusUp, healthcheck.StatusUp, alternator}
		if f != nil {
			f(n, &out[i])
		}
	}
	return out
}

var twoDCs = []scyllatest.DC{
	{Name: "dc2", Racks: []scyllatest.Rack{{Name: "r1", Nodes: 2}}},
	{Name: "dc1", Racks: []scyllatest.Rack{{Name: "r1", Nodes: 1}, {Name: "r2", Nodes: 1}}},
}

func TestClusterStatusInProcess(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	f := newStatusFixture(t, scyllatest.Options{Topology: twoDCs, CQLUser: "cassandra", CQLPassword: "s3cret"}, "cassandra", "s3cret",
		Options{Registerer: reg, Healthcheck: healthcheck.Options{Timeout: 2 * time.Second}})
	ctx := t.Context()
	hc := f.m.Healthcheck()

	got, err := f.m.Healthcheck().ClusterStatus(ctx, "sim")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantRows(f.c, "", nil), rows(got)); diff != "" {
		t.Errorf("all up (-want +got):\n%s", diff)
	}
	for _, ns := range got {
		if ns.ScyllaVersion != scyllatest.DefaultScyllaVersion || ns.SSL || ns.CQLRttMs < 0 {
			t.Errorf("%s: version %q ssl %v rtt %v", ns.Host, ns.ScyllaVersion, ns.SSL, ns.CQLRttMs)
		}
	}

	// A stopped node is DN and not pinged; a leaving one is UL and not
	// pinged either.
	nodes := f.c.Nodes()
	stopped, leaving := nodes[0], nodes[3]
	if err := f.c.Stop(stopped); err != nil {
		t.Fatal(err)
	}
	f.c.SetState(leaving, scyllatest.StateLeaving)
	got, err = f.m.Healthcheck().ClusterStatus(ctx, f.id.String())
	if err != nil {
		t.Fatal(err)
	}
	want := wantRows(f.c, "", func(n *scyllatest.Node, r *row) {
		switch n {
		case stopped:
			r.Status, r.CQL, r.REST = "DN", "", ""
		case leaving:
			r.Status, r.CQL, r.REST = "UL", "", ""
		}
	})
	if diff := cmp.Diff(want, rows(got)); diff != "" {
		t.Errorf("stopped and leaving (-want +got):\n%s", diff)
	}

	// The scheduled check pings every node, the stopped one included.
	if err := hc.Service().Run(ctx, f.id, uuid.New(), uuid.New(), json.RawMessage(`{"mode":"rest"}`)); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(reg, "scylla_manager_healthcheck_rest_status"); n != 4 {
		t.Errorf("rest_status series: %d, want 4", n)
	}
	if v := gaugeValue(t, reg, "scylla_manager_healthcheck_rest_status", stopped.IP); v != healthcheck.MetricAgentDown {
		t.Errorf("stopped node's rest_status %v, want %v", v, healthcheck.MetricAgentDown)
	}
	if v := gaugeValue(t, reg, "scylla_manager_healthcheck_rest_status", leaving.IP); v != healthcheck.MetricUp {
		t.Errorf("leaving node's rest_status %v, want %v", v, healthcheck.MetricUp)
	}

	// Wrong CQL password: UNAUTHORIZED on the pinged nodes.
	if _, err := f.m.UpdateCluster(ctx, "sim", Cluster{Name: "sim", Host: f.c.ContactHost(), Username: "cassandra", Password: "wrong"}); err != nil {
		t.Fatal(err)
	}
	f.c.SetState(leaving, scyllatest.StateNormal)
	got, err = f.m.Healthcheck().ClusterStatus(ctx, "sim")
	if err != nil {
		t.Fatal(err)
	}
	want = wantRows(f.c, "", func(n *scyllatest.Node, r *row) {
		r.CQL = healthcheck.StatusUnauthorized
		if n == stopped {
			r.Status, r.CQL, r.REST = "DN", "", ""
		}
	})
	if diff := cmp.Diff(want, rows(got)); diff != "" {
		t.Errorf("wrong password (-want +got):\n%s", diff)
	}
	for _, ns := range got {
		if ns.CQLStatus == healthcheck.StatusUnauthorized && ns.CQLCause == "" {
			t.Errorf("%s: UNAUTHORIZED without a cause", ns.Host)
		}
	}

	if _, err := f.m.Healthcheck().ClusterStatus(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown cluster: %v", err)
	}
}

func TestClusterStatusNoAgentAnswers(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	f := newStatusFixture(t, scyllatest.Options{Topology: scyllatest.Topology3(2)}, "", "",
		Options{Registerer: reg, Healthcheck: healthcheck.Options{Timeout: time.Second}})
	ctx := t.Context()
	hc := f.m.Healthcheck()
	for _, n := range f.c.Nodes() {
		if err := f.c.Stop(n); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.m.Healthcheck().ClusterStatus(ctx, "sim"); err == nil {
		t.Error("status with every agent down: no error")
	}
	// The scheduled check still reports the known hosts, as down.
	if err := hc.Service().Run(ctx, f.id, uuid.New(), uuid.New(), json.RawMessage(`{"mode":"cql"}`)); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(reg, "scylla_manager_healthcheck_cql_status"); n != 2 {
		t.Errorf("cql_status series: %d, want 2", n)
	}
}

func TestClusterStatusListen(t *testing.T) {
	// Over TCP, with the default dialer. The timeout is generous: the
	// first node_info of each agent (TLS handshake, ~25 Scylla config
	// reads) is slow under -race on a loaded machine, and the test asserts
	// statuses, not timings.
	f := newStatusFixture(t, scyllatest.Options{Listen: true, Seed: randomSeed(), Alternator: true, Topology: twoDCs}, "", "",
		Options{Healthcheck: healthcheck.Options{Timeout: 5 * time.Second}})
	got, err := f.m.Healthcheck().ClusterStatus(t.Context(), "sim")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantRows(f.c, healthcheck.StatusUp, nil), rows(got)); diff != "" {
		t.Errorf("all up over TCP (-want +got):\n%s", diff)
	}
	b, err := json.Marshal(got[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"dc":`, `"host_id":`, `"status":"UN"`, `"cql_status":"UP"`, `"rest_rtt_ms":`, `"alternator_status":"UP"`, `"scylla_version":`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON %s lacks %s", b, key)
		}
	}
}

// randomSeed gives Listen-mode clusters their own 127.x.y.z addresses:
// scyllatest derives them from the seed, and other tests on the machine
// may be listening on the default seed's.
func randomSeed() uint64 { return rand.Uint64() | 1 }

// gaugeValue returns the value of the gauge name with label host.
func gaugeValue(t *testing.T, g prometheus.Gatherer, name, host string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "host" && l.GetValue() == host {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{host=%q}", name, host)
	return 0
}

func TestHealthcheckForgetsDeletedCluster(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	f := newStatusFixture(t, scyllatest.Options{Topology: scyllatest.Topology3(2)}, "", "",
		Options{Registerer: reg, Healthcheck: healthcheck.Options{Timeout: 2 * time.Second}})
	ctx := t.Context()
	hc := f.m.Healthcheck()
	if err := hc.Service().Run(ctx, f.id, uuid.New(), uuid.New(), json.RawMessage(`{"mode":"rest"}`)); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(reg, "scylla_manager_healthcheck_rest_status"); n != 2 {
		t.Fatalf("rest_status series: %d, want 2", n)
	}
	if err := f.m.DeleteCluster(ctx, "sim", DeleteWhat{}); err != nil {
		t.Fatal(err)
	}
	if err := hc.Service().Run(ctx, f.id, uuid.New(), uuid.New(), json.RawMessage(`{"mode":"rest"}`)); !errors.Is(err, ErrNotFound) {
		t.Errorf("run on a deleted cluster: %v, want ErrNotFound", err)
	}
	// The store's scyllaops_store_* series and the server version stay; no
	// other series may.
	if n := testutil.CollectAndCount(reg) - testutil.CollectAndCount(reg, "scyllaops_store_requests_total", "scyllaops_store_request_duration_seconds", "scylla_manager_server_current_version"); n != 0 {
		t.Errorf("series after the cluster was deleted: %d, want 0", n)
	}
}

// TestHealthcheckTasksEndToEnd runs the default healthcheck tasks of a
// new cluster through the Manager's scheduler, over TCP, and checks the
// gauges they leave on the Manager's Registerer.
func TestHealthcheckTasksEndToEnd(t *testing.T) {
	c := scyllatest.New(t, scyllatest.Options{Listen: true, Seed: randomSeed(), Alternator: true, Topology: twoDCs})
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	reg := prometheus.NewPedanticRegistry()
	m, err := New(st, c.Transport(), Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v", err)
		}
	})

	cl, err := m.CreateCluster(t.Context(), Cluster{Name: "sim", Host: c.ContactHost(), AuthToken: c.AuthToken(), WithoutRepair: true})
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := m.ListTasks(t.Context(), cl.ID, TaskFilter{Type: healthcheck.TaskType})
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 3 {
		t.Fatalf("%d healthcheck tasks, want 3", len(tasks))
	}
	for _, task := range tasks {
		if err := m.StartTask(t.Context(), cl.ID, task.ID, false); err != nil {
			t.Fatal(err)
		}
	}
	// Wait for one finished run of each task (no timing asserted: the
	// deadline only bounds a hang).
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(time.Minute)
	for _, task := range tasks {
		for {
			runs, err := m.TaskHistory(t.Context(), cl.ID, task.ID, 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(runs) > 0 && runs[0].Status.Final() {
				if runs[0].Status != "DONE" {
					t.Errorf("task %s: run %s: %s", task.Name, runs[0].Status, runs[0].Cause)
				}
				break
			}
			select {
			case <-tick.C:
			case <-deadline:
				t.Fatalf("task %s: no finished run after a minute", task.Name)
			}
		}
	}
	for _, mode := range healthcheck.AllModes() {
		for _, name := range []string{"status", "rtt_ms"} {
			metric := "scylla_manager_healthcheck_" + string(mode) + "_" + name
			if n := testutil.CollectAndCount(reg, metric); n != len(c.Nodes()) {
				t.Errorf("%s: %d series, want %d", metric, n, len(c.Nodes()))
			}
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{} // host → "cluster dc rack" of rest_status
	for _, mf := range mfs {
		if mf.GetName() != "scylla_manager_healthcheck_rest_status" {
			continue
		}
		for _, s := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range s.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			labels[l["host"]] = l["cluster"] + " " + l["dc"] + " " + l["rack"]
			if v := s.GetGauge().GetValue(); v != healthcheck.MetricUp && v != healthcheck.MetricScyllaDown && v != healthcheck.MetricAgentDown {
				t.Errorf("%s: rest_status %v", l["host"], v)
			}
		}
	}
	for _, n := range c.Nodes() {
		if want := cl.ID.String() + " " + n.DC + " " + n.Rack; labels[n.IP] != want {
			t.Errorf("%s: labels %q, want %q", n.IP, labels[n.IP], want)
		}
	}
}

func TestClusterStatusHungContactPoint(t *testing.T) {
	// The cluster's contact point hangs: discovery moves on to the other
	// known hosts, and the hung node is reported TIMEOUT.
	f := newStatusFixture(t, scyllatest.Options{Topology: scyllatest.Topology3(3)}, "", "",
		Options{Healthcheck: healthcheck.Options{Timeout: time.Second}})
	hung := f.c.Node(f.c.ContactHost())
	f.c.SetLatency(hung, time.Hour)
	got, err := f.m.Healthcheck().ClusterStatus(t.Context(), "sim")
	if err != nil {
		t.Fatal(err)
	}
	want := wantRows(f.c, "", func(n *scyllatest.Node, r *row) {
		if n == hung {
			r.CQL, r.REST, r.Alternator = healthcheck.StatusTimeout, healthcheck.StatusTimeout, healthcheck.StatusTimeout
		}
	})
	if diff := cmp.Diff(want, rows(got)); diff != "" {
		t.Errorf("hung contact point (-want +got):\n%s", diff)
	}
}

// BenchmarkClusterStatusHungContactPoint measures ClusterStatus of a
// 6-node cluster whose contact point hangs, with the default 1 s timeout:
// hedged discovery makes it about one timeout (plus a quarter for the
// hedge), not two.
func BenchmarkClusterStatusHungContactPoint(b *testing.B) {
	c := scyllatest.New(b, scyllatest.Options{Topology: scyllatest.Topology3(6)})
	st := memstore.New()
	b.Cleanup(func() { _ = st.Close() })
	m, err := New(st, c.Transport(), Options{CQLDial: c.CQLDialer().DialContext})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Close() })
	if _, err := m.CreateCluster(b.Context(), Cluster{Name: "sim", Host: c.ContactHost(), AuthToken: c.AuthToken()}); err != nil {
		b.Fatal(err)
	}
	if _, err := m.Healthcheck().ClusterStatus(b.Context(), "sim"); err != nil { // warm caches
		b.Fatal(err)
	}
	c.SetLatency(c.Node(c.ContactHost()), time.Hour)
	for b.Loop() {
		if _, err := m.Healthcheck().ClusterStatus(b.Context(), "sim"); err != nil {
			b.Fatal(err)
		}
	}
}
