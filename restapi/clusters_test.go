package restapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/restapi"
)

func TestPingVersionAndUnknownPath(t *testing.T) {
	e := newEnv(t, scyllaops.Options{SkipConnectivityCheck: true})
	e.call("GET", "/ping", "", "", http.StatusNoContent, "")
	for _, p := range []string{"/version", "/api/v1/version"} {
		_, b := e.call("GET", p, "", "", http.StatusOK, "version")
		if !strings.Contains(string(b), `"test-1.0"`) {
			t.Errorf("GET %s = %s, want version test-1.0", p, b)
		}
	}
	_, b := e.call("GET", "/api/v2/clusters", "", "", http.StatusNotFound, "")
	if er := errBody(t, b); !strings.Contains(er.Message, "find endpoint for path /api/v2/clusters - make sure api-url is correct") {
		t.Errorf("unknown path message %q", er.Message)
	}
}

func TestClustersCRUD(t *testing.T) {
	e := newEnv(t, scyllaops.Options{SkipConnectivityCheck: true})

	_, b := e.call("GET", "/api/v1/clusters", "", "", http.StatusOK, "cluster_list")
	if strings.TrimSpace(string(b)) != "[]" {
		t.Fatalf("empty list = %s, want []", b)
	}

	in := `{"name":"prod","host":"10.0.0.1","port":10001,"auth_token":"tok","username":"cassandra","password":"pw","labels":{"env":"prod"},` +
		`"ssl_user_cert_file":"Y2VydA==","ssl_user_key_file":"a2V5"}`
	resp, b := e.call("POST", "/api/v1/clusters", in, "cluster", http.StatusCreated, "")
	if len(b) != 0 {
		t.Errorf("create body = %q, want none", b)
	}
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, "/api/v1/cluster/") {
		t.Fatalf("Location = %q", loc)
	}
	id := strings.TrimPrefix(loc, "/api/v1/cluster/")

	for _, ref := range []string{id, "prod"} {
		_, b = e.call("GET", "/api/v1/cluster/"+ref, "", "", http.StatusOK, "cluster_out")
		var c restapi.Cluster
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatal(err)
		}
		if c.ID != id || c.Name != "prod" || c.AuthToken != "set" || c.Username != "set" || c.Password != "set" || c.Labels["env"] != "prod" {
			t.Errorf("GET cluster/%s = %+v", ref, c)
		}
		if strings.Contains(string(b), `"pw"`) || strings.Contains(string(b), `"tok"`) || strings.Contains(string(b), "Y2VydA") {
			t.Errorf("secret leaked: %s", b)
		}
	}
	_, b = e.call("GET", "/api/v1/clusters", "", "", http.StatusOK, "cluster_list")
	if !strings.Contains(string(b), id) {
		t.Errorf("list %s lacks %s", b, id)
	}

	// Duplicate name: 409.
	e.call("POST", "/api/v1/clusters", `{"name":"prod","host":"10.0.0.2"}`, "cluster", http.StatusConflict, "")

	// Update by name; secrets given as "set" keep the stored ones.
	up := `{"name":"prod2","host":"10.0.0.1","port":10001,"auth_token":"set","username":"set","password":"set"}`
	_, b = e.call("PUT", "/api/v1/cluster/prod", up, "cluster", http.StatusOK, "cluster_out")
	if !strings.Contains(string(b), `"name":"prod2"`) || !strings.Contains(string(b), `"password":"set"`) {
		t.Errorf("update = %s", b)
	}
	if u, p, err := e.m.CQLCredentials(t.Context(), mustUUID(t, id)); err != nil || u != "cassandra" || p != "pw" {
		t.Errorf("credentials after update = %q %q %v, want kept", u, p, err)
	}

	// Delete only the CQL credentials, then the cluster.
	e.call("DELETE", "/api/v1/cluster/prod2?cql_creds=true", "", "", http.StatusOK, "")
	_, b = e.call("GET", "/api/v1/cluster/"+id, "", "", http.StatusOK, "cluster_out")
	if strings.Contains(string(b), "password") {
		t.Errorf("cql creds still shown after delete: %s", b)
	}
	e.call("DELETE", "/api/v1/cluster/"+id, "", "", http.StatusOK, "")
	e.call("GET", "/api/v1/cluster/"+id, "", "", http.StatusNotFound, "")
	e.call("GET", "/api/v1/cluster/prod2", "", "", http.StatusNotFound, "")
}

func TestClusterBadInput(t *testing.T) {
	e := newEnv(t, scyllaops.Options{SkipConnectivityCheck: true})
	for _, tc := range []struct {
		name, body, wantIn string
	}{
		{"malformed", `{"name":"x",`, "malformed JSON"},
		{"empty", ``, "empty body"},
		{"wrong type", `{"name":"x","host":"h","port":"10001"}`, "port"},
		{"uuid name", `{"name":"0f3e5a9c-7c6e-4f39-9f0e-3c1b2a4d5e6f","host":"h"}`, "cluster.name"},
		{"no host", `{"name":"x"}`, "cluster.host"},
		{"port range", `{"name":"x","host":"h","port":70000}`, "cluster.port"},
		{"half creds", `{"name":"x","host":"h","username":"u"}`, "username/password"},
		{"bad id", `{"id":"nope","name":"x","host":"h"}`, "cluster.id"},
		{"trailing", `{"name":"x","host":"h"} {}`, "trailing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, b := e.call("POST", "/api/v1/clusters", tc.body, "", http.StatusBadRequest, "")
			er := errBody(t, b)
			if !strings.Contains(er.Message+er.Details, tc.wantIn) {
				t.Errorf("error %+v does not mention %q", er, tc.wantIn)
			}
		})
	}
	_, b := e.call("GET", "/api/v1/clusters", "", "", http.StatusOK, "cluster_list")
	if strings.TrimSpace(string(b)) != "[]" {
		t.Errorf("bad input stored something: %s", b)
	}
	e.call("PUT", "/api/v1/cluster/nope", `{"name":"x","host":"h"}`, "", http.StatusNotFound, "")
	e.call("DELETE", "/api/v1/cluster/nope", "", "", http.StatusNotFound, "")
	e.call("DELETE", "/api/v1/cluster/nope?cql_creds=maybe", "", "", http.StatusBadRequest, "")
}

func TestClientClusters(t *testing.T) {
	e := newEnv(t, scyllaops.Options{SkipConnectivityCheck: true})
	ctx := t.Context()
	if err := e.client.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := e.client.Version(ctx); err != nil || v != "test-1.0" {
		t.Fatalf("Version = %q, %v", v, err)
	}
	id, err := e.client.CreateCluster(ctx, restapi.Cluster{Name: "a b", Host: "10.0.0.9", AuthToken: "x"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.client.GetCluster(ctx, "a b")
	if err != nil || c.ID != id || c.AuthToken != "set" {
		t.Fatalf("GetCluster by a name with a space = %+v, %v", c, err)
	}
	_, err = e.client.GetCluster(ctx, "missing")
	var ae *restapi.APIError
	if !errorsAs(err, &ae) || ae.StatusCode != 404 || ae.TraceID == "" {
		t.Fatalf("GetCluster(missing) error = %v", err)
	}
}
