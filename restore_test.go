package scyllaops_test

import (
	"context"
	"encoding/json"
	"errors"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/backup"
	"github.com/scyllaops/scyllaops/internal/ring"
	"github.com/scyllaops/scyllaops/internal/schemacheck"
	"github.com/scyllaops/scyllaops/restapi"
	"github.com/scyllaops/scyllaops/restore"
	"github.com/scyllaops/scyllaops/scyllatest"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/memstore"
)

// restoreEnv is a source cluster backed up into bucket b1 of buckets and
// a target cluster, each with its own Manager.
type restoreEnv struct {
	reg      *prometheus.Registry // the target's Manager's
	buckets  string
	src, dst *scyllatest.Cluster
	ms, md   *scyllaops.Manager
	cs, cd   scyllaops.Cluster
	tag      string
}

func managerOn(t *testing.T, sim *scyllatest.Cluster, name string) (*scyllaops.Manager, scyllaops.Cluster) {
	t.Helper()
	return managerOnReg(t, sim, name, nil)
}

// managerOnReg is managerOn with the Manager's metrics registered in reg
// (nil: not registered).
func managerOnReg(t *testing.T, sim *scyllatest.Cluster, name string, reg prometheus.Registerer) (*scyllaops.Manager, scyllaops.Cluster) {
	t.Helper()
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	m, err := scyllaops.New(st, sim.Transport(), scyllaops.Options{CQLDial: sim.CQLDialer().DialContext,
		Backup:  backup.Options{LongPoll: 100 * time.Millisecond},
		Restore: restore.Options{LongPoll: 100 * time.Millisecond, ViewBuildPoll: 100 * time.Millisecond}, Registerer: reg,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	runManager(t, m)
	c, err := m.CreateCluster(t.Context(), scyllaops.Cluster{Name: name, Host: sim.ContactHost(), AuthToken: sim.AuthToken()})
	if err != nil {
		t.Fatal(err)
	}
	return m, c
}

// newRestoreEnv backs up src (2 DCs × 3 nodes, ks.t1 and ks.t2) and
// starts an empty 3-node target of one DC "dcx" with the same tables.
func newRestoreEnv(t *testing.T, dstTables []scyllatest.Table) *restoreEnv {
	t.Helper()
	e := &restoreEnv{buckets: t.TempDir()}
	if err := os.Mkdir(filepath.Join(e.buckets, "b1"), 0o755); err != nil {
		t.Fatal(err)
	}
	open := e.openBucket
	e.src = scyllatest.New(t, scyllatest.Options{OpenBucket: open, TokensPerNode: 8,
		Topology: []scyllatest.DC{{Name: "dc1", Racks: []scyllatest.Rack{{Name: "r1", Nodes: 3}}}, {Name: "dc2", Racks: []scyllatest.Rack{{Name: "r1", Nodes: 3}}}},
		Keyspaces: []scyllatest.Keyspace{{Name: "ks", Replication: scyllatest.NTS(map[string]int{"dc1": 2, "dc2": 2}),
			Tables: []scyllatest.Table{{Name: "t1", SSTables: 3}, {Name: "t2", SSTables: 1, DataSize: 20000}}}}})
	if dstTables == nil {
		dstTables = []scyllatest.Table{{Name: "t1"}, {Name: "t2"}}
	}
	e.dst = scyllatest.New(t, scyllatest.Options{OpenBucket: open, TokensPerNode: 8, Seed: 2,
		Topology:  []scyllatest.DC{{Name: "dcx", Racks: []scyllatest.Rack{{Name: "r1", Nodes: 3}}}},
		Keyspaces: []scyllatest.Keyspace{{Name: "ks", Replication: scyllatest.NTS(map[string]int{"dcx": 2}), Tables: dstTables}}})
	e.ms, e.cs = managerOn(t, e.src, "src")
	e.reg = prometheus.NewRegistry()
	e.md, e.cd = managerOnReg(t, e.dst, "dst", e.reg)
	e.tag = e.backup(t)
	return e
}

func (e *restoreEnv) openBucket(_ context.Context, _, bucket string) (*blob.Bucket, error) {
	return fileblob.OpenBucket(filepath.Join(e.buckets, bucket), &fileblob.Options{NoTempDir: true})
}

// backup runs one backup of src and returns its snapshot tag.
func (e *restoreEnv) backup(t *testing.T) string {
	t.Helper()
	bt, err := e.ms.CreateTask(t.Context(), store.Task{ClusterID: e.cs.ID, Type: "backup", Enabled: true, Schedule: store.Schedule{Cron: "0 3 1 1 *"},
		Properties: json.RawMessage(`{"location":["localstorage:b1"]}`)})
	if err != nil {
		t.Fatal(err)
	}
	if run := runOnce(t, e.ms, e.cs.ID, bt.ID); run.Status != store.StatusDone {
		t.Fatalf("backup run %s: %s", run.Status, run.Cause)
	}
	list, err := e.ms.Backup().List(t.Context(), "src", []string{"localstorage:b1"}, backup.ListFilter{})
	if err != nil || len(list) == 0 {
		t.Fatalf("list backups: %v %+v", err, list)
	}
	snaps := list[0].SnapshotInfo
	return snaps[len(snaps)-1].SnapshotTag
}

func (e *restoreEnv) restoreTask(t *testing.T, props map[string]any) (store.Task, error) {
	t.Helper()
	b, err := json.Marshal(props)
	if err != nil {
		t.Fatal(err)
	}
	return e.md.CreateTask(t.Context(), store.Task{ClusterID: e.cd.ID, Type: "restore", Enabled: true,
		Schedule: store.Schedule{Cron: "0 3 1 1 *"}, Properties: b})
}

// restoreAll runs a restore of e's snapshot's tables into the target
// (tablesProps) and checks it ends DONE having loaded the sstables whose
// Data.db CRCs are want.
func (e *restoreEnv) restoreAll(t *testing.T, want []uint32) (store.Task, store.Run) {
	t.Helper()
	task, err := e.restoreTask(t, e.tablesProps(e.tag))
	if err != nil {
		t.Fatal(err)
	}
	run := runOnce(t, e.md, e.cd.ID, task.ID)
	if run.Status != store.StatusDone {
		t.Fatalf("restore run %s: %s", run.Status, run.Cause)
	}
	checkLoaded(t, e.dst, want, "loaded sstables (-snapshot +loaded)")
	return task, run
}

func (e *restoreEnv) tablesProps(tag string) map[string]any {
	return map[string]any{"location": []string{"localstorage:b1"}, "snapshot_tag": tag, "restore_tables": true,
		"dc_mapping": map[string]string{"dc1": "dcx", "dc2": "dcx"}, "batch_size": 1}
}

// bucketDataCRCs returns the CRC-32 of every Data.db of ks in the bucket
// (a versioned copy counts as the file of its snapshot).
func (e *restoreEnv) bucketDataCRCs(t *testing.T) []uint32 {
	t.Helper()
	return e.nodeBucketCRCs(t, "")
}

// nodeBucketCRCs is bucketDataCRCs for one source node ("" = all).
func (e *restoreEnv) nodeBucketCRCs(t *testing.T, nodeID string) []uint32 {
	t.Helper()
	var out []uint32
	root := filepath.Join(e.buckets, "b1", "backup", "sst")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, "-Data.db") || !strings.Contains(p, "/keyspace/ks/") ||
			(nodeID != "" && !strings.Contains(p, "/node/"+nodeID+"/")) {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out = append(out, crc32.ChecksumIEEE(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// checkLoaded checks that dst loaded the sstables whose Data CRCs are
// want, and that they landed where they belong (checkLanded); what names
// the loads in the error.
func checkLoaded(t *testing.T, dst *scyllatest.Cluster, want []uint32, what string) {
	t.Helper()
	recs := dst.LoadedSSTables()
	if d := cmp.Diff(want, loadedCRCs(recs)); d != "" {
		t.Fatalf("%s:\n%s", what, d)
	}
	checkLanded(t, dst, recs)
}

// checkLanded checks that every loaded sstable landed on the replicas of
// its token in dst's ring and that those nodes hold its data.
func checkLanded(t *testing.T, dst *scyllatest.Cluster, recs []scyllatest.LoadedSSTable) {
	t.Helper()
	trs, err := dst.Client().DescribeRing(t.Context(), dst.Nodes()[0].IP, "ks", "")
	if err != nil {
		t.Fatal(err)
	}
	var ranges []ring.Range
	for _, tr := range trs {
		s, _ := strconv.ParseInt(tr.StartToken, 10, 64)
		e, _ := strconv.ParseInt(tr.EndToken, 10, 64)
		ranges = append(ranges, ring.Range{Start: s, End: e, Replicas: tr.Endpoints})
	}
	held := map[string]map[uint32]bool{}
	for _, n := range dst.Nodes() {
		held[n.IP] = map[uint32]bool{}
		for _, tbl := range []string{"t1", "t2"} {
			dir := dst.TableDir(n, "ks", tbl)
			ents, _ := os.ReadDir(dir)
			for _, en := range ents {
				if strings.HasSuffix(en.Name(), "-Data.db") {
					b, _ := os.ReadFile(filepath.Join(dir, en.Name()))
					held[n.IP][crc32.ChecksumIEEE(b)] = true
				}
			}
		}
	}
	for _, r := range recs {
		want := scyllatest.ReplicasOf(ranges, r.Token)
		if len(want) != 2 || !cmp.Equal(want, r.Landed) {
			t.Fatalf("sstable %s of %s.%s landed on %v, want its replicas %v", r.Name, r.Keyspace, r.Table, r.Landed, want)
		}
		for _, ip := range r.Landed {
			if !held[ip][r.DataCRC32] {
				t.Fatalf("%s does not hold the data of %s", ip, r.Name)
			}
		}
	}
}

func loadedCRCs(recs []scyllatest.LoadedSSTable) []uint32 {
	var out []uint32
	for _, r := range recs {
		out = append(out, r.DataCRC32)
	}
	slices.Sort(out)
	return out
}

func restoreProgress(t *testing.T, m *scyllaops.Manager, clusterID, taskID uuid.UUID) restore.Progress {
	t.Helper()
	_, raw, err := m.RunProgress(t.Context(), clusterID, taskID, "latest")
	if err != nil {
		t.Fatal(err)
	}
	var p restore.Progress
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatalf("progress %s: %v", raw, err)
	}
	return p
}

// TestRestoreTablesDCMapping backs up a 6-node 2-DC cluster and restores
// it into a 3-node 1-DC one: every sstable of the snapshot is loaded once,
// lands on its replicas with its content, progress ends at 100 %, and
// tombstone_gc is disabled for the data stage and restored after it.
func TestRestoreTablesDCMapping(t *testing.T) {
	e := newRestoreEnv(t, nil)
	want := e.bucketDataCRCs(t)
	if len(want) != 6*4 {
		t.Fatalf("bucket holds %d Data.db files of ks, want 24", len(want))
	}
	task, _ := e.restoreAll(t, want)
	for _, l := range e.dst.Loads() {
		if !l.LoadAndStream {
			t.Fatalf("load without load_and_stream: %+v", l)
		}
	}
	p := restoreProgress(t, e.md, e.cd.ID, task.ID)
	if p.Stage != restore.StageDone || p.Size == 0 || p.Restored != p.Size || p.Failed != 0 {
		t.Fatalf("progress: stage %s size %d restored %d failed %d", p.Stage, p.Size, p.Restored, p.Failed)
	}
	var got []scyllatest.TombstoneGCChange
	for _, mode := range []string{"disabled", "timeout"} {
		for _, tbl := range []string{"t1", "t2"} {
			got = append(got, scyllatest.TombstoneGCChange{Keyspace: "ks", Table: tbl, Mode: mode})
		}
	}
	if d := cmp.Diff(got, e.dst.TombstoneGCChanges()); d != "" {
		t.Fatalf("tombstone_gc changes (-want +got):\n%s", d)
	}
	// /metrics of the target's Manager carries Scylla Manager's restore
	// families and, from the restore's REPAIR stage, the repair ones.
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	families := map[string]bool{}
	for _, mf := range mfs {
		if len(mf.GetMetric()) > 0 {
			families[mf.GetName()] = true
		}
	}
	for _, want := range []string{"scylla_manager_restore_", "scylla_manager_repair_"} {
		found := false
		for name := range families {
			found = found || strings.HasPrefix(name, want)
		}
		if !found {
			t.Errorf("no %s* series after the restore; families with series: %v", want, slices.Sorted(maps.Keys(families)))
		}
	}
}

// TestRestoreBadInput: properties that cannot work are refused at task
// creation, naming the field, before anything is downloaded or stored.
func TestRestoreBadInput(t *testing.T) {
	e := newRestoreEnv(t, []scyllatest.Table{{Name: "t1"}}) // the target lacks ks.t2
	with := func(k string, v any) map[string]any {
		p := e.tablesProps(e.tag)
		p["keyspace"] = []string{"ks.t1"}
		if v == nil {
			delete(p, k)
		} else {
			p[k] = v
		}
		return p
	}
	for _, tc := range []struct {
		name, field string
		props       map[string]any
	}{
		{"unknown tag", "snapshot_tag", with("snapshot_tag", "sm_20200101000000UTC")},
		{"bad tag", "snapshot_tag", with("snapshot_tag", "yesterday")},
		{"unknown location", "location", with("location", []string{"localstorage:nobucket"})},
		{"unknown keyspace", "keyspace", with("keyspace", []string{"nope"})},
		{"unknown source dc", "dc_mapping", with("dc_mapping", map[string]string{"dc9": "dcx"})},
		{"unknown target dc", "dc_mapping", with("dc_mapping", map[string]string{"dc1": "dc9"})},
		{"both", "restore_tables", with("restore_schema", true)},
		{"neither", "restore_tables", with("restore_tables", nil)},
		{"table missing in target", "restore_tables", with("keyspace", []string{"ks"})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.restoreTask(t, tc.props)
			if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("err = %v, want an invalid %s", err, tc.field)
			}
		})
	}
	tasks, err := e.md.ListTasks(t.Context(), e.cd.ID, scyllaops.TaskFilter{All: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range tasks {
		if tk.Type == "restore" {
			t.Fatalf("a refused restore task was stored: %+v", tk)
		}
	}
	if l := e.dst.Loads(); len(l) != 0 {
		t.Fatalf("loads after refused tasks: %+v", l)
	}
}

// TestRestoreREST: the dry-run target, a refused task (400) and the run
// progress through the /api/v1 handler.
func TestRestoreREST(t *testing.T) {
	e := newRestoreEnv(t, nil)
	srv := httptest.NewServer(restapi.NewHandler(e.md, restapi.Options{}))
	t.Cleanup(srv.Close)
	cl, err := restapi.NewClient(srv.URL+"/api/v1", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	props, _ := json.Marshal(e.tablesProps(e.tag))
	var target restore.Target
	if err := cl.TaskTarget(t.Context(), "dst", restapi.TaskUpdate{Type: "restore", Properties: props}, &target); err != nil {
		t.Fatal(err)
	}
	if len(target.SourceNodes) != 6 || len(target.TargetHosts) != 3 || target.Batches == 0 || target.Size == 0 ||
		len(target.Units) != 1 || len(target.Units[0].Tables) != 2 || target.EstimatedDuration == "" {
		t.Fatalf("target %+v", target)
	}
	bad, _ := json.Marshal(map[string]any{"location": []string{"localstorage:b1"}, "snapshot_tag": e.tag, "restore_tables": true, "dc_mapping": map[string]string{"dc1": "nowhere"}})
	var apiErr *restapi.APIError
	if _, err := cl.CreateTask(t.Context(), "dst", restapi.TaskUpdate{Type: "restore", Properties: bad}); !errors.As(err, &apiErr) ||
		apiErr.StatusCode != http.StatusBadRequest || !strings.Contains(apiErr.Message+apiErr.Details, "dc_mapping") {
		t.Fatalf("create with an unknown target DC: %v, want 400 naming dc_mapping", err)
	}
	id, err := cl.CreateTask(t.Context(), "dst", restapi.TaskUpdate{Type: "restore", Enabled: true,
		Schedule: &restapi.Schedule{Cron: "0 3 1 1 *"}, Properties: props})
	if err != nil {
		t.Fatal(err)
	}
	tid := uuid.MustParse(id)
	if run := runOnce(t, e.md, e.cd.ID, tid); run.Status != store.StatusDone {
		t.Fatalf("run %s: %s", run.Status, run.Cause)
	}
	rp, err := cl.RunProgress(t.Context(), "dst", "restore", id, "latest")
	if err != nil {
		t.Fatal(err)
	}
	var p restore.Progress
	if err := json.Unmarshal(rp.Progress, &p); err != nil {
		t.Fatal(err)
	}
	if p.Stage != restore.StageDone || p.Size != target.Size || p.Restored != p.Size || len(p.Hosts) != 3 || p.SnapshotTag != e.tag {
		t.Fatalf("REST progress %s", rp.Progress)
	}

	// The raw bodies have the shapes of Scylla Manager's swagger
	// (RestoreTarget, RestoreProgress: restapi/testdata/schemas).
	schemas, err := schemacheck.Load(os.DirFS("restapi/testdata"), "schemas")
	if err != nil {
		t.Fatal(err)
	}
	raw := func(path, body string) []byte {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/api/v1"+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s %v", path, resp.StatusCode, b, err)
		}
		return b
	}
	tb, _ := json.Marshal(map[string]any{"type": "restore", "properties": json.RawMessage(props)})
	if err := schemas.Validate("restore_target", raw("/cluster/dst/tasks/restore/target", string(tb))); err != nil {
		t.Errorf("restore target: %v", err)
	}
	if err := schemas.Validate("restore_progress", raw("/cluster/dst/task/restore/"+id+"/latest", "")); err != nil {
		t.Errorf("restore progress: %v", err)
	}
}

// TestRestoreDropsAndRecreatesViews: a materialized view of a restored
// table is dropped over CQL before any sstable is loaded and re-created,
// with the statement DESCRIBE SCHEMA gave for it, once every load is done;
// the run waits for the view's build (view_build_statuses) and ends DONE
// with the view marked done in its progress and its build status metric
// at success.
func TestRestoreDropsAndRecreatesViews(t *testing.T) {
	e := newRestoreEnv(t, []scyllatest.Table{{Name: "t1"}, {Name: "t2"}, {Name: "t1_by_v", BaseTable: "t1"}})
	const build = time.Second
	e.dst.SetViewBuildTime(build)
	want := e.bucketDataCRCs(t)
	var before string
	for _, r := range e.dst.Schema() {
		if r.Type == "view" && r.Name == "t1_by_v" {
			before = r.CreateStatement
		}
	}
	if before == "" {
		t.Fatalf("target schema has no view t1_by_v: %v", e.dst.Schema())
	}
	task, run := e.restoreAll(t, want)
	loads := len(e.dst.Loads())
	changes := e.dst.ViewChanges()
	if len(changes) == 2 && run.EndTime.Before(changes[1].At.Add(build)) {
		t.Errorf("run ended at %v, before the view created at %v was built (%v)", run.EndTime, changes[1].At, build)
	}
	for i := range changes {
		changes[i].At = time.Time{}
	}
	wantChanges := []scyllatest.ViewChange{
		{Keyspace: "ks", View: "t1_by_v", BaseTable: "t1", Change: "DROPPED", LoadsBefore: 0},
		{Keyspace: "ks", View: "t1_by_v", BaseTable: "t1", Change: "CREATED", LoadsBefore: loads},
	}
	if d := cmp.Diff(wantChanges, changes); d != "" {
		t.Fatalf("view changes (-want +got):\n%s", d)
	}
	var after string
	for _, r := range e.dst.Schema() {
		if r.Type == "view" && r.Name == "t1_by_v" {
			after = r.CreateStatement
		}
	}
	if after != before {
		t.Fatalf("view after the restore:\n%s\nwant as before:\n%s", after, before)
	}
	p := restoreProgress(t, e.md, e.cd.ID, task.ID)
	if len(p.Views) != 1 || p.Views[0].View != "t1_by_v" || p.Views[0].Status != "done" {
		t.Fatalf("progress views %+v, want t1_by_v done", p.Views)
	}
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	status := -1.0
	for _, mf := range mfs {
		if mf.GetName() == "scylla_manager_restore_view_build_status" {
			for _, m := range mf.GetMetric() {
				status = m.GetGauge().GetValue()
			}
		}
	}
	if status != 2 {
		t.Fatalf("scylla_manager_restore_view_build_status = %v, want 2 (success)", status)
	}
}
