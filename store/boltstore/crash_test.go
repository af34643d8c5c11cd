package boltstore_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/boltstore"
)

// The crash test runs the test binary again as a child (crashChildEnv set
// to the store path) that writes runs and progress rows in a loop and
// prints what it committed; the parent SIGKILLs it at a random moment and
// checks that everything reported is in the reopened file.
const crashChildEnv = "BOLTSTORE_CRASH_CHILD"

var (
	crashCluster = uuid.MustParse("6f1c2f54-0000-4000-8000-000000000001")
	crashTask    = uuid.MustParse("6f1c2f54-0000-4000-8000-000000000002")
)

// crashProps is the Properties of the i-th run of the child.
func crashProps(i int) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"seq":%d}`, i))
}

// crashData is the payload of a progress row, of a size (up to ~3 KiB)
// derived from its address so that pages split and the parent can
// recompute it.
func crashData(runID uuid.UUID, key string) json.RawMessage {
	h := fnv.New32a()
	h.Write(runID[:])
	h.Write([]byte(key))
	pad := strings.Repeat("x", int(h.Sum32()%3000))
	return json.RawMessage(fmt.Sprintf(`{"run":%q,"key":%q,"pad":%q}`, runID, key, pad))
}

// crashChild never returns: it writes until it is killed.
func crashChild(t *testing.T, path string) {
	s, err := boltstore.Open(t.Context(), path, boltstore.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: open:", err)
		os.Exit(3)
	}
	ctx := t.Context()
	fail := func(what string, err error) {
		fmt.Fprintf(os.Stderr, "child: %s: %v\n", what, err)
		os.Exit(3)
	}
	for i := 0; ; i++ {
		id, err := uuid.NewUUID()
		if err != nil {
			fail("uuid", err)
		}
		r := &store.Run{
			ClusterID: crashCluster, TaskID: crashTask, ID: id, Type: "backup",
			Status: store.StatusRunning, Owner: "child", Fence: 1,
			Properties: crashProps(i), StartTime: time.Now(),
		}
		if err := s.CreateRun(ctx, r); err != nil {
			fail("CreateRun", err)
		}
		fmt.Fprintf(os.Stdout, "COMMIT run %s %d\n", id, i)
		for j := range 1 + i%7 {
			key := fmt.Sprintf("10.0.0.%d/ks/t%d", j%3, j)
			p := &store.Progress{
				ClusterID: crashCluster, TaskID: crashTask, RunID: id, Key: key,
				Data: crashData(id, key), Fence: 1, UpdatedAt: time.Now(),
			}
			if err := s.PutProgress(ctx, p); err != nil {
				fail("PutProgress", err)
			}
			fmt.Fprintf(os.Stdout, "COMMIT progress %s %s\n", id, key)
		}
		r.Status = store.StatusDone
		r.EndTime = time.Now()
		if err := s.UpdateRun(ctx, r); err != nil {
			fail("UpdateRun", err)
		}
		fmt.Fprintf(os.Stdout, "COMMIT done %s\n", id)
	}
}

func TestCrash(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(t, path)
		return
	}
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := boltstore.Open(t.Context(), path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateCluster(t.Context(), &store.Cluster{ID: crashCluster, Name: "crash"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTask(t.Context(), &store.Task{ClusterID: crashCluster, ID: crashTask, Type: "backup"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestCrash$", "-test.count=1", "-test.v=false")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() { // the test drains lines until it is closed
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()

	// Kill after a random number of commits plus a random delay, so the
	// kill lands anywhere in a transaction.
	killAfter := 1 + rand.IntN(200)
	var commits []string
	var killed bool
	var kill <-chan time.Time
	for line := range lines {
		if !strings.HasPrefix(line, "COMMIT ") {
			continue
		}
		commits = append(commits, strings.TrimPrefix(line, "COMMIT "))
		if len(commits) == killAfter && kill == nil {
			kill = time.After(time.Duration(rand.IntN(3000)) * time.Microsecond)
		}
		select {
		case <-kill:
			if !killed {
				killed = true
				if err := cmd.Process.Kill(); err != nil {
					t.Errorf("kill: %v", err)
				}
			}
		default:
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child exited by itself after %d commits: %v\nstderr:\n%s", len(commits), err, stderr.String())
	}
	t.Logf("child killed after %d reported commits (kill armed at %d)", len(commits), killAfter)

	checkFile(t, path)
	checkCommits(t, path, commits)
}

// checkFile runs bbolt's consistency check on the file.
func checkFile(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("bolt.Open after crash: %v", err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
	if err != nil {
		t.Fatalf("consistency check after crash: %v", err)
	}
}

// checkCommits reopens the store and checks every reported commit.
func checkCommits(t *testing.T, path string, commits []string) {
	t.Helper()
	ctx := t.Context()
	s, err := boltstore.Open(ctx, path, boltstore.Options{})
	if err != nil {
		t.Fatalf("reopen after crash: %v", err)
	}
	defer s.Close()
	runs := map[uuid.UUID]int{}
	for _, c := range commits {
		f := strings.Fields(c)
		id, err := uuid.Parse(f[1])
		if err != nil {
			t.Fatalf("bad commit line %q", c)
		}
		switch f[0] {
		case "run":
			seq, _ := strconv.Atoi(f[2])
			runs[id] = seq
			r, err := s.GetRun(ctx, crashTask, id)
			if err != nil {
				t.Errorf("run %s reported committed: %v", id, err)
				continue
			}
			if r.ClusterID != crashCluster || r.Type != "backup" || r.Owner != "child" || r.Fence != 1 ||
				string(r.Properties) != string(crashProps(seq)) || r.StartTime.IsZero() {
				t.Errorf("run %s: got %+v", id, r)
			}
		case "progress":
			rows, err := s.ListProgress(ctx, id)
			if err != nil {
				t.Fatalf("ListProgress(%s): %v", id, err)
			}
			found := false
			for _, p := range rows {
				if p.Key == f[2] {
					found = true
					if string(p.Data) != string(crashData(id, p.Key)) || p.RunID != id || p.TaskID != crashTask || p.Fence != 1 {
						t.Errorf("progress %s %s: got %+v", id, p.Key, p)
					}
				}
			}
			if !found {
				t.Errorf("progress row %s %s reported committed, not found", id, f[2])
			}
		case "done":
			r, err := s.GetRun(ctx, crashTask, id)
			if err != nil {
				t.Errorf("run %s reported done: %v", id, err)
			} else if r.Status != store.StatusDone || r.EndTime.IsZero() {
				t.Errorf("run %s reported done: status %s, end %s", id, r.Status, r.EndTime)
			}
		default:
			t.Fatalf("bad commit line %q", c)
		}
	}
	// Everything in the file decodes, and at most the run in flight is
	// unfinished.
	all, err := s.ListRuns(ctx, crashTask, 0)
	if err != nil {
		t.Fatalf("ListRuns after crash: %v", err)
	}
	if len(all) < len(runs) || len(all) > len(runs)+1 {
		t.Errorf("ListRuns after crash = %d runs, reported %d (+1 in flight at most)", len(all), len(runs))
	}
	for _, r := range all {
		if _, err := s.ListProgress(ctx, r.ID); err != nil {
			t.Errorf("ListProgress(%s) after crash: %v", r.ID, err)
		}
	}
	un, err := s.ListUnfinishedRuns(ctx)
	if err != nil {
		t.Fatalf("ListUnfinishedRuns after crash: %v", err)
	}
	if len(un) > 1 {
		t.Errorf("ListUnfinishedRuns after crash = %d runs, want at most 1", len(un))
	}
	// The store takes writes again.
	id, _ := uuid.NewUUID()
	if err := s.CreateRun(ctx, &store.Run{ClusterID: crashCluster, TaskID: crashTask, ID: id, Status: store.StatusNew}); err != nil {
		t.Errorf("CreateRun after crash: %v", err)
	}
}
