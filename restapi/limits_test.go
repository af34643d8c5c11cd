package restapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/scyllaops/scyllaops"
)

// Input the API refuses at the door: over-long names (the error says the
// limit), unknown top-level fields of cluster and task bodies, bodies
// over the limit (413), and wrong methods on known paths (405 + Allow).
func TestInputLimits(t *testing.T) {
	e := newEnv(t, scyllaops.Options{SkipConnectivityCheck: true})
	e.call("POST", "/api/v1/clusters", `{"name":"c1","host":"10.0.0.1"}`, "cluster", http.StatusCreated, "")
	long := strings.Repeat("n", 10<<10)
	for _, tc := range []struct {
		name, method, path, body, want string
	}{
		{"cluster name 10KB", "POST", "/api/v1/clusters", `{"name":"` + long + `","host":"10.0.0.2"}`, "at most 255 bytes"},
		{"cluster name 256B", "POST", "/api/v1/clusters", `{"name":"` + long[:256] + `","host":"10.0.0.2"}`, "cluster.name"},
		{"cluster rename 10KB", "PUT", "/api/v1/cluster/c1", `{"name":"` + long + `","host":"10.0.0.1"}`, "at most 255 bytes"},
		{"task name 10KB", "POST", "/api/v1/cluster/c1/tasks", `{"type":"healthcheck","name":"` + long + `"}`, "task.name"},
		{"cluster unknown field", "POST", "/api/v1/clusters", `{"name":"c2","host":"10.0.0.2","hots":"x"}`, `unknown field "hots"`},
		{"cluster update unknown field", "PUT", "/api/v1/cluster/c1", `{"name":"c1","host":"10.0.0.1","admin":true}`, `unknown field "admin"`},
		{"task unknown field", "POST", "/api/v1/cluster/c1/tasks", `{"type":"healthcheck","enabeld":true}`, `unknown field "enabeld"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, b := e.call(tc.method, tc.path, tc.body, "", http.StatusBadRequest, "")
			if er := errBody(t, b); !strings.Contains(er.Message, tc.want) {
				t.Errorf("error %q does not mention %q", er.Message, tc.want)
			}
		})
	}
	// A name of exactly the limit is fine; a task echoing id and
	// cluster_id (as read back) is accepted.
	e.call("POST", "/api/v1/clusters", `{"name":"`+long[:255]+`","host":"10.0.0.3"}`, "", http.StatusCreated, "")
	e.call("POST", "/api/v1/cluster/c1/tasks", `{"type":"healthcheck","id":"x","cluster_id":"y","enabled":true,"properties":{"mode":"cql"}}`, "", http.StatusCreated, "")

	// 1 MB name and a body over the 4 MiB limit: 413.
	huge := `{"name":"` + strings.Repeat("n", 5<<20) + `","host":"10.0.0.2"}`
	_, b := e.call("POST", "/api/v1/clusters", huge, "", http.StatusRequestEntityTooLarge, "")
	if er := errBody(t, b); !strings.Contains(er.Message, "at most") {
		t.Errorf("413 body %q does not say the limit", er.Message)
	}
	_, b = e.call("POST", "/api/v1/clusters", `{"name":"`+strings.Repeat("n", 1<<20)+`","host":"10.0.0.2"}`, "", http.StatusBadRequest, "")
	if er := errBody(t, b); !strings.Contains(er.Message, "at most 255 bytes") {
		t.Errorf("1 MB name: %q", er.Message)
	}

	// Wrong method on a known path: 405 with Allow.
	for _, tc := range []struct{ method, path, allow string }{
		{"DELETE", "/api/v1/clusters", "GET, HEAD, POST"},
		{"POST", "/api/v1/cluster/c1", "GET, HEAD, PUT, DELETE"},
		{"PATCH", "/api/v1/cluster/c1/tasks", "GET, HEAD, POST"},
		{"POST", "/api/v1/cluster/c1/task/backup/0f3e5a9c-7c6e-4f39-9f0e-3c1b2a4d5e6f/history", "GET, HEAD"},
	} {
		resp, b := e.call(tc.method, tc.path, "", "", http.StatusMethodNotAllowed, "")
		if got := resp.Header.Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
		if er := errBody(t, b); !strings.Contains(er.Message, "not allowed") {
			t.Errorf("%s %s: %q", tc.method, tc.path, er.Message)
		}
	}
	// Unknown paths stay 404.
	e.call("DELETE", "/api/v1/nothing", "", "", http.StatusNotFound, "")
	cs, err := e.m.ListClusters(t.Context())
	if err != nil || len(cs) != 2 {
		t.Errorf("clusters after refused input: %d (%v), want 2", len(cs), err)
	}
}
