package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/scyllaops/scyllaops/repair"
	"github.com/scyllaops/scyllaops/restapi"
	"github.com/scyllaops/scyllaops/restore"
	"github.com/scyllaops/scyllaops/scyllatest"
)

// restoredName is the cluster the demo restores into.
const restoredName = "restored"

// opResult is a repair or restore run for the summary.
type opResult struct {
	name, status string
	done, total  int64 // token ranges, or bytes
	unit         string
	took         time.Duration
}

// repair starts the weekly repair task that was added with the cluster and
// follows it; it prints a per-keyspace table.
func (e *env) repair(ctx context.Context, out io.Writer) (opResult, error) {
	items, err := e.client.ListTasks(ctx, clusterName, restapi.ListTasksOptions{Type: "repair", All: true})
	if err != nil {
		return opResult{}, fmt.Errorf("list repair tasks: %w", err)
	}
	if len(items) == 0 {
		return opResult{}, errors.New("the cluster has no repair task")
	}
	id := items[0].ID
	fmt.Fprintf(out, "Starting repair/%s (%s, the weekly repair added with the cluster).\n", id, items[0].Name)
	if err := e.client.StartTask(ctx, clusterName, "repair", id, false); err != nil {
		return opResult{}, fmt.Errorf("start repair: %w", err)
	}
	p, rp, err := followAs(ctx, e, out, clusterName, "repair", id, "", func(rp repair.RunProgress) (int64, int64) {
		return rp.Success + rp.Error, rp.TokenRanges
	})
	if err != nil {
		return opResult{}, err
	}
	r := opResult{name: "repair", status: p.Run.Status, done: rp.Success, total: rp.TokenRanges, unit: "token ranges", took: runTook(p)}
	if p.Run.Status != "DONE" {
		return r, fmt.Errorf("repair run %s ended %s: %s", p.Run.ID, p.Run.Status, p.Run.Cause)
	}
	type ks struct{ tables, ranges, success, errs int64 }
	byKs := map[string]*ks{}
	for _, t := range rp.Tables {
		k := byKs[t.Keyspace]
		if k == nil {
			k = &ks{}
			byKs[t.Keyspace] = k
		}
		k.tables++
		k.ranges += t.TokenRanges
		k.success += t.Success
		k.errs += t.Error
	}
	t := newTable("Keyspace", "Tables", "Token ranges", "Repaired", "Failed", "Progress")
	for _, name := range slices.Sorted(maps.Keys(byKs)) {
		k := byKs[name]
		t.add(name, k.tables, k.ranges, k.success, k.errs, fmt.Sprintf("%d%%", 100*k.success/max(k.ranges, 1)))
	}
	fmt.Fprint(out, t)
	return r, nil
}

// restore starts a second simulated cluster of another topology (one DC
// of 3 nodes, the same schema without data), adds it, restores the
// snapshot tag into it with dc_mapping, and checks that every sstable of
// the snapshot was loaded with the bytes that were backed up.
func (e *env) restore(ctx context.Context, out io.Writer, tag, bucketRoot string) (opResult, error) {
	dst, err := scyllatest.Start(scyllatest.Options{
		Topology:   []scyllatest.DC{{Name: "dc1", Racks: []scyllatest.Rack{{Name: "rack1", Nodes: 3}}}},
		Keyspaces:  restoredKeyspaces(),
		DataDir:    filepath.Join(e.dir, "nodes-restored"),
		Listen:     true,
		Logger:     e.log,
		OpenBucket: localBuckets(bucketRoot),
		Seed:       2,
	})
	if err != nil {
		return opResult{}, fmt.Errorf("start the second cluster: %w", err)
	}
	e.closers = append(e.closers, dst.Close)
	fmt.Fprintf(out, "Second cluster: 1 DC, 3 nodes %v, same keyspaces, no data.\n", dst.Hosts())
	if _, err := e.client.CreateCluster(ctx, restapi.Cluster{Name: restoredName, Host: dst.ContactHost(), Port: scyllatest.PortAgent,
		AuthToken: dst.AuthToken(), WithoutRepair: true}); err != nil {
		return opResult{}, fmt.Errorf("add the second cluster: %w", err)
	}
	props, _ := json.Marshal(map[string]any{"location": []string{location}, "snapshot_tag": tag, "restore_tables": true,
		"dc_mapping": map[string]string{"dc1": "dc1", "dc2": "dc1"}})
	now := time.Now().UTC()
	id, err := e.client.CreateTask(ctx, restoredName, restapi.TaskUpdate{Type: "restore", Name: "demo-restore", Enabled: true,
		Properties: props, Schedule: &restapi.Schedule{StartDate: &now}})
	if err != nil {
		return opResult{}, fmt.Errorf("create restore task: %w", err)
	}
	fmt.Fprintf(out, "Task restore/%s: snapshot %s, dc_mapping dc1,dc2 -> dc1 (starts now).\n", id, tag)
	p, rp, err := followAs(ctx, e, out, restoredName, "restore", id, "", func(rp restore.Progress) (int64, int64) {
		return rp.Restored, rp.Size
	})
	if err != nil {
		return opResult{}, err
	}
	r := opResult{name: "restore", status: p.Run.Status, done: rp.Restored, total: rp.Size, unit: "bytes", took: runTook(p)}
	if p.Run.Status != "DONE" {
		return r, fmt.Errorf("restore run %s ended %s: %s", p.Run.ID, p.Run.Status, p.Run.Cause)
	}
	t := newTable("Keyspace", "Size", "Restored", "Failed")
	for _, k := range rp.Keyspaces {
		t.add(k.Keyspace, size(k.Size), size(k.Restored), size(k.Failed))
	}
	fmt.Fprint(out, t)

	// Every sstable of the snapshot reached the second cluster, with the
	// content that is in the bucket.
	files, err := e.client.BackupFiles(ctx, clusterName, restapi.ListBackupsOptions{Locations: []string{location}, SnapshotTag: tag})
	if err != nil {
		return r, fmt.Errorf("backup files: %w", err)
	}
	restored := map[string]bool{}
	for _, k := range rp.Keyspaces {
		restored[k.Keyspace] = true
	}
	want := 0
	var skipped []string
	for _, fi := range files {
		for _, tf := range fi.Files {
			if !restored[tf.Keyspace] {
				if !slices.Contains(skipped, tf.Keyspace) {
					skipped = append(skipped, tf.Keyspace)
				}
				continue
			}
			for _, f := range tf.Files {
				if strings.HasSuffix(f, "-Data.db") {
					want++
				}
			}
		}
	}
	crcs, err := bucketDataCRCs(bucketRoot)
	if err != nil {
		return r, err
	}
	loaded := dst.LoadedSSTables()
	bad := 0
	for _, l := range loaded {
		if !crcs[l.DataCRC32] || len(l.Landed) == 0 {
			bad++
		}
	}
	slices.Sort(skipped)
	fmt.Fprintf(out, "Not restored, as Scylla Manager does: the system keyspaces %s (ScyllaDB's own data).\n", strings.Join(skipped, ", "))
	fmt.Fprintf(out, "Restored sstables: %d of %d in the snapshot's restored keyspaces, %d not matching the bucket.\n", len(loaded), want, bad)
	if len(loaded) != want || bad != 0 {
		return r, fmt.Errorf("restore check: %d sstables loaded, %d in the snapshot, %d mismatched", len(loaded), want, bad)
	}
	return r, nil
}

// restoredKeyspaces are demoKeyspaces without data, replicated in the one
// DC of the second cluster.
func restoredKeyspaces() []scyllatest.Keyspace {
	var out []scyllatest.Keyspace
	for _, ks := range demoKeyspaces() {
		for i := range ks.Tables {
			ks.Tables[i].SSTables = 0
		}
		if ks.Replication.DCRF != nil {
			ks.Replication.DCRF = map[string]int{"dc1": 3}
		}
		out = append(out, ks)
	}
	return out
}

// bucketDataCRCs returns the CRC-32 of every Data.db file in the buckets.
func bucketDataCRCs(root string) (map[uint32]bool, error) {
	out := map[uint32]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.Contains(filepath.Base(p), "-Data.db") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[crc32.ChecksumIEEE(b)] = true
		return nil
	})
	return out, err
}

// runTook is the run's duration from its start and end times.
func runTook(p restapi.TaskRunProgress) time.Duration {
	if p.Run.StartTime != nil && p.Run.EndTime != nil {
		return p.Run.EndTime.Sub(*p.Run.StartTime)
	}
	return 0
}

// opTable is the summary of the repair and restore runs.
func opTable(rs []opResult) string {
	t := newTable("Run", "Status", "Done", "Of", "Unit", "Took")
	for _, r := range rs {
		done, total := fmt.Sprint(r.done), fmt.Sprint(r.total)
		if r.unit == "bytes" {
			done, total = size(r.done), size(r.total)
		}
		t.add(r.name, r.status, done, total, r.unit, r.took.Round(time.Millisecond))
	}
	return t.String()
}
