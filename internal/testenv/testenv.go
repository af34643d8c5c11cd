// Package testenv gives tests the real servers that scripts/services.sh
// starts (S3, GCS and Azure emulators, Cassandra): their addresses come
// from the environment that script writes. Without them a test is
// skipped, or fails when CI is set, so that CI never counts a skipped
// test as passing.
package testenv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Need returns the values of the environment variables keys. When one is
// unset the test is skipped, or fails if CI is set.
func Need(t testing.TB, keys ...string) []string {
	t.Helper()
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = os.Getenv(k)
		if out[i] == "" {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not set (scripts/services.sh starts the test servers and writes it)", k)
			}
			t.Skipf("%s is not set; run scripts/services.sh and source its env file", k)
		}
	}
	return out
}

// CQL returns the test CQL database (a Cassandra 2.1 started by
// scripts/services.sh): its host:port list and credentials.
func CQL(t testing.TB) (hosts []string, user, password string) {
	t.Helper()
	h := Need(t, "SCYLLAOPS_CQL_HOSTS")[0]
	return strings.Split(h, ","), os.Getenv("SCYLLAOPS_CQL_USER"), os.Getenv("SCYLLAOPS_CQL_PASSWORD")
}

// Services runs scripts/services.sh with args, e.g. "stop", "cassandra",
// within three minutes. The test is skipped (fails under CI) when
// SCYLLAOPS_CI_DIR is unset: the servers are not the script's.
func Services(t testing.TB, args ...string) {
	t.Helper()
	Need(t, "SCYLLAOPS_CI_DIR")
	script := filepath.Join(repoRoot(t), "scripts", "services.sh")
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, script, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("services.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("services.sh %s: %s", strings.Join(args, " "), strings.TrimSpace(string(out)))
}

// repoRoot is the directory of go.mod above the test's working directory.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testenv: no go.mod above the working directory")
		}
		dir = parent
	}
}
