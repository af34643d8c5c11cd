package main

import (
	"regexp"
	"strings"
	"testing"
)

var tagRe = regexp.MustCompile(`sm_[0-9]{14}UTC`)

func TestBackupCommandsEndToEnd(t *testing.T) {
	f := newRunningFixture(t)
	f.ok("cluster", "add", "--id", id1, "--name", "prod", "--host", f.sc.ContactHost(), "--auth-token", f.sc.AuthToken())

	out := f.ok("backup", "-c", "prod", "-L", "localstorage:bucket", "--dry-run", "--show-tables")
	if !strings.Contains(out, "localstorage:bucket") || !strings.Contains(out, "Keyspaces:") {
		t.Errorf("backup --dry-run:\n%s", out)
	}
	out = f.ok("backup", "-c", "prod", "-L", "localstorage:bucket", "--name", "nightly", "--retention", "2")
	if !strings.HasPrefix(out, "backup/") {
		t.Fatalf("backup: %s", out)
	}
	// Wait for the run to finish (it starts now); --follow draws the bar
	// on stderr while it runs and returns when it no longer runs.
	out = f.followDone("backup/nightly", func(bar string) bool {
		return strings.Contains(bar, "█") || strings.Contains(bar, "░")
	})
	for _, want := range []string{"Snapshot Tag:", "│ Host", "Deduplicated", "100%"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress lacks %q:\n%s", want, out)
		}
	}
	tag := tagRe.FindString(out)
	out = f.ok("tasks", "-c", "prod")
	if !strings.Contains(out, "backup/nightly") || !strings.Contains(out, "healthcheck/") {
		t.Errorf("tasks:\n%s", out)
	}
	out = f.ok("info", "-c", "prod", "backup/nightly")
	if !strings.Contains(out, "DONE") || !strings.Contains(out, "location") {
		t.Errorf("info:\n%s", out)
	}
	out = f.ok("backup", "list", "-c", "prod")
	if !strings.Contains(out, tag) {
		t.Errorf("backup list lacks %s:\n%s", tag, out)
	}
	out = f.ok("backup", "files", "-c", "prod", "-T", tag)
	if !strings.Contains(out, "localstorage://bucket/backup/sst/") || !strings.Contains(out, "Data.db") {
		t.Errorf("backup files:\n%.500s", out)
	}
	f.ok("backup", "update", "-c", "prod", "backup/nightly", "--retention", "5", "--cron", "@daily")
	out = f.ok("info", "-c", "prod", "backup/nightly")
	if !strings.Contains(out, "@daily") || !strings.Contains(out, "retention: 5") {
		t.Errorf("info after update:\n%s", out)
	}
	out = f.ok("backup", "validate", "-c", "prod", "-L", "localstorage:bucket")
	vref := strings.TrimSpace(out)
	out = f.waitDone("prod", vref)
	if !strings.Contains(out, "Missing files") {
		t.Errorf("validate progress:\n%s", out)
	}
	f.ok("suspend", "-c", "prod")
	f.ok("resume", "-c", "prod")
	f.ok("start", "-c", "prod", "backup/nightly")
	f.ok("stop", "-c", "prod", "backup/nightly", "--disable")
	// The task is disabled now: its locations are no longer the default.
	f.ok("backup", "delete", "-c", "prod", "-T", tag, "-L", "localstorage:bucket")
	if out := f.ok("backup", "list", "-c", "prod", "-L", "localstorage:bucket"); strings.Contains(out, tag) {
		t.Errorf("deleted snapshot still listed:\n%s", out)
	}
}
