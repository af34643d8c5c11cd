package main

import (
	"github.com/scyllaops/scyllaops/bench/internal/kit"

	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/scyllaops/scyllaops/agentclient"
)

func main() {
	if cfg := os.Getenv(kit.ChildEnv); cfg != "" {
		if err := kit.RunChild(cfg); err != nil {
			fmt.Fprintln(os.Stderr, "agent child:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/backup:", err)
		os.Exit(1)
	}
}

type config struct {
	dir        string
	runs       int
	scale      float64
	seed       uint64
	targets    []string
	tools      []string
	keep       bool
	verify     string
	transfers  int
	s3Endpoint string
	s3Bucket   string
	s3PIDFile  string
	cpuProfile string
	memProfile string
	rclone     string
}

func parseFlags() (config, error) {
	var c config
	var targets, tools string
	flag.StringVar(&c.dir, "dir", filepath.Join(os.TempDir(), "scyllaops-bench-backup"), "work dir: the cached data set (data/, dataset.json) and the local destination (dst/)")
	flag.IntVar(&c.runs, "runs", 3, "runs per tool and target (medians need >= 3)")
	flag.Float64Var(&c.scale, "size", 1, "scale of every file size (1 = 2,000 files, ~1,920 MiB; 0.05 for a quick try)")
	flag.Uint64Var(&c.seed, "seed", 1, "seed of the data set")
	flag.StringVar(&targets, "targets", "local,s3", "comma-separated targets: local, s3")
	flag.StringVar(&tools, "tools", "agent,rclone,cp", "comma-separated tools: agent, rclone, cp (cp: local target only)")
	flag.BoolVar(&c.keep, "keep", false, "keep the uploaded copies after the last run (the data set is always kept)")
	flag.StringVar(&c.verify, "verify", "all", "integrity check after each upload: all, agent, none")
	flag.IntVar(&c.transfers, "transfers", 0, "agent copydir transfers (0 = the agent's default)")
	flag.StringVar(&c.s3Endpoint, "s3-endpoint", os.Getenv("SCYLLAOPS_S3_ENDPOINT"), "S3 endpoint (default $SCYLLAOPS_S3_ENDPOINT); keys from $AWS_ACCESS_KEY_ID/$AWS_SECRET_ACCESS_KEY")
	flag.StringVar(&c.s3Bucket, "s3-bucket", "scyllaops-bench", "S3 bucket (created if missing; emptied before every run)")
	defPID := ""
	if d := os.Getenv("SCYLLAOPS_CI_DIR"); d != "" {
		defPID = filepath.Join(d, "run", "versitygw.pid")
	}
	flag.StringVar(&c.s3PIDFile, "s3-pidfile", defPID, "pid file of the S3 server, to report its CPU time (optional)")
	flag.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the agent process to this file")
	flag.StringVar(&c.memProfile, "memprofile", "", "write an allocation profile of the agent process to this file")
	flag.StringVar(&c.rclone, "rclone", "rclone", "the rclone binary to compare with (e.g. Debian's /usr/bin/rclone, or a newer one from go install github.com/rclone/rclone@v1.76.0)")
	flag.Parse()
	c.targets = splitList(targets)
	c.tools = splitList(tools)
	switch {
	case c.runs < 1:
		return c, fmt.Errorf("invalid -runs %d: want >= 1", c.runs)
	case c.scale <= 0 || c.scale > 4:
		return c, fmt.Errorf("invalid -size %g: want a scale in (0, 4]", c.scale)
	case c.verify != "all" && c.verify != "agent" && c.verify != "none":
		return c, fmt.Errorf("invalid -verify %q: want all, agent or none", c.verify)
	}
	for _, t := range c.targets {
		if t != "local" && t != "s3" {
			return c, fmt.Errorf("invalid target %q in -targets: want local and/or s3", t)
		}
	}
	for _, t := range c.tools {
		if t != "agent" && t != "rclone" && t != "cp" {
			return c, fmt.Errorf("invalid tool %q in -tools: want agent, rclone, cp", t)
		}
	}
	if slices.Contains(c.targets, "s3") && c.s3Endpoint == "" {
		return c, errors.New("target s3 needs -s3-endpoint or $SCYLLAOPS_S3_ENDPOINT: start versitygw with scripts/services.sh and source its env file, or use -targets local")
	}
	return c, nil
}

func splitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// sample is one timed upload.
type sample struct {
	d        time.Duration
	cpu      time.Duration // the tool's CPU (user+sys)
	srvCPU   time.Duration // the S3 server's CPU, when known
	rss      int64         // agent peak RSS
	second   time.Duration // agent: second backup of unchanged data
	secondUp int64         // agent: bytes uploaded by the second backup
	sidecars int           // local: fileblob ".attrs" files next to the objects
}

func run() error {
	c, err := parseFlags()
	if err != nil {
		return err
	}
	ctx := context.Background()
	if slices.Contains(c.tools, "rclone") {
		if _, err := exec.LookPath(c.rclone); err != nil {
			return errors.New("rclone not found: apt-get install -y rclone (or scripts/services.sh start rclone), or leave it out of -tools")
		}
	}
	ds, err := kit.LoadOrGenerate(c.dir, c.seed, c.scale, logf)
	if err != nil {
		return fmt.Errorf("data set: %w", err)
	}
	dataDir := filepath.Join(c.dir, "data")
	localRoot := filepath.Join(c.dir, "dst")
	if err := os.MkdirAll(localRoot, 0o755); err != nil {
		return err
	}

	var targets []kit.Target
	for _, name := range c.targets {
		switch name {
		case "local":
			targets = append(targets, &kit.LocalTarget{Root: localRoot, Bucket: "bench"})
		case "s3":
			t, err := kit.NewS3Target(ctx, c.s3Endpoint, os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), c.s3Bucket)
			if err != nil {
				return err
			}
			targets = append(targets, t)
		}
	}

	var ap *kit.AgentProc
	var cli *agentclient.Client
	const token = "bench-token"
	if slices.Contains(c.tools, "agent") {
		ap, err = kit.StartAgent(kit.ChildConfig{Token: token, DataDir: dataDir, LocalPath: localRoot, S3Endpoint: c.s3Endpoint,
			S3Key: os.Getenv("AWS_ACCESS_KEY_ID"), S3Secret: os.Getenv("AWS_SECRET_ACCESS_KEY"), CPUProfile: c.cpuProfile, MemProfile: c.memProfile})
		if err != nil {
			return err
		}
		defer ap.Stop()
		cli, err = agentclient.New(nil, agentclient.Options{AuthToken: token, Port: ap.Port, Timeout: time.Minute})
		if err != nil {
			return err
		}
		logf("agent: pid %d, https://%s", ap.PID(), ap.Addr)
	}
	srvPID := 0
	if c.s3PIDFile != "" && slices.Contains(c.targets, "s3") {
		if b, err := os.ReadFile(c.s3PIDFile); err == nil {
			srvPID, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
	}

	results := map[string][]sample{} // "<target>/<tool>"
	b := &bench{c: c, ds: ds, dataDir: dataDir, ap: ap, cli: cli, srvPID: srvPID}
	for i := 1; i <= c.runs; i++ {
		for _, t := range targets {
			for _, tool := range c.tools {
				if tool == "cp" && t.Name() != "local" {
					continue
				}
				s, err := b.one(ctx, t, tool)
				if err != nil {
					return fmt.Errorf("run %d %s %s: %w", i, t.Name(), tool, err)
				}
				results[t.Name()+"/"+tool] = append(results[t.Name()+"/"+tool], s)
				fmt.Printf("run %d %-5s %-6s %s\n", i, t.Name(), tool, b.describe(s, tool))
			}
		}
	}
	if !c.keep {
		for _, t := range targets {
			if err := t.Clean(ctx); err != nil {
				logf("clean %s: %v", t.Name(), err)
			}
		}
	}
	for _, t := range targets {
		if lt, ok := t.(*kit.LocalTarget); ok {
			if err := lt.EmptyTrash(); err != nil {
				logf("empty %s: %v", lt.Trash(), err)
			}
		}
	}
	b.summary(targets, results)
	return nil
}

type bench struct {
	c       config
	ds      *kit.Dataset
	dataDir string
	ap      *kit.AgentProc
	cli     *agentclient.Client
	srvPID  int
}

func (b *bench) mibps(d time.Duration) float64 {
	return float64(b.ds.Bytes) / kit.MiB / d.Seconds()
}

func (b *bench) describe(s sample, tool string) string {
	out := fmt.Sprintf("%7.2f s %8.1f MiB/s  cpu %5.1f s", s.d.Seconds(), b.mibps(s.d), s.cpu.Seconds())
	if s.srvCPU > 0 {
		out += fmt.Sprintf("  server cpu %5.1f s", s.srvCPU.Seconds())
	}
	if tool == "agent" {
		out += fmt.Sprintf("  peak RSS %5.1f MiB  second backup %6.3f s (%.1f%%), %d bytes uploaded",
			float64(s.rss)/kit.MiB, s.second.Seconds(), 100*s.second.Seconds()/s.d.Seconds(), s.secondUp)
	}
	if s.sidecars > 0 {
		out += fmt.Sprintf("  (+%d .attrs sidecar files)", s.sidecars)
	}
	return out
}

// one cleans t's destination, uploads the data set with tool, syncs, and
// verifies the result.
func (b *bench) one(ctx context.Context, t kit.Target, tool string) (sample, error) {
	var s sample
	if err := t.Clean(ctx); err != nil {
		return s, fmt.Errorf("clean: %w", err)
	}
	syscall.Sync()
	var srv0 time.Duration
	if t.Name() == "s3" {
		srv0 = b.serverCPU()
	}
	var err error
	switch tool {
	case "agent":
		if err := kit.ResetPeakRSS(b.ap.PID()); err != nil {
			return s, fmt.Errorf("reset peak RSS: %w", err)
		}
		cpu0, _ := kit.CPUTime(b.ap.PID())
		var p *agentclient.JobProgress
		s.d, p, err = b.agentUpload(ctx, t)
		if err != nil {
			return s, err
		}
		cpu1, _ := kit.CPUTime(b.ap.PID())
		s.cpu = cpu1 - cpu0
		if t.Name() == "s3" {
			s.srvCPU = b.serverCPU() - srv0
		}
		if p.Uploaded != b.ds.Bytes || p.Failed != 0 {
			return s, fmt.Errorf("agent job uploaded %d bytes (failed %d), want %d", p.Uploaded, p.Failed, b.ds.Bytes)
		}
		if b.c.verify != "none" {
			if err := t.Verify(ctx, b.ds); err != nil {
				return s, fmt.Errorf("verify: %w", err)
			}
			if lt, ok := t.(*kit.LocalTarget); ok {
				s.sidecars = lt.Sidecars
			}
		}
		// A second backup of the unchanged data (no sync(2): it writes
		// nothing, and sync would only time other processes' writes).
		s.second, p, err = b.agentUploadNoSync(ctx, t)
		if err != nil {
			return s, fmt.Errorf("second backup: %w", err)
		}
		s.secondUp = p.Uploaded
		if p.Skipped != b.ds.Bytes {
			return s, fmt.Errorf("second backup skipped %d bytes, want %d (uploaded %d)", p.Skipped, b.ds.Bytes, p.Uploaded)
		}
		if s.rss, err = kit.PeakRSS(b.ap.PID()); err != nil {
			return s, err
		}
		return s, nil
	case "rclone":
		s.d, s.cpu, err = kit.Timed(kit.RcloneCmd(b.c.rclone, t.RcloneEnv(), "copy", b.dataDir, t.RcloneDst()))
	case "cp":
		s.d, s.cpu, err = kit.Timed(exec.CommandContext(ctx, "cp", "-r", "-T", b.dataDir, t.RcloneDst()))
	}
	if err != nil {
		return s, err
	}
	if t.Name() == "s3" {
		s.srvCPU = b.serverCPU() - srv0
	}
	if b.c.verify == "all" {
		if err := t.Verify(ctx, b.ds); err != nil {
			return s, fmt.Errorf("verify: %w", err)
		}
	}
	return s, nil
}

// agentUpload runs one copydir job of the whole data dir to t, waits for
// it and syncs; it returns the wall time and the job's final progress.
func (b *bench) agentUpload(ctx context.Context, t kit.Target) (time.Duration, *agentclient.JobProgress, error) {
	return b.agentJob(ctx, t, true)
}

// agentUploadNoSync is agentUpload without the sync(2).
func (b *bench) agentUploadNoSync(ctx context.Context, t kit.Target) (time.Duration, *agentclient.JobProgress, error) {
	return b.agentJob(ctx, t, false)
}

func (b *bench) agentJob(ctx context.Context, t kit.Target, sync bool) (time.Duration, *agentclient.JobProgress, error) {
	const host = "127.0.0.1"
	start := time.Now()
	id, err := b.cli.CopyDir(ctx, host, agentclient.SyncOptions{SrcFs: "data:", DstFs: t.AgentFs(),
		Suffix: ".sm_20250101000000UTC", Transfers: b.c.transfers})
	if err != nil {
		return 0, nil, err
	}
	for {
		p, err := b.cli.JobProgress(ctx, host, id, 30*time.Second)
		if err != nil {
			return 0, nil, err
		}
		switch p.Status {
		case agentclient.JobRunning:
			continue
		case agentclient.JobSuccess:
			if sync {
				syscall.Sync()
			}
			return time.Since(start), p, nil
		default:
			return 0, nil, fmt.Errorf("agent job %d: %s: %s", id, p.Status, p.Error)
		}
	}
}

func (b *bench) serverCPU() time.Duration {
	if b.srvPID == 0 {
		return 0
	}
	d, err := kit.CPUTime(b.srvPID)
	if err != nil {
		return 0
	}
	return d
}
