package agentclient_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/scyllaops/scyllaops/agentclient"
)

// rcloneAgent answers the rc calls as Scylla Manager's agent (rclone rc,
// 3.12–3.13) does, where that differs from ours (reference §3.1):
// operations/list Paths relative to fs with "ModTime":"" for noModTime,
// 500 "job not found" / 404 for unknown jobs, and core/bwlimit refusing
// an empty rate.
type rcloneAgent struct {
	files   map[string]int64 // "bucket/key" -> size
	version string           // of GET /version; default "3.13.0"

	mu     sync.Mutex
	bodies map[string][]string // call -> raw request bodies
}

func (a *rcloneAgent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/version" {
		v := a.version
		if v == "" {
			v = "3.13.0"
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"version": v})
		return
	}
	call := strings.TrimPrefix(r.URL.Path, "/agent/rclone/")
	b, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	if a.bodies == nil {
		a.bodies = map[string][]string{}
	}
	a.bodies[call] = append(a.bodies[call], string(b))
	a.mu.Unlock()
	var in map[string]any
	_ = json.Unmarshal(b, &in)
	w.Header().Set("X-Rclone-Jobid", "0")
	fail := func(code int, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": msg, "input": in, "path": call, "status": code})
	}
	switch call {
	case "operations/list":
		fs, _ := in["fs"].(string)
		remote, _ := in["remote"].(string)
		_, root, _ := strings.Cut(fs, ":")
		root = strings.Trim(root, "/")
		dir := strings.Trim(root+"/"+remote, "/") + "/"
		var items []string
		for k, size := range a.files {
			if !strings.HasPrefix(k, dir) {
				continue
			}
			rel := strings.TrimPrefix(k, root+"/") // relative to fs, not to remote
			name := rel[strings.LastIndex(rel, "/")+1:]
			items = append(items, fmt.Sprintf(`{"Path":%q,"Name":%q,"Size":%d,"MimeType":"application/octet-stream","ModTime":"","IsDir":false,"Tier":"STANDARD"}`, rel, name, size))
		}
		sort.Strings(items)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"list":[`+strings.Join(items, ",")+"]}\n")
	case "job/progress", "job/info":
		if wait, _ := in["wait"].(float64); wait > 0 {
			fail(http.StatusNotFound, "job not found")
			return
		}
		fail(http.StatusInternalServerError, "job not found")
	case "core/bwlimit":
		rate, ok := in["rate"]
		if ok && rate == "" {
			fail(http.StatusInternalServerError, "bad bwlimit: empty string")
			return
		}
		if !ok {
			rate = "off"
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"rate": rate, "bytesPerSecond": -1, "bytesPerSecondRx": -1, "bytesPerSecondTx": -1})
	case "sync/movedir", "sync/copydir", "sync/copypaths":
		_ = json.NewEncoder(w).Encode(map[string]int{"jobid": len(a.calls(call))})
	case "core/transfers":
		_ = json.NewEncoder(w).Encode(in)
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"message":"Not found","status":404}`)
	}
}

func (a *rcloneAgent) calls(name string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.bodies[name]...)
}

func TestRcloneAgentList(t *testing.T) {
	ra := &rcloneAgent{files: map[string]int64{
		"b/backup/meta/cluster/x/dc/dc1/node/n1/task_t_tag_sm_20250101000000UTC_manifest.json.gz": 10,
		"b/backup/meta/cluster/x/dc/dc1/node/n2/task_t_tag_sm_20250101000000UTC_manifest.json.gz": 20,
		"b/backup/sst/other": 1,
	}}
	c := newTestClient(t, ra, agentclient.Options{RetryMax: -1})
	var got []agentclient.ListItem
	err := c.List(t.Context(), "h1", agentclient.ListOptions{Fs: "s3:b", Remote: "backup/meta/cluster/x",
		Opt: &agentclient.ListOpt{Recurse: true, FilesOnly: true, NoModTime: true}}, func(it agentclient.ListItem) error {
		got = append(got, it)
		return nil
	})
	if err != nil {
		t.Fatalf(`List: %v ("ModTime":"" must decode)`, err)
	}
	// Paths relative to the listed directory, as callers join them.
	want := []agentclient.ListItem{
		{Path: "dc/dc1/node/n1/task_t_tag_sm_20250101000000UTC_manifest.json.gz", Name: "task_t_tag_sm_20250101000000UTC_manifest.json.gz", Size: 10, MimeType: "application/octet-stream"},
		{Path: "dc/dc1/node/n2/task_t_tag_sm_20250101000000UTC_manifest.json.gz", Name: "task_t_tag_sm_20250101000000UTC_manifest.json.gz", Size: 20, MimeType: "application/octet-stream"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("List (-want +got):\n%s", d)
	}
	// Like Scylla Manager: the whole path in fs, an empty remote.
	bodies := ra.calls("operations/list")
	if len(bodies) != 1 || !strings.Contains(bodies[0], `"fs":"s3:b/backup/meta/cluster/x"`) || !strings.Contains(bodies[0], `"remote":""`) {
		t.Fatalf("list requests = %q, want one with the whole path in fs and an empty remote", bodies)
	}
}

func TestRcloneAgentJobNotFound(t *testing.T) {
	ra := &rcloneAgent{}
	c := newTestClient(t, ra, agentclient.Options{RetryMax: 3})
	for _, wait := range []int{0, 10} {
		pr, err := c.JobProgress(t.Context(), "h1", 42, secs(wait))
		if err != nil || pr.Status != agentclient.JobNotFound {
			t.Fatalf("wait %d: JobProgress = %+v, %v; want status %q", wait, pr, err, agentclient.JobNotFound)
		}
		if _, err = c.JobInfo(t.Context(), "h1", 42, secs(wait)); !errors.Is(err, agentclient.ErrNotFound) {
			t.Fatalf("wait %d: JobInfo = %v, want ErrNotFound", wait, err)
		}
	}
	// Not retried: one request per call.
	if n, m := len(ra.calls("job/progress")), len(ra.calls("job/info")); n != 2 || m != 2 {
		t.Fatalf("requests: %d job/progress, %d job/info; want 2 each (no retries)", n, m)
	}
}

func TestRcloneAgentBwLimitQuery(t *testing.T) {
	ra := &rcloneAgent{}
	c := newTestClient(t, ra, agentclient.Options{RetryMax: -1})
	if rate, err := c.BwLimit(t.Context(), "h1", ""); err != nil || rate != "off" {
		t.Fatalf("BwLimit query = %q, %v; want off", rate, err)
	}
	if rate, err := c.BwLimit(t.Context(), "h1", "10M"); err != nil || rate != "10M" {
		t.Fatalf("BwLimit set = %q, %v; want 10M", rate, err)
	}
	if bodies := ra.calls("core/bwlimit"); len(bodies) != 2 || strings.Contains(bodies[0], "rate") {
		t.Fatalf("bwlimit requests = %q, want the query without rate", bodies)
	}
}

func secs(n int) time.Duration { return time.Duration(n) * time.Second }

// TestRcloneAgentLimitsAgentWide: Scylla Manager's agent applies
// bandwidth_rate and transfers to every running job, so against it they
// are set once per host (core/bwlimit, core/transfers) and not sent per
// job; against ours they stay per job.
func TestRcloneAgentLimitsAgentWide(t *testing.T) {
	for _, tc := range []struct {
		version   string
		agentWide bool
	}{{"3.13.0", true}, {"3.12.1-0.20240515.5d3a2b1c", true}, {"scyllaops-agent-0.1.0", false}, {"", false}} {
		ra := &rcloneAgent{version: tc.version}
		if tc.version == "" {
			ra.version = "test"
		}
		c := newTestClient(t, ra, agentclient.Options{RetryMax: -1})
		o := agentclient.SyncOptions{SrcFs: "data:", SrcRemote: "ks/t", DstFs: "s3:b", DstRemote: "x", BandwidthRate: "100M", Transfers: 2}
		for range 3 {
			if _, err := c.MoveDir(t.Context(), "h1", o); err != nil {
				t.Fatalf("%s: MoveDir: %v", tc.version, err)
			}
		}
		if _, err := c.CopyPaths(t.Context(), "h1", agentclient.CopyPathsOptions{SrcFs: "s3:b", DstFs: "data:", Paths: []string{"a"}, BandwidthRate: "100M", Transfers: 2}); err != nil {
			t.Fatalf("%s: CopyPaths: %v", tc.version, err)
		}
		jobs := append(ra.calls("sync/movedir"), ra.calls("sync/copypaths")...)
		bw, tr := ra.calls("core/bwlimit"), ra.calls("core/transfers")
		perJob := 0
		for _, b := range jobs {
			if strings.Contains(b, "bandwidth_rate") || strings.Contains(b, `"transfers"`) {
				perJob++
			}
		}
		if tc.agentWide {
			if len(bw) != 1 || !strings.Contains(bw[0], `"rate":"100M"`) || len(tr) != 1 || !strings.Contains(tr[0], `"transfers":2`) || perJob != 0 {
				t.Errorf("%s: bwlimit %q, transfers %q, %d of %d jobs with per-job limits; want one agent-wide setting each and none per job", tc.version, bw, tr, perJob, len(jobs))
			}
		} else if len(bw) != 0 || len(tr) != 0 || perJob != len(jobs) {
			t.Errorf("%s: bwlimit %q, transfers %q, %d of %d jobs with per-job limits; want per-job limits only", tc.version, bw, tr, perJob, len(jobs))
		}
	}
}
