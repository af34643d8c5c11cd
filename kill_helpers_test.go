package scyllaops_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/backup"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/boltstore"
)

// What the SIGKILL tests (TestBackupResumesAfterManagerSIGKILL,
// TestRepairResumesAfterManagerSIGKILL) share: a Manager on a bolt file
// sets a task up and goes away, a child Manager process on the same file
// starts it and is killed mid-run, and a new Manager takes the run over.

// The child mode of the SIGKILL tests: a Manager process on the bolt file
// that starts the task and runs until killed.
const killChildEnv = "SCYLLAOPS_KILL_CHILD"

func init() {
	if os.Getenv(killChildEnv) == "" {
		return
	}
	// Runs inside the test binary, before any test: the child never returns.
	os.Exit(killChild())
}

func killChild() int {
	ctx := context.Background()
	var a struct{ DB, Cluster, Task string }
	if err := json.Unmarshal([]byte(os.Getenv(killChildEnv)), &a); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	st, err := boltstore.Open(ctx, a.DB, boltstore.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	m, err := scyllaops.New(st, nil, killTestOptions("child"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	go func() { _ = m.Run(ctx) }()
	if err := m.StartTask(ctx, uuid.MustParse(a.Cluster), uuid.MustParse(a.Task), true); err != nil {
		fmt.Fprintln(os.Stderr, "start:", err)
		return 2
	}
	fmt.Fprintln(os.Stdout, "started")
	select {} // until SIGKILL
}

func killTestOptions(owner string) scyllaops.Options {
	return scyllaops.Options{
		OwnerID:  owner,
		LeaseTTL: time.Second,
		Logger:   slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Backup:   backup.Options{LongPoll: 200 * time.Millisecond, LeaseTTL: time.Second, LeaseWait: 100 * time.Millisecond},
	}
}

// setUpKillTask adds cluster and task (of that cluster) to the bolt file
// db with a Manager that then goes away; it returns the cluster's and the
// task's IDs.
func setUpKillTask(t *testing.T, db string, cluster scyllaops.Cluster, task store.Task) (clusterID, taskID uuid.UUID) {
	t.Helper()
	ctx := t.Context()
	st, err := boltstore.Open(ctx, db, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := scyllaops.New(st, nil, killTestOptions("setup"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := m.CreateCluster(ctx, cluster)
	if err != nil {
		t.Fatal(err)
	}
	task.ClusterID = c.ID
	tk, err := m.CreateTask(ctx, task)
	if err != nil {
		t.Fatal(err)
	}
	_ = m.Close()
	_ = st.Close()
	return c.ID, tk.ID
}

// startKillChild starts the child Manager process that starts the task.
func startKillChild(t *testing.T, db string, clusterID, taskID uuid.UUID) *exec.Cmd {
	t.Helper()
	arg, _ := json.Marshal(map[string]string{"DB": db, "Cluster": clusterID.String(), "Task": taskID.String()})
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), killChildEnv+"="+string(arg))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// sigkill kills the child with SIGKILL and waits for it to end.
func sigkill(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
}

// takeOver runs a new Manager on the bolt file db (until the test ends)
// and waits, for up to two minutes, for the run of the task to end; it
// returns the Manager and the run.
func takeOver(t *testing.T, db string, clusterID, taskID uuid.UUID) (*scyllaops.Manager, store.Run) {
	t.Helper()
	ctx := t.Context()
	st, err := boltstore.Open(ctx, db, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	m, err := scyllaops.New(st, nil, killTestOptions("survivor"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	runManager(t, m)
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return m, waitRun(wctx, m, clusterID, taskID)
}
