//go:build outage

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scyllaops/scyllaops/internal/testenv"
	"github.com/scyllaops/scyllaops/restapi"
	"github.com/scyllaops/scyllaops/scyllatest"
)

// TestServerStoreOutage stops the database under a server that is in the
// middle of a backup, for longer than the run's lease, and starts it again:
// the server stays up, its API answers 503 naming the database
// meanwhile, and the same run continues its snapshot to DONE — one run,
// one snapshot in the bucket.
func TestServerStoreOutage(t *testing.T) {
	testenv.Need(t, "SCYLLAOPS_CI_DIR") // it stops and starts the Cassandra of scripts/services.sh
	bin := buildServer(t)
	db := testDB(t)
	dir := t.TempDir()
	ctx := t.Context()
	// Whatever happens, leave Cassandra running for the next tests.
	t.Cleanup(func() { testenv.Services(t, "start", "cassandra") })

	cfg := filepath.Join(dir, "server.yaml")
	if err := os.WriteFile(cfg, []byte(db.config("outage")), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startProc(t, bin, cfg)
	defer func() {
		if t.Failed() {
			t.Logf("last log lines of the server:\n%s", p.tail(40))
		}
	}()
	c, err := restapi.NewClient("http://"+p.http, nil)
	if err != nil {
		t.Fatal(err)
	}

	openBucket := dirBuckets(t, filepath.Join(dir, "buckets"))
	sim := scyllatest.New(t, scyllatest.Options{Listen: true, Topology: scyllatest.Topology3(2),
		OpenBucket: openBucket,
		Keyspaces: []scyllatest.Keyspace{{Name: "data", Replication: scyllatest.Simple(2),
			Tables: []scyllatest.Table{{Name: "t", SSTables: 6, DataSize: 4 << 20}}}}})
	if _, err := c.CreateCluster(ctx, restapi.Cluster{Name: "sim", Host: sim.ContactHost(), AuthToken: sim.AuthToken()}); err != nil {
		t.Fatal(err)
	}
	props := json.RawMessage(`{"location":["` + haLocation + `"],"rate_limit":["1"],"keyspace":["data"]}`)
	tid, err := c.CreateTask(ctx, "sim", restapi.TaskUpdate{Type: "backup", Enabled: true, Properties: props})
	if err != nil {
		t.Fatal(err)
	}
	// No schedule: one run, now.
	var before restapi.BackupProgress
	var runID string
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		pr, err := c.RunProgress(ctx, "sim", "backup", tid, "latest")
		if err == nil {
			_ = json.Unmarshal(pr.Progress, &before)
			if pr.Run.Status == "DONE" || pr.Run.Status == "ERROR" {
				t.Fatalf("the backup ended %s before the outage (make it slower): %+v", pr.Run.Status, before)
			}
			if before.Uploaded > 0 {
				runID = pr.Run.ID
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no upload progress within a minute (last error %v)", err)
		}
	}

	testenv.Services(t, "stop", "cassandra")
	down := time.Now()
	// Longer than the run's lease (haLeaseTTL): the server loses it.
	var apiErr error
	for time.Since(down) < 2*haLeaseTTL {
		if _, err := c.RunProgress(ctx, "sim", "backup", tid, "latest"); err != nil {
			apiErr = err
		}
		time.Sleep(500 * time.Millisecond)
	}
	if !isStatus(apiErr, 503) || !strings.Contains(apiErr.Error(), "cqlstore") {
		t.Errorf("API during the outage: %v; want a 503 naming the database", apiErr)
	}
	testenv.Services(t, "start", "cassandra")
	select {
	case <-p.done:
		t.Fatal("the server died during the database outage")
	default:
	}

	var final restapi.TaskRunProgress
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(500 * time.Millisecond) {
		final, err = c.RunProgress(ctx, "sim", "backup", tid, "latest")
		if err == nil && (final.Run.Status == "DONE" || final.Run.Status == "ERROR") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run not finished 3 minutes after the database came back: %+v, %v", final.Run, err)
		}
	}
	var after restapi.BackupProgress
	_ = json.Unmarshal(final.Progress, &after)
	if final.Run.Status != "DONE" || final.Run.ID != runID {
		t.Fatalf("after the outage the latest run is %s %s (%s), want run %s DONE", final.Run.ID, final.Run.Status, final.Run.Cause, runID)
	}
	if after.SnapshotTag != before.SnapshotTag {
		t.Errorf("snapshot %s after the outage, %s before: the run started over", after.SnapshotTag, before.SnapshotTag)
	}
	hist, err := c.TaskHistory(ctx, "sim", "backup", tid, 0)
	if err != nil || len(hist) != 1 {
		t.Errorf("task history = %d runs, %v; want the one run", len(hist), err)
	}
	items, err := c.ListBackups(ctx, "sim", restapi.ListBackupsOptions{Locations: []string{haLocation}})
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	for _, it := range items {
		for _, si := range it.SnapshotInfo {
			tags = append(tags, si.SnapshotTag)
		}
	}
	if len(tags) != 1 || tags[0] != before.SnapshotTag {
		t.Errorf("snapshots in the bucket: %v; want just %s", tags, before.SnapshotTag)
	}
	t.Logf("outage at %d/%d bytes; run %s DONE on snapshot %s; API error meanwhile: %v", before.Uploaded, before.Size, runID, after.SnapshotTag, apiErr)
}
