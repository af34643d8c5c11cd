package scyllaops_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/scyllaops/scyllaops/backup"
	"github.com/scyllaops/scyllaops/restore"
	"github.com/scyllaops/scyllaops/scyllatest"
	"github.com/scyllaops/scyllaops/store"
)

// TestRestoreResumesFailedLoad: a load&stream that fails on one node ends
// the run in ERROR with the other nodes' batches restored; the next run
// continues it: it loads what is left, nothing twice, downloads nothing
// again (the downloaded bytes of both runs add up to the snapshot's
// size) and ends DONE at 100 %.
func TestRestoreResumesFailedLoad(t *testing.T) {
	e := newRestoreEnv(t, nil)
	want := e.bucketDataCRCs(t)
	task, err := e.restoreTask(t, e.tablesProps(e.tag))
	if err != nil {
		t.Fatal(err)
	}
	failing := e.dst.Nodes()[1]
	if err := e.dst.FailNext(failing, http.MethodPost, "/storage_service/sstables/", http.StatusInternalServerError); err != nil {
		t.Fatal(err)
	}
	run := runOnce(t, e.md, e.cd.ID, task.ID)
	if run.Status != store.StatusError || !strings.Contains(run.Cause, failing.IP) {
		t.Fatalf("first run %s (%s), want ERROR naming %s", run.Status, run.Cause, failing.IP)
	}
	first := len(e.dst.LoadedSSTables())
	if first == 0 || first == len(want) {
		t.Fatalf("first run loaded %d of %d sstables, want some", first, len(want))
	}
	run = runOnce(t, e.md, e.cd.ID, task.ID)
	if run.Status != store.StatusDone {
		t.Fatalf("resumed run %s: %s", run.Status, run.Cause)
	}
	checkLoaded(t, e.dst, want, "loaded sstables over both runs (-snapshot +loaded)")
	p := restoreProgress(t, e.md, e.cd.ID, task.ID)
	var downloaded int64
	for _, h := range p.Hosts {
		downloaded += h.DownloadedBytes
	}
	if p.Stage != restore.StageDone || p.Restored != p.Size || downloaded != p.Size {
		t.Fatalf("progress: stage %s size %d restored %d downloaded by hosts %d", p.Stage, p.Size, p.Restored, downloaded)
	}
}

// TestRestoreMissingFile: a file of the snapshot missing from the bucket
// fails the run naming it; once it is back the next run ends DONE.
func TestRestoreMissingFile(t *testing.T) {
	e := newRestoreEnv(t, nil)
	task, err := e.restoreTask(t, e.tablesProps(e.tag))
	if err != nil {
		t.Fatal(err)
	}
	var victim string
	_ = filepath.WalkDir(filepath.Join(e.buckets, "b1", "backup", "sst"), func(p string, d os.DirEntry, err error) error {
		if err == nil && victim == "" && strings.HasSuffix(p, "-Data.db") && strings.Contains(p, "/keyspace/ks/") {
			victim = p
		}
		return err
	})
	hidden := victim + ".hidden"
	if err := os.Rename(victim, hidden); err != nil {
		t.Fatal(err)
	}
	run := runOnce(t, e.md, e.cd.ID, task.ID)
	rel := strings.TrimPrefix(victim, filepath.Join(e.buckets, "b1")+"/")
	if run.Status != store.StatusError || !strings.Contains(run.Cause, rel) {
		t.Fatalf("run %s (%s), want ERROR naming %s", run.Status, run.Cause, rel)
	}
	if n := len(e.dst.LoadedSSTables()); n != 0 {
		t.Fatalf("%d sstables loaded from an incomplete bucket", n)
	}
	if err := os.Rename(hidden, victim); err != nil {
		t.Fatal(err)
	}
	if run := runOnce(t, e.md, e.cd.ID, task.ID); run.Status != store.StatusDone {
		t.Fatalf("run after the file is back: %s (%s)", run.Status, run.Cause)
	}
}

// TestRestoreRefusesIncompleteSnapshot: a snapshot with a node whose
// manifest was never finished (.tmp) is refused, naming the node.
func TestRestoreRefusesIncompleteSnapshot(t *testing.T) {
	e := newRestoreEnv(t, nil)
	var manifest string
	_ = filepath.WalkDir(filepath.Join(e.buckets, "b1", "backup", "meta"), func(p string, d os.DirEntry, err error) error {
		if err == nil && manifest == "" && strings.HasSuffix(p, "_manifest.json.gz") {
			manifest = p
		}
		return err
	})
	if err := os.Rename(manifest, manifest+".tmp"); err != nil {
		t.Fatal(err)
	}
	node := filepath.Base(filepath.Dir(manifest))
	list, err := e.ms.Backup().List(t.Context(), "src", []string{"localstorage:b1"}, backup.ListFilter{})
	if err != nil || len(list) != 1 || len(list[0].SnapshotInfo) != 1 {
		t.Fatalf("list: %v %+v", err, list)
	}
	if si := list[0].SnapshotInfo[0]; !si.Incomplete || !slices.Equal(si.UnfinishedNodes, []string{node}) || si.Nodes != 5 {
		t.Fatalf("backup list shows %+v, want an incomplete snapshot of 5 nodes, unfinished %s", si, node)
	}
	_, err = e.restoreTask(t, e.tablesProps(e.tag))
	if !errors.Is(err, restore.ErrIncompleteSnapshot) || !strings.Contains(err.Error(), node) {
		t.Fatalf("err = %v, want an incomplete snapshot naming node %s", err, node)
	}
}

// TestRestoreSchemaIntoEmptyCluster applies the snapshot's schema file to
// a cluster without the keyspace; a second run changes nothing.
func TestRestoreSchemaIntoEmptyCluster(t *testing.T) {
	e := newRestoreEnv(t, nil)
	empty := scyllatest.New(t, scyllatest.Options{TokensPerNode: 8, Seed: 3, Keyspaces: []scyllatest.Keyspace{},
		Topology:   []scyllatest.DC{{Name: "dc1", Racks: []scyllatest.Rack{{Name: "r1", Nodes: 1}}}, {Name: "dc2", Racks: []scyllatest.Rack{{Name: "r1", Nodes: 1}}}},
		OpenBucket: e.src.Options().OpenBucket})
	m, c := managerOn(t, empty, "empty")
	props := `{"location":["localstorage:b1"],"snapshot_tag":"` + e.tag + `","restore_schema":true}`
	task, err := m.CreateTask(t.Context(), store.Task{ClusterID: c.ID, Type: "restore", Enabled: true,
		Schedule: store.Schedule{Cron: "0 3 1 1 *"}, Properties: []byte(props)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if run := runOnce(t, m, c.ID, task.ID); run.Status != store.StatusDone {
			t.Fatalf("schema run %d: %s (%s)", i, run.Status, run.Cause)
		}
		var got []string
		for _, r := range empty.Schema() {
			if r.Keyspace == "ks" {
				got = append(got, r.Type+" "+r.Name)
			}
		}
		slices.Sort(got)
		if d := cmp.Diff([]string{"keyspace ks", "table t1", "table t2"}, got); d != "" {
			t.Fatalf("schema after run %d (-want +got):\n%s", i, d)
		}
	}
}

// TestRestoreOneToOne restores onto an identical topology (same DCs,
// racks and tokens) with a nodes mapping: each target node loads exactly
// its source node's sstables, without streaming.
func TestRestoreOneToOne(t *testing.T) {
	buckets := t.TempDir()
	if err := os.Mkdir(filepath.Join(buckets, "b1"), 0o755); err != nil {
		t.Fatal(err)
	}
	e := &restoreEnv{buckets: buckets}
	open := e.openBucket
	topo := []scyllatest.DC{{Name: "dc1", Racks: []scyllatest.Rack{{Name: "r1", Nodes: 2}, {Name: "r2", Nodes: 1}}}}
	e.src = scyllatest.New(t, scyllatest.Options{OpenBucket: open, TokensPerNode: 8, Topology: topo,
		Keyspaces: []scyllatest.Keyspace{{Name: "ks", Replication: scyllatest.Simple(2), Tables: []scyllatest.Table{{Name: "t1", SSTables: 3}, {Name: "t2", SSTables: 1}}}}})
	e.dst = scyllatest.New(t, scyllatest.Options{OpenBucket: open, TokensPerNode: 8, Topology: topo,
		Keyspaces: []scyllatest.Keyspace{{Name: "ks", Replication: scyllatest.Simple(2), Tables: []scyllatest.Table{{Name: "t1"}, {Name: "t2"}}}}})
	e.ms, e.cs = managerOn(t, e.src, "src")
	e.md, e.cd = managerOn(t, e.dst, "dst")
	e.tag = e.backup(t)

	var mapping []map[string]any
	srcCRCs := map[string][]uint32{} // target IP -> its source node's Data.db CRCs
	for i, sn := range e.src.Nodes() {
		dn := e.dst.Nodes()[i]
		if !slices.Equal(sn.Tokens, dn.Tokens) {
			t.Fatalf("clusters differ: %s and %s have other tokens", sn.IP, dn.IP)
		}
		ref := func(n *scyllatest.Node) map[string]string {
			return map[string]string{"dc": n.DC, "rack": n.Rack, "host_id": n.HostID.String()}
		}
		mapping = append(mapping, map[string]any{"source": ref(sn), "target": ref(dn)})
		srcCRCs[dn.IP] = e.nodeBucketCRCs(t, sn.HostID.String())
	}
	b, _ := json.Marshal(map[string]any{"location": []string{"localstorage:b1"}, "snapshot_tag": e.tag, "nodes_mapping": mapping})
	task, err := e.md.CreateTask(t.Context(), store.Task{ClusterID: e.cd.ID, Type: "1_1_restore", Enabled: true,
		Schedule: store.Schedule{Cron: "0 3 1 1 *"}, Properties: b})
	if err != nil {
		t.Fatal(err)
	}
	if run := runOnce(t, e.md, e.cd.ID, task.ID); run.Status != store.StatusDone {
		t.Fatalf("1-1 restore run %s: %s", run.Status, run.Cause)
	}
	for _, l := range e.dst.Loads() {
		if l.LoadAndStream {
			t.Fatalf("1-1 restore streamed: %+v", l)
		}
	}
	got := map[string][]uint32{}
	for _, r := range e.dst.LoadedSSTables() {
		if !slices.Equal(r.Landed, []string{r.Host}) {
			t.Fatalf("sstable %s loaded on %s landed on %v", r.Name, r.Host, r.Landed)
		}
		got[r.Host] = append(got[r.Host], r.DataCRC32)
	}
	for ip := range got {
		slices.Sort(got[ip])
	}
	if d := cmp.Diff(srcCRCs, got); d != "" {
		t.Fatalf("sstables per target node (-its source node's +loaded):\n%s", d)
	}
}
