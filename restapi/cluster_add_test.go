package restapi_test

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/restapi"
	"github.com/scyllaops/scyllaops/scyllatest"
)

// Cluster add through the agent check: a 401 from the agent is a 400
// naming the token and the host; an unknown host is a 400 with that
// cause at once (not the retries' deadline), and nothing is stored.
func TestClusterAddAgentErrors(t *testing.T) {
	e, sc := newSimEnv(t, scyllatest.Options{})
	body := mustJSON(t, restapi.Cluster{Name: "bad-token", Host: sc.ContactHost(), AuthToken: "not-" + sc.AuthToken()})
	_, b := e.call("POST", "/api/v1/clusters", body, "cluster", http.StatusBadRequest, "")
	if er := errBody(t, b); !strings.Contains(er.Message, "wrong auth token for the agent at "+sc.ContactHost()) {
		t.Errorf("wrong token: %+v", er)
	}
	body = mustJSON(t, restapi.Cluster{Name: "no-host", Host: "127.255.255.254", AuthToken: sc.AuthToken()})
	_, b = e.call("POST", "/api/v1/clusters", body, "cluster", http.StatusBadRequest, "")
	if er := errBody(t, b); !strings.Contains(er.Message, "unknown host 127.255.255.254") || strings.Contains(er.Message, "deadline") {
		t.Errorf("unknown host: %+v", er)
	}
	_, b = e.call("GET", "/api/v1/clusters", "", "", http.StatusOK, "cluster_list")
	if strings.TrimSpace(string(b)) != "[]" {
		t.Errorf("a refused cluster was stored: %s", b)
	}
}

// Over TCP, a port where no agent listens is a 400 saying the
// connection was refused, not a deadline after retries: with a
// ten-minute connect timeout the old code would only time out.
func TestClusterAddConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	e := newEnvWith(t, scyllaops.Options{ConnectTimeout: 10 * time.Minute}, nil)
	body := `{"name":"refused","host":"127.0.0.1","port":` + strconv.Itoa(port) + `,"auth_token":"tok"}`
	_, b := e.call("POST", "/api/v1/clusters", body, "cluster", http.StatusBadRequest, "")
	if er := errBody(t, b); !strings.Contains(er.Message, "connection refused by 127.0.0.1 on port "+strconv.Itoa(port)) {
		t.Errorf("refused: %+v", er)
	}
}
