package main

import (
	"strings"
	"testing"
)

func TestRepairCommandsEndToEnd(t *testing.T) {
	f := newRunningFixture(t)
	f.ok("cluster", "add", "--id", id1, "--name", "prod", "--host", f.sc.ContactHost(), "--auth-token", f.sc.AuthToken(), "--without-repair")

	out := f.ok("repair", "-c", "prod", "-K", "ks", "--dry-run", "--show-tables")
	if !strings.Contains(out, "  - ks all (1 tables)") || !strings.Contains(out, "    - t") || !strings.Contains(out, "Token ranges: all") {
		t.Errorf("repair --dry-run:\n%s", out)
	}
	// Bad input names the field; nothing is created.
	for _, bad := range [][]string{
		{"--intensity", "-1"}, {"--parallel", "-3"}, {"--small-table-threshold", "big"}, {"-K", "nope"}, {"--dc", "dc9"},
	} {
		_, errs, code := f.sctool(append([]string{"repair", "-c", "prod", "--name", "bad"}, bad...)...)
		field := strings.TrimLeft(bad[0], "-")
		if field == "K" {
			field = "keyspace"
		}
		field = strings.ReplaceAll(field, "-", "_")
		if code == 0 || !strings.Contains(errs, field) {
			t.Errorf("repair %v: code %d, stderr %q, want an error naming %s", bad, code, errs, field)
		}
	}
	out = f.ok("repair", "-c", "prod", "-K", "ks", "--name", "weekly", "--cron", "0 23 * * SAT", "--intensity", "2", "--small-table-threshold", "1B")
	if !strings.HasPrefix(out, "repair/") {
		t.Fatalf("repair: %s", out)
	}
	f.ok("repair", "update", "-c", "prod", "repair/weekly", "--parallel", "1")
	out = f.ok("info", "-c", "prod", "repair/weekly")
	if !strings.Contains(out, "weekly") {
		t.Errorf("info:\n%s", out)
	}
	// No repair runs: control fails with the server's answer.
	if _, errs, code := f.sctool("repair", "control", "-c", "prod", "--intensity", "3"); code == 0 || !strings.Contains(errs, "no repair") {
		t.Errorf("repair control with no repair: code %d, stderr %q", code, errs)
	}
	if _, _, code := f.sctool("repair", "control", "-c", "prod"); code == 0 {
		t.Error("repair control without flags succeeded")
	}

	// A repair that starts now: progress --follow draws the live bar (in
	// token ranges) while it runs; progress prints the header and the
	// per-table table.
	out = f.ok("repair", "-c", "prod", "-K", "ks", "--name", "now")
	if !strings.HasPrefix(out, "repair/") {
		t.Fatalf("repair: %s", out)
	}
	out = f.followDone("repair/now", func(bar string) bool { // in token ranges, not bytes
		return (strings.Contains(bar, "░") || strings.Contains(bar, "█")) && !strings.Contains(bar, "B/")
	})
	for _, want := range []string{"Run:\t\t", "Duration:\t", "Progress:\t[████", "] 100% ", "Intensity:\t", "Parallel:\t",
		"│ Keyspace │ Table │ Progress │ Duration │", "│ ks       │ t     │ 100%     │"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress repair/now lacks %q:\n%s", want, out)
		}
	}
	out = f.ok("progress", "-c", "prod", "repair/now", "--details")
	if !strings.Contains(out, "\nHost: ") {
		t.Errorf("progress --details lacks the per-host tables:\n%s", out)
	}
}
