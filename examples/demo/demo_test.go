package main

import (
	"bufio"
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scyllaops/scyllaops/internal/testenv"
)

// TestDemo builds and runs the demo as a user would, with -serve: it shows
// every step, then keeps serving and prints commands; the CLI commands it
// prints work against it; Ctrl-C (SIGINT) ends it with exit 0, all within
// two minutes.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole demo")
	}
	dir := t.TempDir()
	bin, cli := filepath.Join(dir, "demo"), filepath.Join(dir, "cli")
	for _, b := range [][2]string{{bin, "."}, {cli, "../cli"}} {
		if out, err := exec.CommandContext(t.Context(), "go", "build", "-o", b[0], b[1]).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", b[1], err, out)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var out testenv.Buffer
	cmd := exec.CommandContext(ctx, bin, "-serve")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	serving := make(chan []string, 1)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(io.TeeReader(stdout, &out))
		var cmds []string
		inList := false
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			switch {
			case strings.HasPrefix(line, "== Serving until Ctrl-C"):
				inList = true
			case inList && strings.HasPrefix(line, "go run ./examples/cli "):
				cmds = append(cmds, strings.TrimPrefix(line, "go run ./examples/cli "))
			case inList && strings.HasPrefix(line, "(sctool"):
				serving <- cmds
				inList = false
			}
		}
	}()
	var cmds []string
	select {
	case cmds = <-serving:
	case <-ctx.Done():
		t.Fatalf("demo not serving within 2 minutes:\n%s", out.String())
	}
	s := out.String()
	for _, want := range []string{"== 10. Repair", "== 11. Restore", "== 12. Summary", "Missing files: 0", "deduplicated", " not matching the bucket", "repair", "restore"} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if len(cmds) < 3 {
		t.Fatalf("demo -serve printed %d CLI commands, want several:\n%s", len(cmds), s)
	}
	// The read-only commands it suggests work against the running demo.
	for _, c := range cmds {
		if !strings.HasPrefix(c, "--api-url ") || strings.Contains(c, " backup -c") {
			continue // only read-only commands; a new backup would outlive the test
		}
		args := strings.Fields(c)
		res, err := exec.CommandContext(ctx, cli, args...).CombinedOutput()
		if err != nil {
			t.Errorf("cli %s: %v\n%s", c, err, res)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	<-copied
	if err := cmd.Wait(); err != nil {
		t.Fatalf("demo after Ctrl-C: %v (ctx %v)\n%s", err, ctx.Err(), out.String())
	}
	if !strings.Contains(out.String(), "Demo finished") {
		t.Errorf("demo did not finish cleanly after Ctrl-C:\n%s", out.String())
	}
	t.Logf("demo output:\n%s", out.String())
}
