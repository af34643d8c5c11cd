package restapi_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/restapi"
	"github.com/scyllaops/scyllaops/store/memstore"
)

// fuzzHandler is the REST handler over a Manager on memstore with one
// cluster, "c1".
func fuzzHandler(f *testing.F) http.Handler {
	f.Helper()
	st := memstore.New()
	f.Cleanup(func() { _ = st.Close() })
	m, err := scyllaops.New(st, nil, scyllaops.Options{SkipConnectivityCheck: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = m.Close() })
	if _, err := m.CreateCluster(f.Context(), scyllaops.Cluster{Name: "c1", Host: "127.0.0.1"}); err != nil {
		f.Fatal(err)
	}
	return restapi.NewHandler(m, restapi.Options{Logger: slog.New(slog.DiscardHandler)})
}

// serve sends one request and checks the answer is a success or a client
// error, never a 5xx (a panic in the handler is a 500).
func serve(t *testing.T, h http.Handler, method, path, body string, ok ...int) {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), method, path, strings.NewReader(body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code >= 500 {
		t.Fatalf("%s %s %q: status %d: %s", method, path, body, rec.Code, rec.Body.String())
	}
	if rec.Code >= 300 && rec.Code != http.StatusBadRequest && rec.Code != http.StatusConflict &&
		rec.Code != http.StatusRequestEntityTooLarge && rec.Code != http.StatusNotFound {
		t.Fatalf("%s %s %q: unexpected status %d: %s", method, path, body, rec.Code, rec.Body.String())
	}
	for _, c := range ok {
		if rec.Code == c {
			return
		}
	}
	if len(ok) > 0 && rec.Code < 300 {
		t.Fatalf("%s %s: status %d, want one of %v", method, path, rec.Code, ok)
	}
}

func FuzzClusterBody(f *testing.F) {
	for _, s := range []string{
		`{"name":"c2","host":"10.0.0.2"}`,
		`{"name":"c2","host":"10.0.0.2","port":10001,"auth_token":"t","username":"u","password":"p","labels":{"a":"b"}}`,
		`{"name":"c2","host":"10.0.0.2","ssl_user_cert_file":"AAAA","ssl_user_key_file":"AAAA"}`,
		`{"name":"0f3e5a9c-7c6e-4f39-9f0e-3c1b2a4d5e6f","host":"h"}`,
		`{"name":"c2","host":"h:1"}`, `{"id":"x"}`, `{"hots":1}`, `[]`, `null`, ``, `{"name":"c2"}{}`,
	} {
		f.Add(s)
	}
	h := fuzzHandler(f)
	f.Fuzz(func(t *testing.T, body string) {
		serve(t, h, "POST", "/api/v1/clusters", body, http.StatusCreated)
		serve(t, h, "PUT", "/api/v1/cluster/c1", body, http.StatusOK)
	})
}

// FuzzTaskBody: the handler's Manager has no reachable agents, so seeds
// avoid valid backup locations (their creation would wait on the agents).
func FuzzTaskBody(f *testing.F) {
	for _, s := range []string{
		`{"type":"healthcheck","properties":{"mode":"cql"}}`,
		`{"type":"healthcheck","enabled":true,"schedule":{"cron":"0 3 * * *","window":["01:00","05:00"]},"properties":{"mode":"rest"}}`,
		`{"type":"backup","properties":{"location":["dc1:s3:a..b"]}}`,
		`{"type":"validate_backup","properties":{"location":["gcs:a"]}}`,
		`{"type":"backup","schedule":{"cron":"{\"spec\":\"@daily\",\"start_date\":\"2030-01-01T00:00:00Z\"}","num_retries":3,"retry_wait":"10m"}}`,
		`{"type":"suspend","properties":{"duration":"1h"}}`,
		`{"type":"x","id":"y","cluster_id":"z"}`, `{"enabeld":true}`, `{}`, `[1]`, `"s"`,
	} {
		f.Add(s)
	}
	h := fuzzHandler(f)
	f.Fuzz(func(t *testing.T, body string) {
		serve(t, h, "POST", "/api/v1/cluster/c1/tasks", body, http.StatusCreated)
	})
}
