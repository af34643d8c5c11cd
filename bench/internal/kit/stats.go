package kit

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Median returns the median of ds (0 for none).
func Median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Pick returns f of every element of ss.
func Pick[S any](ss []S, f func(S) time.Duration) []time.Duration {
	out := make([]time.Duration, len(ss))
	for i, s := range ss {
		out[i] = f(s)
	}
	return out
}

// Verdict is "MET" or "MISSED".
func Verdict(ok bool) string {
	if ok {
		return "MET"
	}
	return "MISSED"
}

// RcloneVersion is the first line of `rclone version` of the binary.
func RcloneVersion(bin string) string {
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		return bin + " ?"
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return bin + ": " + line
}

// RcloneCmd is an rclone command line of bin with its config taken only
// from env (RCLONE_CONFIG_<REMOTE>_*), without AWS_CA_BUNDLE (Debian's
// rclone 1.60 S3 backend fails when it is set).
func RcloneCmd(bin string, env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "RCLONE_CONFIG=/dev/null")
	cmd.Env = slices.DeleteFunc(cmd.Env, func(e string) bool { return strings.HasPrefix(e, "AWS_CA_BUNDLE=") })
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// Timed runs cmd followed by sync(2) and returns the wall time of both and
// cmd's CPU time (user+system).
func Timed(cmd *exec.Cmd) (time.Duration, time.Duration, error) {
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, out.String())
	}
	syscall.Sync()
	d := time.Since(start)
	return d, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), nil
}

// Uptime is the load line of uptime(1) (the machine may be shared).
func Uptime() string {
	out, err := exec.Command("uptime").Output()
	if err != nil {
		return "uptime ?"
	}
	return strings.TrimSpace(string(out))
}
