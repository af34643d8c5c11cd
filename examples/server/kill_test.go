package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"

	"github.com/scyllaops/scyllaops/restapi"
	"github.com/scyllaops/scyllaops/scyllatest"
)

// proc is a running server process.
type proc struct {
	cmd  *exec.Cmd
	http string // bound API and /metrics addresses, from the "serving" line
	prom string
	done chan struct{} // closed when its stderr ends

	mu      sync.Mutex
	last    []string        // the latest log lines
	msgs    map[string]bool // every "msg" logged
	nonJSON []string        // log lines that are not JSON
}

// logged reports whether p logged a line with this msg.
func (p *proc) logged(msg string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.msgs[msg]
}

// notJSON returns p's log lines that are not JSON objects.
func (p *proc) notJSON() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.nonJSON)
}

// tail returns the last n log lines of p.
func (p *proc) tail(n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.last[max(0, len(p.last)-n):], "\n")
}

// startProc starts bin with cfgFile and waits for its "serving" line.
func startProc(t *testing.T, bin, cfgFile string) *proc {
	t.Helper()
	return startProcs(t, bin, cfgFile)[0]
}

// startProcs starts one server per config file at once, then waits for
// each one's "serving" line.
func startProcs(t *testing.T, bin string, cfgFiles ...string) []*proc {
	t.Helper()
	procs := make([]*proc, len(cfgFiles))
	addrs := make([]chan [2]string, len(cfgFiles))
	for i, cfgFile := range cfgFiles {
		cmd := exec.Command(bin, "-c", cfgFile)
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		p := &proc{cmd: cmd, done: make(chan struct{}), msgs: map[string]bool{}}
		addr := make(chan [2]string, 1)
		go func() {
			defer close(p.done)
			sc := bufio.NewScanner(stderr)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				p.mu.Lock()
				p.last = append(p.last, sc.Text())
				if len(p.last) > 400 {
					p.last = p.last[200:]
				}
				var m map[string]any
				if json.Unmarshal(sc.Bytes(), &m) != nil {
					p.nonJSON = append(p.nonJSON, sc.Text())
				}
				msg, _ := m["msg"].(string)
				p.msgs[msg] = true
				p.mu.Unlock()
				if msg == "serving" {
					h, _ := m["http"].(string)
					pr, _ := m["prometheus"].(string)
					addr <- [2]string{h, pr}
				}
			}
		}()
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			<-p.done
			_ = cmd.Wait()
		})
		procs[i], addrs[i] = p, addr
	}
	timeout := time.After(2 * time.Minute)
	for i, p := range procs {
		select {
		case a := <-addrs[i]:
			p.http, p.prom = a[0], a[1]
		case <-p.done:
			t.Fatalf("server %s exited before serving:\n%s", cfgFiles[i], p.tail(20))
		case <-timeout:
			t.Fatalf("server %s not serving within two minutes:\n%s", cfgFiles[i], p.tail(20))
		}
	}
	return procs
}

// dirBuckets returns an OpenBucket for scyllatest.Options whose buckets
// are the directories under dir; bucket "b" (location localstorage:b) is
// created.
func dirBuckets(t *testing.T, dir string) func(context.Context, string, string) (*blob.Bucket, error) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	return func(_ context.Context, _, bucket string) (*blob.Bucket, error) {
		return fileblob.OpenBucket(filepath.Join(dir, bucket), &fileblob.Options{NoTempDir: true})
	}
}

// SIGKILL loses nothing that was acknowledged: a cluster and a task
// created before the kill are there after a restart on the same store.
func TestServerSIGKILLKeepsAcknowledgedWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	bin := buildServer(t)
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "server.yaml")
	if err := os.WriteFile(cfgFile, []byte("http: 127.0.0.1:0\nprometheus: '-'\ndata_dir: "+dir+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sc := scyllatest.New(t, scyllatest.Options{Listen: true})
	ctx := t.Context()

	p := startProc(t, bin, cfgFile)
	c, err := restapi.NewClient("http://"+p.http, nil)
	if err != nil {
		t.Fatal(err)
	}
	cid, err := c.CreateCluster(ctx, restapi.Cluster{Name: "sim", Host: sc.ContactHost(), AuthToken: sc.AuthToken()})
	if err != nil {
		t.Fatal(err)
	}
	props := json.RawMessage(`{"mode":"rest"}`)
	tid, err := c.CreateTask(ctx, "sim", restapi.TaskUpdate{Type: "healthcheck", Name: "probe", Enabled: true,
		Schedule: &restapi.Schedule{Cron: "0 3 * * *"}, Properties: props})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.done
	_ = p.cmd.Wait()

	p2 := startProc(t, bin, cfgFile)
	c2, err := restapi.NewClient("http://"+p2.http, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c2.GetCluster(ctx, cid)
	if err != nil || got.Name != "sim" || got.AuthToken != "set" {
		t.Fatalf("cluster after SIGKILL and restart = %+v, %v", got, err)
	}
	task, err := c2.GetTask(ctx, "sim", "healthcheck", tid)
	if err != nil || task.Name != "probe" || restapi.CronSpec(task.Schedule.Cron) != "0 3 * * *" {
		t.Fatalf("task after SIGKILL and restart = %+v, %v", task, err)
	}
}
