package scyllaops_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/backup"
	"github.com/scyllaops/scyllaops/restore"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/boltstore"
)

// The child mode of the SIGKILL tests: the test binary re-executed as a
// Manager process on a bolt file that starts a task (or, with Takeover,
// only runs, taking over the run a killed process left) and runs until
// it is killed.
const killChildEnv = "SCYLLAOPS_KILL_CHILD"

// killChildArgs are the child's arguments (JSON in killChildEnv).
type killChildArgs struct {
	DB, Cluster, Task string
	// Takeover: do not start the task, take over its abandoned run.
	Takeover bool `json:",omitempty"`
}

func init() {
	if os.Getenv(killChildEnv) == "" {
		return
	}
	// Runs inside the test binary, before any test: the child never returns.
	os.Exit(killChild())
}

func killChild() int {
	ctx := context.Background()
	var a killChildArgs
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
	if !a.Takeover {
		if err := m.StartTask(ctx, uuid.MustParse(a.Cluster), uuid.MustParse(a.Task), true); err != nil {
			fmt.Fprintln(os.Stderr, "start:", err)
			return 2
		}
	}
	fmt.Fprintln(os.Stdout, "started")
	select {} // until SIGKILL
}

// startKillChild starts the child Manager process with a.
func startKillChild(t *testing.T, a killChildArgs) *exec.Cmd {
	t.Helper()
	arg, _ := json.Marshal(a)
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), killChildEnv+"="+string(arg))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func killTestOptions(owner string) scyllaops.Options {
	return scyllaops.Options{
		OwnerID:  owner,
		LeaseTTL: time.Second,
		Logger:   slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Backup:   backup.Options{LongPoll: 200 * time.Millisecond, LeaseTTL: time.Second, LeaseWait: 100 * time.Millisecond},
		Restore:  restore.Options{LongPoll: 200 * time.Millisecond},
	}
}

// survivor opens the bolt file db in a new Manager ("survivor"), runs its
// scheduler until the test ends, and waits up to two minutes for the
// task's run, which it takes over from the killed process, to end.
func survivor(ctx context.Context, t *testing.T, db string, clusterID, taskID uuid.UUID) (*scyllaops.Manager, store.Run) {
	t.Helper()
	st, err := boltstore.Open(ctx, db, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return takeOver(ctx, t, st, killTestOptions("survivor"), clusterID, taskID, 2*time.Minute)
}

// takeOver starts a Manager with opts on st, runs its scheduler until the
// test ends, and waits up to wait for the task's run, which it takes over
// from a killed process, to end.
func takeOver(ctx context.Context, t *testing.T, st store.Store, opts scyllaops.Options, clusterID, taskID uuid.UUID, wait time.Duration) (*scyllaops.Manager, store.Run) {
	t.Helper()
	m, err := scyllaops.New(st, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done; _ = m.Close() })
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	return m, waitRun(wctx, m, clusterID, taskID)
}
