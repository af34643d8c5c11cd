package agent_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/scyllaops/scyllaops/agent"
	"github.com/scyllaops/scyllaops/agentclient"
)

// BenchmarkS3Transfer uploads files (16 × 16 MiB; env
// SCYLLAOPS_BENCH_XFER_MIB sets the total, SCYLLAOPS_BENCH_XFER_FILES the
// number of files, e.g. 1024 files of 32 KiB for the per-file costs of
// small SSTable components) from the data dir to the S3
// server of SCYLLAOPS_S3_ENDPOINT with sync/copydir, then downloads them
// into another table directory with sync/copypaths, through the agent
// handler in this process. It reports this process's CPU seconds per GiB
// each way (the S3 server runs in its own process), for profiling with
// -cpuprofile.
func BenchmarkS3Transfer(b *testing.B) {
	v := needEnv(b, "SCYLLAOPS_S3_ENDPOINT", "SCYLLAOPS_S3_BUCKET", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
	totalMiB := 256
	if s := os.Getenv("SCYLLAOPS_BENCH_XFER_MIB"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 16 {
			b.Fatalf("SCYLLAOPS_BENCH_XFER_MIB=%q: want a number of MiB >= 16", s)
		}
		totalMiB = n
	}
	ctx := b.Context()
	dataDir := b.TempDir()
	a, err := agent.New(agent.Options{DataDir: dataDir, AuthToken: "tok", Storage: agent.StorageOptions{
		S3: agent.S3Options{Endpoint: v[0], AccessKeyID: v[2], SecretAccessKey: v[3], Region: "us-east-1", ForcePathStyle: true}}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = a.Close() })
	tr := agentclient.NewInProcessTransport()
	tr.Register("n1", a)
	c, err := agentclient.New(tr, agentclient.Options{AuthToken: "tok", RetryMax: -1, Timeout: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	fs := "s3:" + v[1]
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	root := "agent-s3-bench-" + hex.EncodeToString(rnd[:])
	b.Cleanup(func() { _ = c.Purge(ctx, "n1", fs, root) })
	files := 16
	if s := os.Getenv("SCYLLAOPS_BENCH_XFER_FILES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("SCYLLAOPS_BENCH_XFER_FILES=%q: want a number of files >= 1", s)
		}
		files = n
	}
	size := int64(totalMiB) << 20 / int64(files)
	src := filepath.Join(dataDir, "ks", "t-1")
	if err := os.MkdirAll(src, 0o755); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, size)
	var names []string
	for i := range files {
		_, _ = rand.Read(buf)
		name := fmt.Sprintf("me-%d-big-Data.db", i+1)
		if err := os.WriteFile(filepath.Join(src, name), buf, 0o644); err != nil {
			b.Fatal(err)
		}
		names = append(names, name)
	}
	total := size * int64(files)
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	var up, down, upWall, downWall time.Duration
	b.SetBytes(2 * total)
	b.ResetTimer()
	for i := range b.N {
		dst := fmt.Sprintf("%s/run%d", root, i)
		c0, t0 := cpu(), time.Now()
		id, err := c.CopyDir(ctx, "n1", agentclient.SyncOptions{SrcFs: "data:", SrcRemote: "ks/t-1", DstFs: fs, DstRemote: dst})
		if err != nil {
			b.Fatal(err)
		}
		if pr := waitJob(b, c, id); pr.Status != agentclient.JobSuccess || pr.Uploaded != total {
			b.Fatalf("upload = %+v, want %d bytes uploaded", pr, total)
		}
		c1, t1 := cpu(), time.Now()
		id, err = c.CopyPaths(ctx, "n1", agentclient.CopyPathsOptions{SrcFs: fs, SrcRemote: dst, DstFs: "data:",
			DstRemote: fmt.Sprintf("ks/t-2/run%d", i), Paths: names})
		if err != nil {
			b.Fatal(err)
		}
		if pr := waitJob(b, c, id); pr.Status != agentclient.JobSuccess || pr.Uploaded != total {
			b.Fatalf("download = %+v, want %d bytes", pr, total)
		}
		c2, t2 := cpu(), time.Now()
		up, down = up+c1-c0, down+c2-c1
		upWall, downWall = upWall+t1.Sub(t0), downWall+t2.Sub(t1)
		_ = os.RemoveAll(filepath.Join(dataDir, "ks", "t-2"))
	}
	b.StopTimer()
	gib := float64(total) * float64(b.N) / (1 << 30)
	b.ReportMetric(up.Seconds()/gib, "up-cpu-s/GiB")
	b.ReportMetric(down.Seconds()/gib, "down-cpu-s/GiB")
	b.ReportMetric(gib*1024/upWall.Seconds(), "up-MiB/s")
	b.ReportMetric(gib*1024/downWall.Seconds(), "down-MiB/s")
}
