package agentclient_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"

	"github.com/scyllaops/scyllaops/agent"
	"github.com/scyllaops/scyllaops/agentclient"
)

const testToken = "s3cr3t-token"

// fakeScylla is a small stand-in for the node-local Scylla REST API: canned
// answers for the calls the client makes, and a record of snapshot calls.
type fakeScylla struct {
	mu        sync.Mutex
	snapshots map[string][]string // tag -> keyspaces
	repairs   int
}

func (f *fakeScylla) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	js := func(v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	if r.Header.Get("Authorization") != "" {
		http.Error(w, "agent leaked its auth header to scylla", http.StatusTeapot)
		return
	}
	switch p := r.URL.Path; {
	case p == "/v2/config/listen_address", p == "/v2/config/rpc_address", p == "/v2/config/broadcast_rpc_address":
		js("10.0.0.1")
	case p == "/v2/config/native_transport_port":
		js(9042)
	case p == "/v2/config/data_file_directories":
		js([]string{"/var/lib/scylla/data"})
	case p == "/v2/config/authenticator":
		js("PasswordAuthenticator")
	case p == "/v2/config/client_encryption_options":
		js(map[string]string{"enabled": "true"})
	case p == "/v2/config/uuid_sstable_identifiers_enabled", p == "/v2/config/consistent_cluster_management":
		js(true)
	case p == "/v2/config/object_storage_endpoints":
		js([]string{`{"name":"s3.local","port":9000,"use_https":false}`})
	case len(p) > len("/v2/config/") && p[:len("/v2/config/")] == "/v2/config/":
		http.Error(w, `{"message":"No such config entry","code":400}`, http.StatusBadRequest)
	case p == "/storage_service/scylla_release_version":
		js("2025.1.0-0.20250101.abcdef")
	case p == "/storage_service/host_id":
		js([]map[string]string{{"key": "10.0.0.1", "value": "11111111-1111-1111-1111-111111111111"}, {"key": "10.0.0.2", "value": "22222222-2222-2222-2222-222222222222"}})
	case p == "/gossiper/endpoint/live/":
		js([]string{"10.0.0.1", "10.0.0.2"})
	case p == "/storage_service/nodes/joining", p == "/storage_service/nodes/leaving":
		js([]string{})
	case p == "/snitch/datacenter":
		js("dc-" + r.URL.Query().Get("host"))
	case p == "/snitch/rack":
		js("rack1")
	case p == "/storage_service/cluster_name":
		js("test cluster")
	case p == "/storage_service/keyspaces":
		if r.URL.Query().Get("type") == "user" {
			js([]string{"ks1"})
			return
		}
		js([]string{"system", "ks1"})
	case p == "/column_family/name":
		js([]string{"ks1:t1", "ks1:idx:with:colons"})
	case p == "/storage_service/tokens/10.0.0.1":
		js([]string{"-9000000000000000000", "42"})
	case p == "/storage_service/describe_ring/ks1":
		js([]map[string]any{{"start_token": "-10", "end_token": "42", "endpoints": []string{"10.0.0.1"}, "rpc_endpoints": []string{"10.0.0.1"},
			"endpoint_details": []map[string]string{{"host": "10.0.0.1", "datacenter": "dc1", "rack": "rack1"}}}})
	case p == "/column_family/metrics/total_disk_space_used/ks1:t1":
		js(12345)
	case p == "/storage_service/snapshots":
		f.snapshotsHandler(w, r, js)
	case p == "/storage_service/repair_async/ks1":
		f.mu.Lock()
		f.repairs++
		id := f.repairs
		f.mu.Unlock()
		js(id)
	case p == "/storage_service/repair_status":
		js("SUCCESSFUL")
	case p == "/storage_service/sstables/ks1":
		if r.Method != http.MethodPost || r.URL.Query().Get("cf") != "t1" {
			http.Error(w, "bad load", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
	case p == "/metrics":
		if r.URL.Query().Get("name") != "" {
			http.Error(w, "prometheus takes no name filter", http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "# HELP scylla_database_total_writes_x other\nscylla_database_total_writes_x 7\n"+
			"# HELP scylla_database_total_writes writes\n# TYPE scylla_database_total_writes counter\n"+
			"scylla_database_total_writes{shard=\"0\"} 1\nscylla_database_total_writes{shard=\"1\"} 2\nscylla_memory_total_memory 100\n")
	default:
		http.Error(w, `{"message":"Not found","code":404}`, http.StatusNotFound)
	}
}

func (f *fakeScylla) snapshotsHandler(w http.ResponseWriter, r *http.Request, js func(any)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := r.URL.Query()
	switch r.Method {
	case http.MethodGet:
		out := []map[string]any{}
		for tag, kss := range f.snapshots {
			var v []map[string]any
			for _, ks := range kss {
				v = append(v, map[string]any{"ks": ks, "cf": "t1", "total": 10, "live": 0})
			}
			out = append(out, map[string]any{"key": tag, "value": v})
		}
		js(out)
	case http.MethodPost:
		tag := q.Get("tag")
		for _, ks := range f.snapshots[tag] {
			if ks == q.Get("kn") {
				http.Error(w, `{"message":"Snapshot `+tag+` already exists.","code":500}`, http.StatusInternalServerError)
				return
			}
		}
		f.snapshots[tag] = append(f.snapshots[tag], q.Get("kn"))
		js(nil)
	case http.MethodDelete:
		delete(f.snapshots, q.Get("tag"))
		js(nil)
	}
}

// env is one agent (with fake Scylla, a data dir and fileblob buckets)
// reached through one transport.
type env struct {
	c       *agentclient.Client
	host    string
	dataDir string
	bucket  *blob.Bucket // "s3:backups"
	reg     *prometheus.Registry
	scylla  *fakeScylla
}

type transportKind string

const (
	inProcess transportKind = "inprocess"
	tcpTLS    transportKind = "tcp"
)

var kinds = []transportKind{inProcess, tcpTLS}

// newEnv starts an agent and a client over kind. token is the client's
// token (the agent always requires testToken).
func newEnv(t *testing.T, kind transportKind, token string) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{dataDir: filepath.Join(dir, "data"), reg: prometheus.NewPedanticRegistry(), scylla: &fakeScylla{snapshots: map[string][]string{}}}
	if err := os.MkdirAll(e.dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	var bmu sync.Mutex
	buckets := map[string]*blob.Bucket{}
	openBucket := func(_ context.Context, provider, name string) (*blob.Bucket, error) {
		bmu.Lock()
		defer bmu.Unlock()
		id := provider + ":" + name
		if b, ok := buckets[id]; ok {
			return b, nil
		}
		b, err := fileblob.OpenBucket(filepath.Join(dir, "buckets", provider, name), &fileblob.Options{CreateDir: true, NoTempDir: true})
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { _ = b.Close() })
		buckets[id] = b
		return b, nil
	}
	scyllaTr := agentclient.NewInProcessTransport()
	scyllaTr.Register("127.0.0.1", e.scylla)
	a, err := agent.New(agent.Options{
		AuthToken:       testToken,
		ScyllaTransport: scyllaTr,
		DataDir:         e.dataDir,
		OpenBucket:      openBucket,
		AuthPenalty:     time.Millisecond,
		Version:         "test-1.0",
		Logger:          slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
		Registerer:      e.reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	e.bucket, err = openBucket(t.Context(), "s3", "backups")
	if err != nil {
		t.Fatal(err)
	}
	opts := agentclient.Options{AuthToken: token, RetryMax: -1, Timeout: 30 * time.Second, ListTimeout: 30 * time.Second}
	switch kind {
	case inProcess:
		tr := agentclient.NewInProcessTransport()
		tr.Register("node1", a)
		e.host = "node1"
		e.c, err = agentclient.New(tr, opts)
	case tcpTLS:
		srv := httptest.NewTLSServer(a)
		t.Cleanup(srv.Close)
		host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
		opts.Port, _ = strconv.Atoi(port)
		e.host = host
		e.c, err = agentclient.New(nil, opts)
	}
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// forEachTransport runs fn as a subtest per transport.
func forEachTransport(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	for _, k := range kinds {
		t.Run(string(k), func(t *testing.T) {
			fn(t, newEnv(t, k, testToken))
		})
	}
}

// writeLocal creates a file in the data dir.
func (e *env) writeLocal(t *testing.T, rel string, data []byte) {
	t.Helper()
	p := filepath.Join(e.dataDir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
