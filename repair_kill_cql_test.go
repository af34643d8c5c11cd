package scyllaops_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/internal/testenv"
	"github.com/scyllaops/scyllaops/scyllatest"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/cqlstore"
)

// The child mode of TestRepairTakeoverOnCQLStoreAfterSIGKILL: a Manager
// process on the cqlstore keyspace that starts the repair task and runs
// until killed.
const repairKillCQLChildEnv = "SCYLLAOPS_REPAIR_KILL_CQL_CHILD"

// repairKillCQLArgs is what the test passes to its child.
type repairKillCQLArgs struct {
	Hosts                    []string
	User, Password, Keyspace string
	Cluster, Task            string
}

func init() {
	if os.Getenv(repairKillCQLChildEnv) == "" {
		return
	}
	os.Exit(repairKillCQLChild())
}

func repairKillCQLChild() int {
	ctx := context.Background()
	var a repairKillCQLArgs
	if err := json.Unmarshal([]byte(os.Getenv(repairKillCQLChildEnv)), &a); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	st, err := cqlstore.Open(ctx, repairKillCQLOptions(a))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	m, err := scyllaops.New(st, nil, repairKillCQLManager("child"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	go func() { _ = m.Run(ctx) }()
	if err := m.StartTask(ctx, uuid.MustParse(a.Cluster), uuid.MustParse(a.Task), true); err != nil {
		fmt.Fprintln(os.Stderr, "start:", err)
		return 2
	}
	select {} // until SIGKILL
}

// repairKillCQLOptions opens the test Cassandra (2.1: protocol v3, no
// host lookup), generous timeouts for a loaded machine.
func repairKillCQLOptions(a repairKillCQLArgs) cqlstore.Options {
	return cqlstore.Options{Hosts: a.Hosts, Username: a.User, Password: a.Password, Keyspace: a.Keyspace,
		ProtoVersion: 3, DisableInitialHostLookup: true, Timeout: 20 * time.Second, ConnectTimeout: 15 * time.Second,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
}

// repairKillCQLManager: leases of a few seconds (Cassandra's LWTs take
// tens of milliseconds here) and a quick sync, so that the survivor sees
// the dead Manager's run soon.
func repairKillCQLManager(owner string) scyllaops.Options {
	return scyllaops.Options{OwnerID: owner, LeaseTTL: 3 * time.Second, SyncInterval: time.Second,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
}

// repairJobRow is the part of the repair's persisted job rows (progress
// keys "job/…") the test reads.
type repairJobRow struct {
	Table  string     `json:"table"`
	Ranges [][2]int64 `json:"ranges"`
	Error  string     `json:"error"`
}

// persistedRepairs returns the ranges ("table start end") of the
// successful job rows stored for the task's newest run, and its ID.
func persistedRepairs(ctx context.Context, t *testing.T, st store.Store, taskID uuid.UUID) (uuid.UUID, map[string]bool) {
	t.Helper()
	runs, err := st.ListRuns(ctx, taskID, 1)
	if err != nil || len(runs) == 0 {
		t.Fatalf("runs of the task: %v (%d)", err, len(runs))
	}
	rows, err := st.ListProgress(ctx, runs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, p := range rows {
		if !strings.HasPrefix(p.Key, "job/") {
			continue
		}
		var j repairJobRow
		if err := json.Unmarshal(p.Data, &j); err != nil {
			t.Fatalf("progress row %s: %v", p.Key, err)
		}
		if j.Error != "" {
			continue
		}
		for _, r := range j.Ranges {
			out[fmt.Sprintf("%s %d %d", j.Table, r[0], r[1])] = true
		}
	}
	return runs[0].ID, out
}

// TestRepairTakeoverOnCQLStoreAfterSIGKILL kills a Manager process with
// SIGKILL in the middle of a repair, with its state in cqlstore (the
// test Cassandra). Another Manager (another owner) on the same keyspace
// takes the run over after the lease and finishes it. From the
// simulator's record: the jobs started after the takeover repair every
// range of every table that the killed run had not persisted exactly
// once, and none that it had.
func TestRepairTakeoverOnCQLStoreAfterSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process, a listening simulated cluster and uses the test Cassandra")
	}
	hosts, user, password := testenv.CQL(t)
	ctx := t.Context()
	args := repairKillCQLArgs{Hosts: hosts, User: user, Password: password,
		Keyspace: fmt.Sprintf("repair_kill_%d_%d", os.Getpid(), time.Now().Unix()%100000)}
	t.Cleanup(func() { dropCQLKeyspace(t, args) })
	sim := scyllatest.New(t, scyllatest.Options{
		Listen: true, TokensPerNode: 16, RepairRangeDelay: 20 * time.Millisecond,
		Keyspaces: []scyllatest.Keyspace{{Name: "ks", Replication: scyllatest.Simple(2),
			Tables: []scyllatest.Table{{Name: "t1", SSTables: 1}, {Name: "t2", SSTables: 1}}}},
	})
	octx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	st, err := cqlstore.Open(octx, repairKillCQLOptions(args))
	cancel()
	if err != nil {
		t.Fatalf("open cqlstore: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	m, err := scyllaops.New(st, nil, repairKillCQLManager("setup"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := m.CreateCluster(ctx, scyllaops.Cluster{Name: "c", Host: sim.ContactHost(), AuthToken: sim.AuthToken(), WithoutRepair: true})
	if err != nil {
		t.Fatal(err)
	}
	props := json.RawMessage(`{"keyspace":["ks"],"small_table_threshold":"1B","intensity":1}`)
	task, err := m.CreateTask(ctx, store.Task{ClusterID: c.ID, Type: "repair", Name: "r", Enabled: true,
		Schedule: store.Schedule{Cron: "0 3 1 1 *"}, Properties: props})
	if err != nil {
		t.Fatal(err)
	}
	_ = m.Close()

	args.Cluster, args.Task = c.ID.String(), task.ID.String()
	arg, _ := json.Marshal(args)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), repairKillCQLChildEnv+"="+string(arg))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill once the child has persisted its first job (so the survivor
	// has something to skip), in the middle of the first table, with the
	// next job running on the nodes.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("the child persisted no repair job within 2m (%d ranges repaired)", len(sim.RepairedRanges()))
		}
		time.Sleep(50 * time.Millisecond)
		runs, err := st.ListRuns(ctx, task.ID, 1)
		if err != nil || len(runs) == 0 {
			continue
		}
		rows, err := st.ListProgress(ctx, runs[0].ID)
		if err == nil && len(rows) >= 2 { // the run row and a job: mid-table
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	old := map[[2]any]bool{}
	for _, j := range sim.RepairJobs() {
		old[[2]any{j.Coordinator, j.ID}] = true
	}
	time.Sleep(time.Second) // a write the child had sent lands before it is read
	killedRun, persisted := persistedRepairs(ctx, t, st, task.ID)
	if len(persisted) == 0 || len(persisted) >= 2*(16*3+1) {
		t.Fatalf("the killed run persisted %d ranges, want some but not all", len(persisted))
	}

	_, run := takeOver(ctx, t, st, repairKillCQLManager("survivor"), c.ID, task.ID, 3*time.Minute)
	if run.Status != store.StatusDone {
		t.Fatalf("run after takeover: %s (%s)", run.Status, run.Cause)
	}
	if run.ID != killedRun {
		t.Errorf("run %s is DONE, want the killed run %s taken over", run.ID, killedRun)
	}

	rs, err := sim.Client().DescribeRing(ctx, sim.ContactHost(), "ks", "")
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]bool{}
	after := map[string]int{}
	for _, r := range sim.RepairedRanges() {
		if old[[2]any{r.Coordinator, r.JobID}] {
			continue
		}
		for _, tb := range r.Tables {
			after[fmt.Sprintf("%s %d %d", tb, r.Start, r.End)]++
		}
	}
	for _, r := range sim.RepairedRanges() {
		for _, tb := range r.Tables {
			all[fmt.Sprintf("%s %d %d", tb, r.Start, r.End)] = true
		}
	}
	want := 2 * (len(rs) + 1) // the wrap-around range is split
	if len(all) != want {
		t.Errorf("%d distinct ranges repaired in all, want %d", len(all), want)
	}
	for k := range all {
		n := after[k]
		switch {
		case persisted[k] && n > 0:
			t.Errorf("range %s persisted by the killed run was repaired %d time(s) after the takeover", k, n)
		case !persisted[k] && n != 1:
			t.Errorf("range %s not persisted by the killed run was repaired %d time(s) after the takeover, want 1", k, n)
		}
	}
	t.Logf("ranges %d: %d persisted by the killed run, %d repaired after the takeover", want, len(persisted), len(after))
}

// dropCQLKeyspace drops the test's keyspace.
func dropCQLKeyspace(t *testing.T, a repairKillCQLArgs) {
	c := gocql.NewCluster(a.Hosts...)
	c.ProtoVersion = 3
	c.DisableInitialHostLookup = true
	c.Timeout = 30 * time.Second
	if a.User != "" {
		c.Authenticator = gocql.PasswordAuthenticator{Username: a.User, Password: a.Password}
	}
	s, err := c.CreateSession()
	if err != nil {
		t.Logf("drop keyspace %s: %v", a.Keyspace, err)
		return
	}
	defer s.Close()
	if err := s.Query(fmt.Sprintf("DROP KEYSPACE IF EXISTS %q", a.Keyspace)).Exec(); err != nil {
		t.Logf("drop keyspace %s: %v", a.Keyspace, err)
	}
}
