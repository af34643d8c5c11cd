package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestServicesInstallFailureReport runs services.sh's install step with a
// failing, noisy step: its own error is printed first, before the logs.
func TestServicesInstallFailureReport(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("bash: %v", err)
	}
	out, err := exec.CommandContext(t.Context(), bash, "testdata/services_fail.sh", "../services.sh").CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	lines := strings.Split(string(out), "\n")
	if len(lines) < 2 || !strings.Contains(lines[0], "install rclone: apt-get install rclone failed (exit 100)") ||
		!strings.Contains(lines[1], "Could not get lock") {
		t.Fatalf("report does not start with the failing step's error:\n%s", out)
	}
	if strings.Contains(lines[1], "tar:") {
		t.Fatalf("tar warnings before the error:\n%s", out)
	}
}
