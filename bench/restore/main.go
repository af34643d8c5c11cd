package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/bench/internal/kit"
	"github.com/scyllaops/scyllaops/internal/backupspec"
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
		fmt.Fprintln(os.Stderr, "bench/restore:", err)
		os.Exit(1)
	}
}

type config struct {
	dir        string
	runs       int
	scale      float64
	seed       uint64
	nodes      int
	targets    []string
	tools      []string
	verify     string
	rclone     string
	s3Endpoint string
	s3Bucket   string
	e2eMiB     int
	cpuProfile string
	s3PIDFile  string
	cold       bool
	transfers  int
}

func parseFlags() (config, error) {
	var c config
	var targets, tools string
	flag.StringVar(&c.dir, "dir", filepath.Join(os.TempDir(), "scyllaops-bench-backup"), "work dir: the cached data set of bench/backup (data/, dataset.json) and the restore dirs (restore/)")
	flag.IntVar(&c.runs, "runs", 3, "runs per tool and target (medians need >= 3)")
	flag.Float64Var(&c.scale, "size", 1, "scale of every file size (1 = 2,000 files, ~1,920 MiB; 0.05 for a quick try)")
	flag.Uint64Var(&c.seed, "seed", 1, "seed of the data set")
	flag.IntVar(&c.nodes, "nodes", 3, "nodes restored into (each downloads its share at the same time)")
	flag.StringVar(&targets, "targets", "local,s3", "comma-separated backup locations: local, s3")
	flag.StringVar(&tools, "tools", "agent,rclone,cp", "comma-separated tools: agent, rclone, cp (cp: local only)")
	flag.StringVar(&c.verify, "verify", "agent", "integrity check after each download: all, agent, none")
	flag.StringVar(&c.rclone, "rclone", "rclone", "the rclone binary to compare with (e.g. Debian's /usr/bin/rclone, or a newer one from go install github.com/rclone/rclone@v1.76.0)")
	flag.StringVar(&c.s3Endpoint, "s3-endpoint", os.Getenv("SCYLLAOPS_S3_ENDPOINT"), "S3 endpoint (default $SCYLLAOPS_S3_ENDPOINT); keys from $AWS_ACCESS_KEY_ID/$AWS_SECRET_ACCESS_KEY")
	flag.StringVar(&c.s3Bucket, "s3-bucket", "scyllaops-bench-restore", "S3 bucket (created if missing; emptied before every run)")
	flag.IntVar(&c.e2eMiB, "e2e-mib", 384, "MiB of SSTables of the end-to-end backup and restore of a simulated cluster (0: skip it)")
	defPID := ""
	if d := os.Getenv("SCYLLAOPS_CI_DIR"); d != "" {
		defPID = filepath.Join(d, "run", "versitygw.pid")
	}
	flag.StringVar(&c.s3PIDFile, "s3-pidfile", defPID, "pid file of the S3 server, to report its CPU time during each S3 transfer (optional)")
	flag.BoolVar(&c.cold, "cold", true, "evict the local backup's files from the page cache (posix_fadvise DONTNEED) before each local download: every tool reads them from the disk, as a restore from a backup location does")
	flag.IntVar(&c.transfers, "transfers", 0, "agent transfers of each download job and of the backup's copydir (0 = the agent's default, 2)")
	flag.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of each node agent to <this>.n<i> (node i)")
	flag.Parse()
	c.targets = splitList(targets)
	c.tools = splitList(tools)
	switch {
	case c.runs < 1:
		return c, fmt.Errorf("invalid -runs %d: want >= 1", c.runs)
	case c.scale <= 0 || c.scale > 4:
		return c, fmt.Errorf("invalid -size %g: want a scale in (0, 4]", c.scale)
	case c.nodes < 1 || c.nodes > 16:
		return c, fmt.Errorf("invalid -nodes %d: want 1..16", c.nodes)
	case c.verify != "all" && c.verify != "agent" && c.verify != "none":
		return c, fmt.Errorf("invalid -verify %q: want all, agent or none", c.verify)
	case c.e2eMiB < 0:
		return c, fmt.Errorf("invalid -e2e-mib %d: want >= 0", c.e2eMiB)
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
	if slices.Contains(c.tools, "rclone") {
		if _, err := exec.LookPath(c.rclone); err != nil {
			return c, fmt.Errorf("-rclone %s: %w (apt-get install -y rclone, or leave rclone out of -tools)", c.rclone, err)
		}
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

const token = "bench-token"

// sample is one timed download (or, for tool "backup", upload).
type sample struct {
	d   time.Duration
	cpu time.Duration // the tool's CPU (user+sys), summed over its processes
	srv time.Duration // the S3 server's CPU during the transfer (s3 only)
	rss int64         // agent: the largest peak RSS of the node agents
}

// bench holds what every run uses.
type bench struct {
	c       config
	ds      *kit.Dataset
	dataDir string
	root    string
	// src is the agent that backs the data set up; nodes are the node
	// agents that download it.
	src   *kit.AgentProc
	nodes []*kit.AgentProc
	clis  map[*kit.AgentProc]*agentclient.Client
	// share[i] are the data set's paths node i restores.
	share [][]string
	// trashed counts the entries emptyDir moved aside.
	trashed int
	// srvPID is the S3 server's process (0: unknown).
	srvPID int
}

func run() error {
	c, err := parseFlags()
	if err != nil {
		return err
	}
	ctx := context.Background()
	ds, err := kit.LoadOrGenerate(c.dir, c.seed, c.scale, logf)
	if err != nil {
		return fmt.Errorf("data set: %w", err)
	}
	b := &bench{c: c, ds: ds, dataDir: filepath.Join(c.dir, "data"), root: filepath.Join(c.dir, "restore")}
	backupRoot := filepath.Join(b.root, "backup")
	if err := os.MkdirAll(backupRoot, 0o755); err != nil {
		return err
	}
	var targets []kit.Target
	for _, name := range c.targets {
		switch name {
		case "local":
			targets = append(targets, &kit.LocalTarget{Root: backupRoot, Bucket: "bench"})
		case "s3":
			t, err := kit.NewS3Target(ctx, c.s3Endpoint, os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), c.s3Bucket)
			if err != nil {
				return err
			}
			targets = append(targets, t)
		}
	}
	child := func(dataDir, profile string) (*kit.AgentProc, error) {
		if err := os.MkdirAll(dataDir, 0o755); err != nil {
			return nil, err
		}
		return kit.StartAgent(kit.ChildConfig{Token: token, DataDir: dataDir, LocalPath: backupRoot, S3Endpoint: c.s3Endpoint,
			S3Key: os.Getenv("AWS_ACCESS_KEY_ID"), S3Secret: os.Getenv("AWS_SECRET_ACCESS_KEY"), CPUProfile: profile})
	}
	if b.src, err = child(b.dataDir, ""); err != nil {
		return err
	}
	defer b.src.Stop()
	for i := range c.nodes {
		profile := ""
		if c.cpuProfile != "" {
			profile = fmt.Sprintf("%s.n%d", c.cpuProfile, i+1)
		}
		p, err := child(b.nodeDir(i), profile)
		if err != nil {
			return err
		}
		defer p.Stop()
		b.nodes = append(b.nodes, p)
	}
	b.clis = map[*kit.AgentProc]*agentclient.Client{}
	for _, p := range append([]*kit.AgentProc{b.src}, b.nodes...) {
		if b.clis[p], err = agentclient.New(nil, agentclient.Options{AuthToken: token, Port: p.Port, Timeout: time.Minute}); err != nil {
			return err
		}
	}
	b.share = deal(ds, c.nodes)
	if c.s3PIDFile != "" && slices.Contains(c.targets, "s3") {
		if pb, err := os.ReadFile(c.s3PIDFile); err == nil {
			b.srvPID, _ = strconv.Atoi(strings.TrimSpace(string(pb)))
		}
	}

	results := map[string][]sample{} // "<target>/<tool>"
	for i := 1; i <= c.runs; i++ {
		for _, t := range targets {
			s, err := b.backup(ctx, t)
			if err != nil {
				return fmt.Errorf("run %d %s backup: %w", i, t.Name(), err)
			}
			results[t.Name()+"/backup"] = append(results[t.Name()+"/backup"], s)
			fmt.Printf("run %d %-5s %-6s %s\n", i, t.Name(), "backup", b.describe(s, "backup"))
			for _, tool := range c.tools {
				if tool == "cp" && t.Name() != "local" {
					continue
				}
				s, err := b.download(ctx, t, tool)
				if err != nil {
					return fmt.Errorf("run %d %s %s: %w", i, t.Name(), tool, err)
				}
				results[t.Name()+"/"+tool] = append(results[t.Name()+"/"+tool], s)
				fmt.Printf("run %d %-5s %-6s %s\n", i, t.Name(), tool, b.describe(s, tool))
			}
		}
	}
	for i := range b.nodes {
		_ = b.emptyDir(b.nodeDir(i))
	}
	if err := b.emptyTrash(); err != nil {
		logf("empty %s: %v", b.trash(), err)
	}
	for _, t := range targets {
		if err := t.Clean(ctx); err != nil {
			logf("clean %s: %v", t.Name(), err)
		}
	}
	for _, t := range targets {
		if lt, ok := t.(*kit.LocalTarget); ok {
			if err := lt.EmptyTrash(); err != nil {
				logf("empty %s: %v", lt.Trash(), err)
			}
		}
	}
	var e2e []e2eResult
	if c.e2eMiB > 0 {
		for _, t := range targets {
			r, err := b.endToEnd(ctx, t)
			if err != nil {
				return fmt.Errorf("end to end %s: %w", t.Name(), err)
			}
			e2e = append(e2e, r)
		}
	}
	b.summary(targets, results, e2e)
	return nil
}

func (b *bench) nodeDir(i int) string {
	return filepath.Join(b.root, "nodes", fmt.Sprintf("n%d", i+1))
}

// host is every agent's host; each has its own port (and client).
const host = "127.0.0.1"

func (b *bench) mibps(d time.Duration) float64 { return float64(b.ds.Bytes) / kit.MiB / d.Seconds() }

func (b *bench) cpuPerGiB(cpu time.Duration) float64 {
	return cpu.Seconds() / (float64(b.ds.Bytes) / (1 << 30))
}

func (b *bench) describe(s sample, tool string) string {
	out := fmt.Sprintf("%7.2f s %8.1f MiB/s  cpu %5.1f s (%.2f s/GiB)", s.d.Seconds(), b.mibps(s.d), s.cpu.Seconds(), b.cpuPerGiB(s.cpu))
	if tool == "agent" {
		out += fmt.Sprintf("  peak RSS %5.1f MiB", float64(s.rss)/kit.MiB)
	}
	if s.srv > 0 {
		out += fmt.Sprintf("  S3 server cpu %5.1f s (%.2f s/GiB)", s.srv.Seconds(), b.cpuPerGiB(s.srv))
	}
	return out
}

// deal gives every SSTable bundle of the data set to a node in turn (per
// table directory, as a restore spreads batches over hosts) and returns
// each node's file paths (slash-separated, relative to the data dir).
func deal(ds *kit.Dataset, nodes int) [][]string {
	byDir := map[string][]string{}
	var dirs []string
	for _, f := range ds.Files {
		p := filepath.ToSlash(f.Path)
		d := path.Dir(p)
		if _, ok := byDir[d]; !ok {
			dirs = append(dirs, d)
		}
		byDir[d] = append(byDir[d], path.Base(p))
	}
	out := make([][]string, nodes)
	n := 0
	for _, d := range dirs {
		bundles, other := backupspec.GroupBundles(byDir[d])
		for _, bu := range bundles {
			for _, f := range bu.Files {
				out[n%nodes] = append(out[n%nodes], d+"/"+f)
			}
			n++
		}
		for _, f := range other {
			out[n%nodes] = append(out[n%nodes], d+"/"+f)
			n++
		}
	}
	return out
}

// backup cleans t and uploads the data set to it with the source agent's
// sync/copydir, followed by sync(2).
func (b *bench) backup(ctx context.Context, t kit.Target) (sample, error) {
	var s sample
	if err := t.Clean(ctx); err != nil {
		return s, fmt.Errorf("clean: %w", err)
	}
	syscall.Sync()
	cpu0, _ := kit.CPUTime(b.src.PID())
	srv0 := b.serverCPU(t)
	start := time.Now()
	id, err := b.clis[b.src].CopyDir(ctx, host, agentclient.SyncOptions{SrcFs: "data:", DstFs: t.AgentFs(), Transfers: b.c.transfers})
	if err != nil {
		return s, err
	}
	p, err := b.wait(ctx, b.src, id)
	if err != nil {
		return s, err
	}
	syscall.Sync()
	s.d = time.Since(start)
	cpu1, _ := kit.CPUTime(b.src.PID())
	s.cpu = cpu1 - cpu0
	s.srv = b.serverCPU(t) - srv0
	if p.Uploaded != b.ds.Bytes {
		return s, fmt.Errorf("backup uploaded %d bytes, want %d", p.Uploaded, b.ds.Bytes)
	}
	return s, nil
}

func (b *bench) wait(ctx context.Context, a *kit.AgentProc, id int64) (*agentclient.JobProgress, error) {
	for {
		p, err := b.clis[a].JobProgress(ctx, host, id, 30*time.Second)
		if err != nil {
			return nil, err
		}
		switch p.Status {
		case agentclient.JobRunning:
			continue
		case agentclient.JobSuccess:
			return p, nil
		default:
			return nil, fmt.Errorf("agent job %d on %s: %s: %s", id, a.Addr, p.Status, p.Error)
		}
	}
}

// download empties the node directories and has every node fetch its
// share from t with tool, all nodes at once, then sync(2).
func (b *bench) download(ctx context.Context, t kit.Target, tool string) (sample, error) {
	var s sample
	for i := range b.nodes {
		// Empty, not removed: each node agent keeps its data directory
		// open.
		if err := b.emptyDir(b.nodeDir(i)); err != nil {
			return s, err
		}
	}
	syscall.Sync()
	if lt, ok := t.(*kit.LocalTarget); ok && b.c.cold {
		if err := b.evict(lt.Dir()); err != nil {
			return s, err
		}
	}
	var (
		mu  sync.Mutex
		cpu time.Duration
	)
	addCPU := func(d time.Duration) {
		mu.Lock()
		cpu += d
		mu.Unlock()
	}
	if tool == "agent" {
		for _, p := range b.nodes {
			if err := kit.ResetPeakRSS(p.PID()); err != nil {
				return s, fmt.Errorf("reset peak RSS: %w", err)
			}
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	srv0 := b.serverCPU(t)
	start := time.Now()
	for i := range b.nodes {
		g.Go(func() error {
			switch tool {
			case "agent":
				p := b.nodes[i]
				c0, _ := kit.CPUTime(p.PID())
				err := b.agentDownload(gctx, t, p, b.share[i])
				c1, _ := kit.CPUTime(p.PID())
				addCPU(c1 - c0)
				return err
			case "rclone":
				list := filepath.Join(b.root, fmt.Sprintf("files-n%d.txt", i+1))
				if err := os.WriteFile(list, []byte(strings.Join(b.share[i], "\n")+"\n"), 0o644); err != nil {
					return err
				}
				cmd := kit.RcloneCmd(b.c.rclone, t.RcloneEnv(), "copy", "--files-from", list, t.RcloneDst(), b.nodeDir(i))
				return b.runCmd(cmd, addCPU)
			case "cp":
				lt := t.(*kit.LocalTarget)
				cmd := exec.CommandContext(gctx, "cp", append([]string{"--parents", "-t", b.nodeDir(i)}, b.share[i]...)...)
				cmd.Dir = lt.Dir()
				return b.runCmd(cmd, addCPU)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return s, err
	}
	syscall.Sync()
	s.d, s.cpu = time.Since(start), cpu
	s.srv = b.serverCPU(t) - srv0
	if tool == "agent" {
		for _, p := range b.nodes {
			r, err := kit.PeakRSS(p.PID())
			if err != nil {
				return s, err
			}
			s.rss = max(s.rss, r)
		}
	}
	if b.c.verify == "all" || (b.c.verify == "agent" && tool == "agent") {
		if err := b.verifyNodes(ctx); err != nil {
			return s, fmt.Errorf("verify: %w", err)
		}
	}
	return s, nil
}

func (b *bench) runCmd(cmd *exec.Cmd, addCPU func(time.Duration)) error {
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if cmd.ProcessState != nil {
		addCPU(cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime())
	}
	if err != nil {
		return fmt.Errorf("%s: %w: %s", cmd.Args[0], err, out.String())
	}
	return nil
}

// agentDownload fetches files (paths relative to the backup root) into
// data:<table dir>/upload with one sync/copypaths job per table, one
// table after the other (as a restore downloads batches).
func (b *bench) agentDownload(ctx context.Context, t kit.Target, p *kit.AgentProc, files []string) error {
	byDir := map[string][]string{}
	var dirs []string
	for _, f := range files {
		d := path.Dir(f)
		if _, ok := byDir[d]; !ok {
			dirs = append(dirs, d)
		}
		byDir[d] = append(byDir[d], path.Base(f))
	}
	for _, d := range dirs {
		id, err := b.clis[p].CopyPaths(ctx, host, agentclient.CopyPathsOptions{SrcFs: t.AgentFs(), SrcRemote: d,
			DstFs: "data:", DstRemote: d + "/upload", Paths: byDir[d], Transfers: b.c.transfers})
		if err != nil {
			return err
		}
		if _, err := b.wait(ctx, p, id); err != nil {
			return err
		}
	}
	return nil
}

// verifyNodes checks that the node directories hold, between them,
// exactly the data set's files (in <table>/upload/ or <table>/), with
// their sizes and SHA-256.
func (b *bench) verifyNodes(ctx context.Context) error {
	want := make(map[string]kit.FileSpec, len(b.ds.Files))
	for _, f := range b.ds.Files {
		want[filepath.ToSlash(f.Path)] = f
	}
	where := map[string]string{}
	var got []string
	for i := range b.nodes {
		dir := b.nodeDir(i)
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			key := strings.Replace(filepath.ToSlash(rel), "/upload/", "/", 1)
			got = append(got, key)
			where[key] = p
			return nil
		})
		if err != nil {
			return err
		}
	}
	return kit.VerifyAll(ctx, want, got, func(key string) (io.ReadCloser, error) { return os.Open(where[key]) })
}

// emptyDir empties dir: its entries are moved into the trash directory
// (a rename: no file is deleted), emptied by emptyTrash after the timed
// runs. On ext4 without a journal (the benchmark machine's root file
// system) a file creation skips every free inode of its group deleted
// in the last minutes; deleting the previous run's 2,000 files right
// before a run made every creation of that run scan past them (up to a
// third of the agent's download CPU, and as much for cp and rclone),
// which is the benchmark's doing, not part of a restore.
func (b *bench) emptyDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(b.trash(), 0o755); err != nil {
		return err
	}
	for _, e := range ents {
		b.trashed++
		if err := os.Rename(filepath.Join(dir, e.Name()), filepath.Join(b.trash(), fmt.Sprintf("%d-%d-%s", os.Getpid(), b.trashed, e.Name()))); err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) trash() string { return filepath.Join(b.root, "trash") }

// emptyTrash deletes what emptyDir moved aside.
func (b *bench) emptyTrash() error { return os.RemoveAll(b.trash()) }

// serverCPU is the S3 server's CPU time so far when t is the s3 target
// and its process is known, else 0.
func (b *bench) serverCPU(t kit.Target) time.Duration {
	if b.srvPID == 0 || t.Name() != "s3" {
		return 0
	}
	d, _ := kit.CPUTime(b.srvPID)
	return d
}
