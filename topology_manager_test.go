package scyllaops_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/backup"
	"github.com/scyllaops/scyllaops/scyllatest"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/boltstore"
	"github.com/scyllaops/scyllaops/store/memstore"
	"github.com/scyllaops/scyllaops/topology"
)

// topologyEvents returns the messages of the cluster's topology_change
// events.
func topologyEvents(t *testing.T, m *scyllaops.Manager, clusterID string) []string {
	t.Helper()
	c, err := m.GetCluster(t.Context(), clusterID)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := m.Events(t.Context(), store.EventQuery{ClusterID: c.ID})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		if e.Kind == scyllaops.TopologyChangeEvent {
			out = append(out, e.Attributes["change"]+" "+e.Attributes["host"])
		}
	}
	slices.Sort(out)
	return out
}

// TestTopologyJoinLeaveAndRestart: a node joining and one leaving become
// events and known hosts; after a Manager restart on the same boltstore
// file, with the cluster's first host dead, the cluster is still reached
// through the known hosts (status and a refresh work).
func TestTopologyJoinLeaveAndRestart(t *testing.T) {
	ctx := t.Context()
	sim := scyllatest.New(t, scyllatest.Options{Topology: scyllatest.Topology3(4)})
	path := filepath.Join(t.TempDir(), "state.db")
	open := func() (*scyllaops.Manager, store.Store) {
		st, err := boltstore.Open(ctx, path, boltstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		m, err := scyllaops.New(st, sim.Transport(), scyllaops.Options{CQLDial: sim.CQLDialer().DialContext,
			Discovery: topology.HedgeOptions{ContactTimeout: 5 * time.Second},
			Logger:    slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))})
		if err != nil {
			t.Fatal(err)
		}
		return m, st
	}
	m, st := open()
	first := sim.ContactHost()
	if _, err := m.CreateCluster(ctx, scyllaops.Cluster{Name: "p", Host: first, AuthToken: sim.AuthToken()}); err != nil {
		t.Fatal(err)
	}
	if ev := topologyEvents(t, m, "p"); len(ev) != 0 {
		t.Errorf("events after the first discovery: %q, want none", ev)
	}

	joined, err := sim.AddNode("dc1", "rack1")
	if err != nil {
		t.Fatal(err)
	}
	sim.SetState(joined, scyllatest.StateJoining)
	leaving := sim.Nodes()[2]
	sim.SetState(leaving, scyllatest.StateLeaving)
	if _, _, err := m.RefreshTopology(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	want := []string{"added " + joined.IP, "state " + leaving.IP}
	slices.Sort(want)
	if got := topologyEvents(t, m, "p"); !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
	c, err := m.GetCluster(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(c.KnownHosts, joined.IP) || len(c.KnownHosts) != 5 {
		t.Errorf("known hosts %v, want the 5 nodes with %s", c.KnownHosts, joined.IP)
	}

	// Restart on the same file; the first host dies.
	_ = m.Close()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sim.Stop(sim.Node(first)); err != nil {
		t.Fatal(err)
	}
	m, st = open()
	t.Cleanup(func() { _ = m.Close(); _ = st.Close() })
	v, ch, err := m.RefreshTopology(ctx, "p")
	if err != nil {
		t.Fatalf("refresh with the first host dead: %v", err)
	}
	if v.ContactHost == first {
		t.Errorf("view from the dead host %s", first)
	}
	if len(ch) != 1 || ch[0].Kind != topology.NodeDown || ch[0].IP != first {
		t.Errorf("changes after restart %v, want %s down only (the last view was kept)", ch, first)
	}
	ns, err := m.Healthcheck().ClusterStatus(ctx, "p")
	if err != nil || len(ns) != 5 {
		t.Fatalf("status with the first host dead: %d nodes, %v", len(ns), err)
	}
}

// TestTopologyAllHostsUnreachable: every known host refuses or hangs:
// RefreshTopology returns one error naming each host tried and its cause,
// once the contact timeout is up.
func TestTopologyAllHostsUnreachable(t *testing.T) {
	ctx := t.Context()
	sim := scyllatest.New(t, scyllatest.Options{Topology: scyllatest.Topology3(3)})
	st := memstoreNew(t)
	m, err := scyllaops.New(st, sim.Transport(), scyllaops.Options{
		Discovery: topology.HedgeOptions{ContactTimeout: 300 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	if _, err := m.CreateCluster(ctx, scyllaops.Cluster{Name: "p", Host: sim.ContactHost(), AuthToken: sim.AuthToken()}); err != nil {
		t.Fatal(err)
	}
	ns := sim.Nodes()
	sim.SetLatency(ns[0], time.Hour)
	for _, n := range ns[1:] {
		if err := sim.Stop(n); err != nil {
			t.Fatal(err)
		}
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	_, _, err = m.RefreshTopology(rctx, "p")
	if err == nil {
		t.Fatal("refresh with every host unreachable: no error")
	}
	for _, n := range ns {
		if !strings.Contains(err.Error(), n.IP+": ") {
			t.Errorf("error %q does not name %s", err, n.IP)
		}
	}
	if !strings.Contains(err.Error(), "deadline exceeded") || !strings.Contains(err.Error(), "refused") && !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("error %q does not give the hung and the stopped hosts' causes", err)
	}
	if rctx.Err() != nil {
		t.Error("the error came only after the test's own deadline")
	}
}

// TestBackupCallsOneNodeOfSixDown: with one node of six down, backup
// list, files, validate, delete and purge work through the live nodes
// and say which node was down.
func TestBackupCallsOneNodeOfSixDown(t *testing.T) {
	ctx := t.Context()
	buckets := t.TempDir()
	if err := os.Mkdir(filepath.Join(buckets, "b1"), 0o755); err != nil {
		t.Fatal(err)
	}
	sim := scyllatest.New(t, scyllatest.Options{Topology: []scyllatest.DC{
		{Name: "dc1", Racks: []scyllatest.Rack{{Name: "r1", Nodes: 3}}},
		{Name: "dc2", Racks: []scyllatest.Rack{{Name: "r1", Nodes: 3}}},
	}, OpenBucket: func(_ context.Context, _, bucket string) (*blob.Bucket, error) {
		return fileblob.OpenBucket(filepath.Join(buckets, bucket), &fileblob.Options{NoTempDir: true})
	}})
	m, err := scyllaops.New(memstoreNew(t), sim.Transport(), scyllaops.Options{CQLDial: sim.CQLDialer().DialContext,
		Backup: backup.Options{LongPoll: 100 * time.Millisecond},
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	runManager(t, m)
	c, err := m.CreateCluster(ctx, scyllaops.Cluster{Name: "p", Host: sim.ContactHost(), AuthToken: sim.AuthToken()})
	if err != nil {
		t.Fatal(err)
	}
	task, err := m.CreateTask(ctx, store.Task{ClusterID: c.ID, Type: backup.TaskType, Name: "b", Enabled: true,
		Schedule: store.Schedule{Cron: "0 3 1 1 *"}, Properties: json.RawMessage(`{"location":["localstorage:b1"],"retention":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.StartTask(ctx, c.ID, task.ID, true); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if run := waitRun(wctx, m, c.ID, task.ID); run.Status != store.StatusDone {
		t.Fatalf("backup run %s: %s", run.Status, run.Cause)
	}

	// The contact host itself goes down: one node of six.
	down := sim.Node(sim.ContactHost())
	if err := sim.Stop(down); err != nil {
		t.Fatal(err)
	}
	wantDown := []string{down.IP + " (" + down.DC + ")"}
	list, err := m.Backup().List(ctx, "p", nil, backup.ListFilter{})
	if err != nil {
		t.Fatalf("list with one node down: %v", err)
	}
	if len(list) != 1 || len(list[0].SnapshotInfo) != 1 || list[0].SnapshotInfo[0].Nodes != 6 {
		t.Fatalf("list %+v, want one snapshot of 6 nodes", list)
	}
	if !slices.Equal(list[0].NodesDown, wantDown) {
		t.Errorf("list nodes_down %v, want %v", list[0].NodesDown, wantDown)
	}
	tag := list[0].SnapshotInfo[0].SnapshotTag
	files, err := m.Backup().ListFiles(ctx, "p", nil, backup.ListFilter{SnapshotTag: tag})
	if err != nil || len(files) != 6 {
		t.Fatalf("files with one node down: %d, %v; want 6 nodes' files", len(files), err)
	}
	reports, err := m.Backup().Validate(ctx, "p", nil, backup.ValidateOptions{})
	if err != nil {
		t.Fatalf("validate with one node down: %v", err)
	}
	if len(reports) != 6 {
		t.Errorf("%d validate reports, want 6 (the down node's files checked through a live node)", len(reports))
	}
	for _, r := range reports {
		if r.MissingFiles != 0 || r.Manifests != 1 || !slices.Equal(r.NodesDown, wantDown) {
			t.Errorf("validate %s: %d missing, %d manifests, down %v", r.NodeID, r.MissingFiles, r.Manifests, r.NodesDown)
		}
	}
	purged, err := m.Backup().Purge(ctx, "p", task.ID)
	if err != nil || len(purged) == 0 || !slices.Equal(purged[0].NodesDown, wantDown) {
		t.Fatalf("purge with one node down: %+v, %v", purged, err)
	}
	if err := m.Backup().DeleteSnapshots(ctx, "p", nil, []string{tag}); err != nil {
		t.Fatalf("delete with one node down: %v", err)
	}
	if list, err := m.Backup().List(ctx, "p", nil, backup.ListFilter{}); err != nil || len(list) != 0 {
		t.Errorf("list after delete: %+v, %v; want none", list, err)
	}
}

func memstoreNew(t *testing.T) store.Store {
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	return st
}
