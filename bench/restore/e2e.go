package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/uuid"
	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/s3blob"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/bench/internal/kit"
	"github.com/scyllaops/scyllaops/restore"
	"github.com/scyllaops/scyllaops/scyllatest"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/memstore"
)

// e2eResult is one end-to-end backup and restore of a simulated cluster.
type e2eResult struct {
	target            string
	bytes             int64 // SSTable bytes of the source cluster
	backupD, restoreD time.Duration
	cpuBackup         time.Duration // this process's CPU (nodes, agents and Manager)
	cpuRestore        time.Duration
}

// e2e layout: 3 nodes, keyspace ks (RF 2) with tables t1, t2 of
// e2eSSTables sstables per node each.
const e2eSSTables = 8

// endToEnd backs a simulated 3-node cluster up to t through a Manager and
// restores it into a second one through another Manager, timing both.
func (b *bench) endToEnd(ctx context.Context, t kit.Target) (e2eResult, error) {
	r := e2eResult{target: t.Name()}
	if err := t.Clean(ctx); err != nil {
		return r, err
	}
	dir := filepath.Join(b.root, "e2e")
	_ = os.RemoveAll(dir)
	defer os.RemoveAll(dir)
	// Per node: 2 tables × e2eSSTables sstables share the MiB.
	dataSize := max(int64(4096), int64(b.c.e2eMiB)<<20/int64(b.c.nodes)/(2*e2eSSTables))
	open, closeOpen, err := b.e2eBuckets(ctx, t)
	if err != nil {
		return r, err
	}
	defer closeOpen()
	ks := func(tables []scyllatest.Table) []scyllatest.Keyspace {
		return []scyllatest.Keyspace{{Name: "ks", Replication: scyllatest.Simple(2), Tables: tables}}
	}
	src, err := scyllatest.Start(scyllatest.Options{OpenBucket: open, TokensPerNode: 16, DataDir: filepath.Join(dir, "src"),
		Topology: scyllatest.Topology3(b.c.nodes),
		Keyspaces: ks([]scyllatest.Table{{Name: "t1", SSTables: e2eSSTables, DataSize: dataSize},
			{Name: "t2", SSTables: e2eSSTables, DataSize: dataSize}})})
	if err != nil {
		return r, err
	}
	defer src.Close()
	dst, err := scyllatest.Start(scyllatest.Options{OpenBucket: open, TokensPerNode: 16, Seed: 2, DataDir: filepath.Join(dir, "dst"),
		Topology: scyllatest.Topology3(b.c.nodes), Keyspaces: ks([]scyllatest.Table{{Name: "t1"}, {Name: "t2"}})})
	if err != nil {
		return r, err
	}
	defer dst.Close()
	r.bytes, err = dirBytes(filepath.Join(dir, "src"), string(filepath.Separator)+"ks"+string(filepath.Separator))
	if err != nil {
		return r, err
	}
	ms, cs, stopS, err := startManager(ctx, src, "src")
	if err != nil {
		return r, err
	}
	defer stopS()
	md, cd, stopD, err := startManager(ctx, dst, "dst")
	if err != nil {
		return r, err
	}
	defer stopD()
	loc := t.AgentFs()
	logf("end to end %s: backup of %.1f MiB of sstables (3 nodes)", t.Name(), float64(r.bytes)/kit.MiB)
	c0 := selfCPU()
	bt, err := ms.CreateTask(ctx, store.Task{ClusterID: cs.ID, Type: "backup", Enabled: true, Schedule: store.Schedule{Cron: "0 3 1 1 *"},
		Properties: json.RawMessage(fmt.Sprintf(`{"location":[%q]}`, loc))})
	if err != nil {
		return r, err
	}
	var prog []byte
	if r.backupD, prog, err = runTask(ctx, ms, cs.ID, bt.ID); err != nil {
		return r, fmt.Errorf("backup: %w", err)
	}
	c1 := selfCPU()
	var bp struct {
		SnapshotTag string `json:"snapshot_tag"`
	}
	if err := json.Unmarshal(prog, &bp); err != nil || bp.SnapshotTag == "" {
		return r, fmt.Errorf("backup progress has no snapshot_tag (%w): %s", err, prog)
	}
	tag := bp.SnapshotTag
	logf("end to end %s: restore of %s", t.Name(), tag)
	rt, err := md.CreateTask(ctx, store.Task{ClusterID: cd.ID, Type: "restore", Enabled: true, Schedule: store.Schedule{Cron: "0 3 1 1 *"},
		Properties: json.RawMessage(fmt.Sprintf(`{"location":[%q],"snapshot_tag":%q,"restore_tables":true}`, loc, tag))})
	if err != nil {
		return r, err
	}
	if r.restoreD, _, err = runTask(ctx, md, cd.ID, rt.ID); err != nil {
		return r, fmt.Errorf("restore: %w", err)
	}
	c2 := selfCPU()
	r.cpuBackup, r.cpuRestore = c1-c0, c2-c1
	return r, nil
}

// e2eBuckets opens the agents' buckets of t for the simulated nodes: a
// directory (fileblob) for local, the S3 bucket (s3blob) for s3.
func (b *bench) e2eBuckets(ctx context.Context, t kit.Target) (func(context.Context, string, string) (*blob.Bucket, error), func(), error) {
	switch tt := t.(type) {
	case *kit.LocalTarget:
		if err := os.MkdirAll(tt.Dir(), 0o755); err != nil {
			return nil, nil, err
		}
		bk, err := fileblob.OpenBucket(tt.Dir(), &fileblob.Options{NoTempDir: true})
		if err != nil {
			return nil, nil, err
		}
		return func(context.Context, string, string) (*blob.Bucket, error) { return bk, nil }, func() { _ = bk.Close() }, nil
	case *kit.S3Target:
		cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion("us-east-1"),
			awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), "")))
		if err != nil {
			return nil, nil, err
		}
		cli := s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(b.c.s3Endpoint); o.UsePathStyle = true })
		bk, err := s3blob.OpenBucket(ctx, cli, tt.Bucket, nil)
		if err != nil {
			return nil, nil, err
		}
		return func(context.Context, string, string) (*blob.Bucket, error) { return bk, nil }, func() { _ = bk.Close() }, nil
	}
	return nil, nil, fmt.Errorf("target %s: no end-to-end bucket", t.Name())
}

// startManager runs a Manager (memory store) on sim and adds it as
// cluster name.
func startManager(ctx context.Context, sim *scyllatest.Cluster, name string) (*scyllaops.Manager, scyllaops.Cluster, func(), error) {
	st := memstore.New()
	m, err := scyllaops.New(st, sim.Transport(), scyllaops.Options{CQLDial: sim.CQLDialer().DialContext,
		Restore: restore.Options{LongPoll: 100 * time.Millisecond},
		Logger:  slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, scyllaops.Cluster{}, nil, err
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(runCtx) }()
	cleanup := func() { stop(); <-done; _ = m.Close(); _ = st.Close() }
	c, err := m.CreateCluster(ctx, scyllaops.Cluster{Name: name, Host: sim.ContactHost(), AuthToken: sim.AuthToken()})
	if err != nil {
		cleanup()
		return nil, scyllaops.Cluster{}, nil, err
	}
	return m, c, cleanup, nil
}

// runTask starts a task now and waits for its run to end; the run must
// be DONE. It returns the time from start to the end, with sync(2), and
// the run's progress.
func runTask(ctx context.Context, m *scyllaops.Manager, clusterID, taskID uuid.UUID) (time.Duration, json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	before, _, _ := m.RunProgress(ctx, clusterID, taskID, "latest")
	start := time.Now()
	if err := m.StartTask(ctx, clusterID, taskID, false); err != nil {
		return 0, nil, err
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		run, prog, err := m.RunProgress(ctx, clusterID, taskID, "latest")
		if err == nil && run.ID != before.ID && run.Status.Final() {
			if run.Status != store.StatusDone {
				return 0, nil, fmt.Errorf("run %s: %s", run.Status, run.Cause)
			}
			syscall.Sync()
			return time.Since(start), prog, nil
		}
		select {
		case <-ctx.Done():
			return 0, nil, fmt.Errorf("no final run: last %s (%s): %w", run.Status, run.Cause, ctx.Err())
		case <-tick.C:
		}
	}
}

// dirBytes sums the sizes of the files below dir whose paths contain
// one of parts.
func dirBytes(dir string, parts ...string) (int64, error) {
	var n int64
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		for _, s := range parts {
			if strings.Contains(p, s) {
				n += fi.Size()
			}
		}
		return nil
	})
	return n, err
}

// selfCPU is this process's CPU time (user+sys).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
