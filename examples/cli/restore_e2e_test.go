package main

import (
	"strings"
	"testing"
	"time"
)

// followDone follows the progress of ref ("progress --follow") until its
// run is DONE and returns the last progress text. When bar is not nil,
// the live bar that --follow draws on stderr while the run is RUNNING
// must pass it.
func (f *fixture) followDone(ref string, bar func(stderr string) bool) string {
	f.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, errs, code := f.sctool("progress", "-c", "prod", ref, "--follow")
		if code != 0 {
			f.t.Fatalf("progress --follow %s: exit %d: %s", ref, code, errs)
		}
		if bar != nil && strings.Contains(errs, "RUNNING") && !bar(errs) {
			f.t.Errorf("progress --follow %s drew no bar, or the wrong one: %q", ref, errs)
		}
		if strings.Contains(out, "Status:\t\tDONE") {
			return out
		}
		if strings.Contains(out, "ERROR") || time.Now().After(deadline) {
			f.t.Fatalf("progress %s:\n%s", ref, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestRestoreCommandsEndToEnd backs the cluster up and restores the
// snapshot's tables into it with the CLI: dry run, a refused mapping,
// the restore task and its progress table.
func TestRestoreCommandsEndToEnd(t *testing.T) {
	f := newRunningFixture(t)
	f.ok("cluster", "add", "--id", id1, "--name", "prod", "--host", f.sc.ContactHost(), "--auth-token", f.sc.AuthToken())
	ref := strings.TrimSpace(f.ok("backup", "-c", "prod", "-L", "localstorage:bucket"))
	tag := tagRe.FindString(f.followDone(ref, nil))
	if tag == "" {
		t.Fatal("no snapshot tag in the backup progress")
	}

	out := f.ok("restore", "-c", "prod", "-L", "localstorage:bucket", "-T", tag, "--restore-tables", "--dry-run", "--show-tables")
	for _, want := range []string{"Snapshot " + tag, "Target hosts:", "estimated duration", "Keyspace"} {
		if !strings.Contains(out, want) {
			t.Errorf("restore --dry-run lacks %q:\n%s", want, out)
		}
	}
	_, errs, code := f.sctool("restore", "-c", "prod", "-L", "localstorage:bucket", "-T", tag, "--restore-tables", "--dc-mapping", "dc1=nowhere")
	if code == 0 || !strings.Contains(errs, "dc_mapping") {
		t.Errorf("restore with an unknown target DC: exit %d, stderr %q", code, errs)
	}
	out = f.ok("restore", "-c", "prod", "-L", "localstorage:bucket", "-T", tag, "--restore-tables", "--batch-size", "1")
	if !strings.HasPrefix(out, "restore/") {
		t.Fatalf("restore: %s", out)
	}
	out = f.followDone(strings.TrimSpace(out), nil)
	for _, want := range []string{"Snapshot Tag:\t" + tag, "Stage:\t\tDONE", "100%", "│ Host", "Downloaded"} {
		if !strings.Contains(out, want) {
			t.Errorf("restore progress lacks %q:\n%s", want, out)
		}
	}
}
