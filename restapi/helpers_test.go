package restapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/healthcheck"
	"github.com/scyllaops/scyllaops/internal/schemacheck"
	"github.com/scyllaops/scyllaops/restapi"
	"github.com/scyllaops/scyllaops/scyllatest"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/memstore"
)

type env struct {
	t       *testing.T
	srv     *httptest.Server
	m       *scyllaops.Manager
	st      store.Store
	schemas *schemacheck.Set
	client  *restapi.Client
}

func loadSchemas(t *testing.T) *schemacheck.Set {
	t.Helper()
	s, err := schemacheck.Load(os.DirFS("testdata"), "schemas")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newEnv starts the handler over a Manager on memstore.
func newEnv(t *testing.T, opts scyllaops.Options) *env {
	t.Helper()
	return newEnvWith(t, opts, nil)
}

// newSimEnv starts the handler over a Manager that reaches an in-process
// simulated cluster; it returns the env and the cluster.
func newSimEnv(t *testing.T, so scyllatest.Options) (*env, *scyllatest.Cluster) {
	t.Helper()
	sc := scyllatest.New(t, so)
	// A generous ping timeout: a loaded test machine must not turn a
	// node's status into TIMEOUT.
	return newEnvWith(t, scyllaops.Options{CQLDial: sc.CQLDialer().DialContext, Healthcheck: healthcheck.Options{Timeout: 15 * time.Second}}, sc.Transport()), sc
}

func newEnvWith(t *testing.T, opts scyllaops.Options, transport http.RoundTripper) *env {
	t.Helper()
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	m, err := scyllaops.New(st, transport, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	srv := httptest.NewServer(restapi.NewHandler(m, restapi.Options{Version: "test-1.0"}))
	t.Cleanup(srv.Close)
	c, err := restapi.NewClient(srv.URL+"/api/v1", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, srv: srv, m: m, st: st, schemas: loadSchemas(t), client: c}
}

// do sends a request with body (none when empty) and returns the answer.
func (e *env) do(method, path, body string) *http.Response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

// call sends a request. reqSchema (if set) validates the body first;
// respSchema (if set) validates the answer; for status >= 400 the answer
// is always validated against "error".
func (e *env) call(method, path, body, reqSchema string, wantStatus int, respSchema string) (*http.Response, []byte) {
	e.t.Helper()
	if reqSchema != "" {
		if err := e.schemas.Validate(reqSchema, []byte(body)); err != nil {
			e.t.Fatalf("request of %s %s does not match %s: %v", method, path, reqSchema, err)
		}
	}
	resp := e.do(method, path, body)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		e.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, resp.StatusCode, wantStatus, b)
	}
	if wantStatus >= 400 {
		respSchema = "error"
	}
	if respSchema != "" {
		if err := e.schemas.Validate(respSchema, b); err != nil {
			e.t.Fatalf("answer of %s %s does not match %s: %v", method, path, respSchema, err)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			e.t.Errorf("%s %s: Content-Type %q, want application/json", method, path, ct)
		}
	}
	return resp, b
}

// errBody decodes an error answer.
func errBody(t *testing.T, b []byte) restapi.ErrorResponse {
	t.Helper()
	var er restapi.ErrorResponse
	if err := json.Unmarshal(b, &er); err != nil {
		t.Fatalf("error body %s: %v", b, err)
	}
	return er
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// addCluster adds the simulated cluster as "sim" and returns its ID.
func (e *env) addCluster(sc *scyllatest.Cluster) string {
	e.t.Helper()
	body := mustJSON(e.t, restapi.Cluster{Name: "sim", Host: sc.ContactHost(), AuthToken: sc.AuthToken()})
	resp, _ := e.call("POST", "/api/v1/clusters", body, "cluster", http.StatusCreated, "")
	return strings.TrimPrefix(resp.Header.Get("Location"), "/api/v1/cluster/")
}

// status sends a bodiless request and returns the answer's status, for
// calls whose status depends on timing.
func (e *env) status(method, path string) int {
	e.t.Helper()
	resp := e.do(method, path, "")
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}
