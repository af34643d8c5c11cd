package scyllaops_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"
	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/backup"
	"github.com/scyllaops/scyllaops/scyllatest"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/memstore"
)

// Example adds a simulated 3-node cluster to a Manager, backs it up to a
// local bucket through the nodes' agents, and validates the backup.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// A bucket: the "localstorage:backups" location is a directory here.
	buckets, _ := os.MkdirTemp("", "scyllaops-example-")
	defer os.RemoveAll(buckets)
	_ = os.Mkdir(filepath.Join(buckets, "backups"), 0o755)
	openBucket := func(ctx context.Context, provider, bucket string) (*blob.Bucket, error) {
		return fileblob.OpenBucket(filepath.Join(buckets, bucket), &fileblob.Options{NoTempDir: true})
	}

	// A simulated cluster: 3 nodes, every one behind the real agent.
	sim, err := scyllatest.Start(scyllatest.Options{OpenBucket: openBucket})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sim.Close()

	// A Manager on the in-memory store, reaching the agents in-process.
	st := memstore.New()
	defer st.Close()
	// Everything a Manager needs to reach the simulated cluster: the agent
	// transport, the CQL dialer, a contact host and the token.
	access := sim.ManagerAccess()
	m, err := scyllaops.New(st, access.Transport, scyllaops.Options{CQLDial: access.CQLDial})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(runCtx) }()
	defer func() { stop(); <-done }()

	c, err := m.CreateCluster(ctx, scyllaops.Cluster{Name: "demo", Host: access.Host, AuthToken: access.AuthToken})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("cluster:", c.Name, "nodes:", len(c.KnownHosts), "auth token:", c.AuthToken)

	props, _ := json.Marshal(map[string]any{"location": []string{"localstorage:backups"}})
	task, err := m.CreateTask(ctx, store.Task{ClusterID: c.ID, Type: "backup", Name: "nightly", Enabled: true,
		Schedule: store.Schedule{Cron: "0 3 * * *"}, Properties: props})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := m.StartTask(ctx, c.ID, task.ID, true); err != nil {
		fmt.Println(err)
		return
	}
	run := waitRun(ctx, m, c.ID, task.ID)
	fmt.Println("backup run:", run.Status)

	list, _ := m.Backup().List(ctx, "demo", nil, backup.ListFilter{})
	fmt.Println("snapshots:", len(list[0].SnapshotInfo), "nodes in it:", list[0].SnapshotInfo[0].Nodes)

	reports, _ := m.Backup().Validate(ctx, "demo", nil, backup.ValidateOptions{})
	missing := 0
	for _, r := range reports {
		missing += r.MissingFiles
	}
	fmt.Println("missing files:", missing)
	// Output:
	// cluster: demo nodes: 3 auth token: set
	// backup run: DONE
	// snapshots: 1 nodes in it: 3
	// missing files: 0
}

// waitRun waits for the latest run of a task to end DONE, ERROR or
// STOPPED. ABORTED is not an end here: a run aborted by a dead Manager is
// taken over and continued.
func waitRun(ctx context.Context, m *scyllaops.Manager, clusterID, taskID uuid.UUID) store.Run {
	for {
		run, _, err := m.RunProgress(ctx, clusterID, taskID, "latest")
		if err == nil && run.Status.Final() && run.Status != store.StatusAborted {
			return run
		}
		select {
		case <-ctx.Done():
			return run
		case <-time.After(50 * time.Millisecond):
		}
	}
}
