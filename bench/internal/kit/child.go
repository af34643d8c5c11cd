package kit

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/scyllaops/scyllaops/agent"
)

// ChildConfig is what the parent passes to the agent process (as JSON in
// the environment variable ChildEnv).
type ChildConfig struct {
	Token      string `json:"token"`
	DataDir    string `json:"data_dir"`
	LocalPath  string `json:"local_path"`
	S3Endpoint string `json:"s3_endpoint"`
	S3Key      string `json:"s3_key"`
	S3Secret   string `json:"s3_secret"`
	CPUProfile string `json:"cpu_profile"`
	MemProfile string `json:"mem_profile"`
}

// ChildEnv is the environment variable that puts a benchmark binary in
// agent child mode (see RunChild).
const ChildEnv = "SCYLLAOPS_BENCH_AGENT_CHILD"

// RunChild serves the real agent handler over TCP+TLS on a loopback port,
// prints "ADDR <host:port>" on stdout and serves until stdin closes.
func RunChild(cfgJSON string) error {
	var cfg ChildConfig
	if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
		return fmt.Errorf("child config: %w", err)
	}
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	if cfg.MemProfile != "" {
		// The allocation profile at exit, and the heap profile at the
		// largest heap seen (sampled every 50 ms) in <file>.peak.
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			peakHeapProfile(cfg.MemProfile+".peak", stop)
		}()
		defer func() {
			close(stop)
			<-done
			if f, err := os.Create(cfg.MemProfile); err == nil {
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	a, err := agent.New(agent.Options{
		AuthToken: cfg.Token,
		DataDir:   cfg.DataDir,
		Storage: agent.StorageOptions{
			LocalStoragePath: cfg.LocalPath,
			S3: agent.S3Options{Endpoint: cfg.S3Endpoint, Region: "us-east-1", AccessKeyID: cfg.S3Key,
				SecretAccessKey: cfg.S3Secret, ForcePathStyle: true},
		},
		Version: "bench",
	})
	if err != nil {
		return err
	}
	defer a.Close()
	cert, err := agent.SelfSignedCert("127.0.0.1")
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: a, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	fmt.Printf("ADDR %s\n", ln.Addr())
	// Serve until the parent closes our stdin (or dies).
	_, _ = io.Copy(io.Discard, os.Stdin)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// AgentProc is the agent child process seen from the parent.
type AgentProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	Addr  string
	Port  int
}

// StartAgent starts this binary in child mode and waits for its address.
func StartAgent(cfg ChildConfig) (*AgentProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), ChildEnv+"="+string(b))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &AgentProc{cmd: cmd, stdin: stdin}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		p.Stop()
		return nil, fmt.Errorf("agent child did not report its address: %w", err)
	}
	if !strings.HasPrefix(line, "ADDR ") {
		p.Stop()
		return nil, fmt.Errorf("agent child did not report its address: got %q", line)
	}
	p.Addr = strings.TrimSpace(strings.TrimPrefix(line, "ADDR "))
	_, port, err := net.SplitHostPort(p.Addr)
	if err != nil {
		p.Stop()
		return nil, err
	}
	p.Port, _ = strconv.Atoi(port)
	return p, nil
}

// Stop closes the child's stdin and waits for it to exit.
func (p *AgentProc) Stop() error {
	p.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		return <-done
	}
}

// PID is the child's process id.
func (p *AgentProc) PID() int { return p.cmd.Process.Pid }

// ResetPeakRSS resets VmHWM of pid (Linux clear_refs "5").
func ResetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// PeakRSS returns VmHWM of pid in bytes.
func PeakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(v)
			if len(f) >= 1 {
				n, err := strconv.ParseInt(f[0], 10, 64)
				return n * 1024, err
			}
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}

// CPUTime returns user+system CPU time of pid so far (from /proc/pid/stat).
func CPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("bad /proc stat")
	}
	f := strings.Fields(s[i+1:])
	// Fields after the command: state is f[0]; utime, stime are stat fields
	// 14 and 15, i.e. f[11] and f[12].
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(u+st) * time.Second / clkTck, nil
}

// peakHeapProfile writes the heap profile to path whenever the heap
// reaches a new maximum (checked every 50 ms) until stop closes.
func peakHeapProfile(path string, stop <-chan struct{}) {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		metrics.Read(s)
		if v := s[0].Value.Uint64(); v > peak+peak/20 {
			peak = v
			if f, err := os.Create(path); err == nil {
				_ = pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
		}
	}
}
