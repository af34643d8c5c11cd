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
