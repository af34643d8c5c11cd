//go:build outage

package cqlstore_test

// TestHAProcesses runs three scheduler processes on one cqlstore keyspace
// and SIGKILLs the one that is running a run. It takes about a minute of
// real time, so it runs in the separate "outage" phase of scripts/test.sh.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/scheduler"
	"github.com/scyllaops/scyllaops/store"
)

const (
	haLeaseTTL = 6 * time.Second
	haSync     = 2 * time.Second
	haCron     = "*/6 * * * * *"
	haSteps    = 4 // one-second steps per run, each a fenced progress write
)

// haLog appends one line per runner event to a file shared by the
// processes (O_APPEND: a short write is atomic).
func haLog(path, format string, args ...any) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = f.WriteString(fmt.Sprintf(format, args...) + "\n")
}

// TestHAChild is one manager process of TestHAProcesses; it does nothing
// unless started by it.
func TestHAChild(t *testing.T) {
	owner := os.Getenv("SCYLLAOPS_HA_OWNER")
	if owner == "" {
		t.Skip("started by TestHAProcesses only")
	}
	logPath := os.Getenv("SCYLLAOPS_HA_LOG")
	o := newOptions(t, testHosts(t), os.Getenv("SCYLLAOPS_CQL_USER"), os.Getenv("SCYLLAOPS_CQL_PASSWORD"))
	o.Keyspace = os.Getenv("SCYLLAOPS_HA_KEYSPACE")
	o.ProtoVersion, o.DisableInitialHostLookup = 3, true
	st := openStore(t, o)
	ctx, stop := signal.NotifyContext(t.Context(), syscall.SIGTERM)
	defer stop()
	sch, err := scheduler.New(st, scheduler.Options{
		OwnerID: owner, LeaseTTL: haLeaseTTL, SyncInterval: haSync,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("owner", owner),
	})
	if err != nil {
		t.Fatal(err)
	}
	sch.Register("backup", scheduler.RunnerFunc(func(ctx context.Context, clusterID, taskID, runID uuid.UUID, p json.RawMessage) error {
		var props struct {
			Continue bool `json:"continue"`
		}
		_ = json.Unmarshal(p, &props)
		fence := store.FenceFrom(ctx)
		haLog(logPath, "start %s %s %d %v", runID, owner, fence, props.Continue)
		for i := range haSteps {
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
				return context.Cause(ctx)
			}
			err := st.PutProgress(ctx, &store.Progress{ClusterID: clusterID, TaskID: taskID, RunID: runID, Key: "step",
				Data: json.RawMessage(fmt.Sprint(i + 1)), Fence: fence, UpdatedAt: time.Now().UTC().Truncate(time.Millisecond)})
			if err != nil {
				return err
			}
		}
		haLog(logPath, "end %s %s %d", runID, owner, fence)
		return nil
	}))
	if err := sch.Run(ctx); err != nil && ctx.Err() == nil {
		t.Fatalf("scheduler: %v", err)
	}
}

type haProc struct {
	owner string
	cmd   *exec.Cmd
	done  chan error
}

func TestHAProcesses(t *testing.T) {
	o := testOptions(t)
	s := openStore(t, o)
	ctx := t.Context()
	dir := t.TempDir()
	logPath := filepath.Join(dir, "runs.log")

	var tasks []*store.Task
	for i := range 3 {
		c := &store.Cluster{ID: uuid.New(), Name: fmt.Sprintf("ha-%d", i)}
		if err := s.CreateCluster(ctx, c); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC().Truncate(time.Millisecond)
		tk := &store.Task{ClusterID: c.ID, ID: uuid.New(), Type: "backup", Name: "often", Enabled: true,
			Schedule: store.Schedule{Cron: haCron}, CreatedAt: now, UpdatedAt: now}
		if err := s.CreateTask(ctx, tk); err != nil {
			t.Fatal(err)
		}
		tasks = append(tasks, tk)
	}

	procs := map[string]*haProc{}
	for i := range 3 {
		p := &haProc{owner: fmt.Sprintf("p%d", i), done: make(chan error, 1)}
		p.cmd = exec.Command(os.Args[0], "-test.run=^TestHAChild$", "-test.count=1", "-test.timeout=10m", "-test.v")
		p.cmd.Env = append(os.Environ(), "SCYLLAOPS_HA_OWNER="+p.owner, "SCYLLAOPS_HA_KEYSPACE="+o.Keyspace,
			"SCYLLAOPS_HA_LOG="+logPath)
		out, err := os.Create(filepath.Join(dir, p.owner+".out"))
		if err != nil {
			t.Fatal(err)
		}
		p.cmd.Stdout, p.cmd.Stderr = out, out
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { p.done <- p.cmd.Wait(); out.Close() }()
		procs[p.owner] = p
	}
	defer func() {
		for _, p := range procs {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			for _, p := range procs {
				b, _ := os.ReadFile(filepath.Join(dir, p.owner+".out"))
				t.Logf("output of %s:\n%s", p.owner, tail(string(b), 40))
			}
		}
	}()
	sleep := func(d time.Duration) {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}

	// Let them work, then kill a process in the middle of a run.
	sleep(20 * time.Second)
	var victim, victimRun string
	deadline := time.Now().Add(30 * time.Second)
	for victim == "" {
		if time.Now().After(deadline) {
			t.Fatalf("no run in progress within 50s; log:\n%s", readFile(t, logPath))
		}
		for run, ev := range runningRuns(t, logPath) {
			victim, victimRun = ev.owner, run
			break
		}
		if victim == "" {
			sleep(200 * time.Millisecond)
		}
	}
	if err := procs[victim].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-procs[victim].done
	killed := time.Now()
	delete(procs, victim)
	// Every run the victim had in progress (it may run one per cluster).
	victimRuns := map[string]bool{}
	for run, ev := range runningRuns(t, logPath) {
		if ev.owner == victim {
			victimRuns[run] = true
		}
	}
	t.Logf("SIGKILLed %s during run %s; it had %d runs in progress", victim, victimRun, len(victimRuns))

	// The survivors take the run over after the lease expires, and keep
	// running activations.
	sleep(30 * time.Second)
	for _, p := range procs {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	for owner, p := range procs {
		select {
		case err := <-p.done:
			if err != nil {
				t.Errorf("%s exited with %v", owner, err)
			}
		case <-time.After(time.Minute):
			t.Errorf("%s did not exit within a minute of SIGTERM", owner)
		}
		delete(procs, owner)
	}

	// Each activation of each task has exactly one run.
	total := 0
	byID := map[string]*store.Run{}
	for _, tk := range tasks {
		runs, err := s.ListRuns(ctx, tk.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		acts := map[time.Time]int{}
		late := 0
		for _, r := range runs {
			byID[r.ID.String()] = r
			acts[r.Activation]++
			if r.Activation.After(killed.Add(haLeaseTTL + 2*haSync)) {
				late++
			}
		}
		for a, n := range acts {
			if n != 1 {
				t.Errorf("task %s: activation %s has %d runs", tk.Name, a.Format(time.RFC3339), n)
			}
		}
		if late == 0 {
			t.Errorf("task of cluster %s: no run for an activation after the takeover", tk.ClusterID)
		}
		total += len(runs)
	}

	// Every run executed once, except the victim's, which a survivor
	// continued with a larger fence and finished.
	starts := map[string][]haEvent{}
	ends := map[string]int{}
	endedBy := map[string][]string{}
	for _, ev := range readEvents(t, logPath) {
		if ev.kind == "start" {
			starts[ev.run] = append(starts[ev.run], ev)
		} else {
			ends[ev.run]++
			endedBy[ev.run] = append(endedBy[ev.run], ev.owner)
		}
	}
	for run, ss := range starts {
		if victimRuns[run] {
			if len(ss) != 2 || ss[1].owner == victim || !ss[1].cont || ss[1].fence <= ss[0].fence || ends[run] != 1 {
				t.Errorf("run %s of the killed %s: starts %+v, %d ends; want one continuation by a survivor with a larger fence, ended",
					run, victim, ss, ends[run])
			}
			continue
		}
		switch {
		case len(ss) == 1:
		case len(ss) == 2 && ss[1].owner != ss[0].owner && ss[1].cont && ss[1].fence > ss[0].fence &&
			slices.Equal(endedBy[run], []string{ss[1].owner}):
			// A live holder's lease expired (its renewals, Cassandra
			// LWTs, were slower than the TTL on a loaded machine): it
			// stopped without finishing, and another process continued
			// the run with a larger fence and finished it once. That is
			// the fencing contract; two processes finishing one run is
			// not.
			t.Logf("run %s: %s lost its lease, %s continued it (fence %d > %d) and ended it", run, ss[0].owner, ss[1].owner, ss[1].fence, ss[0].fence)
		default:
			t.Errorf("run %s started %d times: %+v, ended by %v; want one start, or one continuation by another process after a lost lease and one end by it",
				run, len(ss), ss, endedBy[run])
		}
	}
	for run := range victimRuns {
		r := byID[run]
		if r == nil || r.Status != store.StatusDone || r.Owner == victim {
			t.Errorf("run %s of the killed %s is stored as %+v; want DONE by a survivor", run, victim, r)
		}
	}
	t.Logf("%d runs of %d tasks; %d runner starts", total, len(tasks), len(readEvents(t, logPath)))
}

type haEvent struct {
	kind, run, owner string
	fence            int64
	cont             bool
}

func readEvents(t *testing.T, path string) []haEvent {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []haEvent
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ev haEvent
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 {
			continue // a partial line being written
		}
		ev.kind, ev.run, ev.owner = fields[0], fields[1], fields[2]
		_, _ = fmt.Sscan(fields[3], &ev.fence)
		ev.cont = len(fields) > 4 && fields[4] == "true"
		out = append(out, ev)
	}
	return out
}

// runningRuns returns the runs started but not ended, by run ID.
func runningRuns(t *testing.T, path string) map[string]haEvent {
	t.Helper()
	m := map[string]haEvent{}
	for _, ev := range readEvents(t, path) {
		if ev.kind == "start" {
			m[ev.run] = ev
		} else {
			delete(m, ev.run)
		}
	}
	return m
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, _ := os.ReadFile(path)
	return string(b)
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
