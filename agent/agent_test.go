package agent_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"

	"github.com/scyllaops/scyllaops/agent"
	"github.com/scyllaops/scyllaops/internal/testenv"
)

// scyllaStub answers every request with its path, so proxying is visible.
type scyllaStub struct{}

func (scyllaStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "" {
		http.Error(w, "auth header leaked", http.StatusTeapot)
		return
	}
	_ = json.NewEncoder(w).Encode(r.URL.Path + "?" + r.URL.RawQuery)
}

func newAgent(t *testing.T, opts agent.Options) (*agent.Agent, *prometheus.Registry) {
	t.Helper()
	scylla := httptest.NewServer(scyllaStub{})
	t.Cleanup(scylla.Close)
	reg := prometheus.NewPedanticRegistry()
	if opts.ScyllaAPI == "" {
		opts.ScyllaAPI = scylla.URL
	}
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	if opts.AuthPenalty == 0 {
		opts.AuthPenalty = time.Millisecond
	}
	opts.Registerer = reg
	a, err := agent.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a, reg
}

func do(a http.Handler, method, target, auth, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	a.ServeHTTP(w, r)
	return w
}

func TestAuthHeader(t *testing.T) {
	a, reg := newAgent(t, agent.Options{AuthToken: "tok"})
	for _, tc := range []struct {
		auth string
		code int
	}{
		{"Bearer tok", 200}, {"bearer tok", 200}, {"BEARER tok", 200},
		{"", 401}, {"Bearer", 401}, {"Bearer tok2", 401}, {"Bearer to", 401}, {"Basic tok", 401}, {"tok", 401},
	} {
		w := do(a, http.MethodGet, "/storage_service/cluster_name", tc.auth, "")
		if w.Code != tc.code {
			t.Errorf("Authorization %q: status %d, want %d", tc.auth, w.Code, tc.code)
		}
		if tc.code == 401 && strings.TrimSpace(w.Body.String()) != `{"message":"unauthorized","code":401}` {
			t.Errorf("401 body = %q", w.Body.String())
		}
		if tc.code == 200 && !strings.Contains(w.Body.String(), "/storage_service/cluster_name") {
			t.Errorf("proxied body = %q", w.Body.String())
		}
	}
	if w := do(a, http.MethodGet, "/ping", "", ""); w.Code != http.StatusNoContent {
		t.Errorf("ping = %d", w.Code)
	}
	if got := counterValue(t, reg, "GET", "/storage_service/cluster_name", "401"); got != 6 {
		t.Errorf("401 counter = %v, want 6", got)
	}
}

// counterValue returns one series of scylla_manager_agent_http_status_code.
func counterValue(t *testing.T, reg *prometheus.Registry, method, path, code string) float64 {
	t.Helper()
	v, n := testenv.MetricSum(t, reg, "scylla_manager_agent_http_status_code", map[string]string{"method": method, "path": path, "code": code})
	if n == 0 {
		t.Fatalf("no series %s %s %s", method, path, code)
	}
	return v
}

func TestAuthPenalty(t *testing.T) {
	a, _ := newAgent(t, agent.Options{AuthToken: "tok", AuthPenalty: 50 * time.Millisecond})
	start := time.Now()
	w := do(a, http.MethodGet, "/storage_service/host_id", "Bearer nope", "")
	if w.Code != 401 || time.Since(start) < 50*time.Millisecond {
		t.Fatalf("wrong token answered %d after %s, want 401 after the penalty", w.Code, time.Since(start))
	}
}

func TestNoAuthAndProxyQuery(t *testing.T) {
	a, _ := newAgent(t, agent.Options{})
	w := do(a, http.MethodGet, "/snitch/datacenter?host=10.0.0.1", "", "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), "/snitch/datacenter?host=10.0.0.1") {
		t.Fatalf("proxy = %d %q", w.Code, w.Body.String())
	}
	if w := do(a, http.MethodGet, "/agent/nope", "", ""); w.Code != 404 {
		t.Fatalf("/agent/nope = %d, want 404", w.Code)
	}
	if w := do(a, http.MethodGet, "/agent/pin_cpu", "", ""); w.Code != 200 || !strings.Contains(w.Body.String(), `"cpu":[0`) {
		t.Fatalf("pin_cpu = %d %q", w.Code, w.Body.String())
	}
}

func TestProxyScyllaDown(t *testing.T) {
	a, _ := newAgent(t, agent.Options{ScyllaAPI: "http://127.0.0.1:1"})
	w := do(a, http.MethodGet, "/storage_service/host_id", "", "")
	if w.Code != http.StatusBadGateway || !strings.Contains(w.Body.String(), "scylla api") {
		t.Fatalf("scylla down = %d %q", w.Code, w.Body.String())
	}
}

func TestCloseStopsJobs(t *testing.T) {
	dataDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dataDir, "ks", "t"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, "ks", "t", "f"), make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	bk := memblob.OpenBucket(nil)
	t.Cleanup(func() { _ = bk.Close() })
	a, err := agent.New(agent.Options{DataDir: dataDir, OpenBucket: func(context.Context, string, string) (*blob.Bucket, error) { return bk, nil }})
	if err != nil {
		t.Fatal(err)
	}
	w := do(a, http.MethodPost, "/agent/rclone/sync/copydir?_async=true", "", `{"srcFs":"data:","srcRemote":"ks","dstFs":"s3:b","dstRemote":"x","bandwidth_rate":"8k"}`)
	if w.Code != 200 || w.Header().Get("X-Rclone-Jobid") == "" {
		t.Fatalf("copydir = %d %q", w.Code, w.Body.String())
	}
	var j struct {
		JobID int64 `json:"jobid"`
	}
	_ = json.Unmarshal(w.Body.Bytes(), &j)
	if err := a.Close(); err != nil { // must cancel the 128 s upload and wait for it
		t.Fatal(err)
	}
	if w := do(a, http.MethodGet, "/ping", "", ""); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("after Close: %d", w.Code)
	}
	if ok, _ := bk.Exists(t.Context(), "x/t/f"); ok {
		t.Fatal("canceled upload left an object")
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, o := range []agent.Options{
		{ScyllaAPI: "localhost:10000"}, {ScyllaAPI: "ftp://x"}, {Transfers: -1}, {BandwidthLimit: -5}, {JobTTL: -1},
	} {
		if _, err := agent.New(o); err == nil || !strings.HasPrefix(err.Error(), "agent: invalid Options.") {
			t.Errorf("New(%+v) = %v, want an invalid option error", o, err)
		}
	}
}

func TestSelfSignedCert(t *testing.T) {
	c, err := agent.SelfSignedCert("node1", "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := c.Leaf.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		t.Fatalf("key = %T, want EC P-256", c.Leaf.PublicKey)
	}
	if d := c.Leaf.NotAfter.Sub(c.Leaf.NotBefore); d < 364*24*time.Hour || d > 367*24*time.Hour {
		t.Fatalf("validity = %s, want one year", d)
	}
	if err := c.Leaf.VerifyHostname("10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if err := c.Leaf.VerifyHostname("node1"); err != nil {
		t.Fatal(err)
	}
}
