package scyllatest_test

import (
	"bytes"
	"net"
	"net/http"
	"strconv"
	"testing"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/scyllatest"
)

// TestRESTBodiesAsScylla: Scylla answers JSON with no trailing newline and
// strings as JSON strings; a real agent unquotes scylla_release_version
// with strconv.Unquote.
func TestRESTBodiesAsScylla(t *testing.T) {
	c := scyllatest.New(t, scyllatest.Options{})
	host := c.ContactHost()
	for _, tc := range []struct {
		path   string
		string bool
	}{
		{"/storage_service/scylla_release_version", true},
		{"/storage_service/cluster_name", true},
		{"/storage_service/hostid/local", true},
		{"/snitch/datacenter?host=" + host, true},
		{"/v2/config/listen_address", true},
		{"/v2/config/native_transport_port", false},
		{"/storage_service/host_id", false},
		{"/storage_service/keyspaces", false},
		{"/v2/config/no_such_option", false},
	} {
		_, body := rawCall(t, c, host, http.MethodGet, tc.path)
		if len(body) == 0 || bytes.HasSuffix(body, []byte("\n")) || len(bytes.TrimSpace(body)) != len(body) {
			t.Errorf("%s: body %q: want JSON with no surrounding whitespace", tc.path, body)
			continue
		}
		if tc.string {
			if _, err := strconv.Unquote(string(body)); err != nil {
				t.Errorf("%s: strconv.Unquote(%q): %v", tc.path, body, err)
			}
		}
	}
	if _, body := rawCall(t, c, host, http.MethodGet, "/v2/config/native_transport_port"); string(body) != strconv.Itoa(scyllatest.PortCQL) {
		t.Errorf("native_transport_port = %q, want the number %d", body, scyllatest.PortCQL)
	}
}

// TestInProcessLoopbackAndManagerAccess: in-process nodes have loopback
// addresses, and ManagerAccess reaches the cluster's agents and CQL.
func TestInProcessLoopbackAndManagerAccess(t *testing.T) {
	c := scyllatest.New(t, scyllatest.Options{Topology: []scyllatest.DC{
		{Name: "dc1", Racks: []scyllatest.Rack{{Name: "r1", Nodes: 2}}},
		{Name: "dc2", Racks: []scyllatest.Rack{{Name: "r1", Nodes: 1}}},
	}})
	for _, h := range c.Hosts() {
		if ip := net.ParseIP(h); ip == nil || !ip.IsLoopback() {
			t.Errorf("node address %q is not a loopback address", h)
		}
	}
	a := c.ManagerAccess()
	if a.Host != c.ContactHost() || a.AuthToken != c.AuthToken() || a.Transport == nil || a.CQLDial == nil {
		t.Fatalf("ManagerAccess = %+v", a)
	}
	cl, err := agentclient.New(a.Transport, agentclient.Options{AuthToken: a.AuthToken, RetryMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	if name, err := cl.ClusterName(t.Context(), a.Host); err != nil || name == "" {
		t.Fatalf("ClusterName through ManagerAccess = %q, %v", name, err)
	}
	conn, err := a.CQLDial(t.Context(), "tcp", net.JoinHostPort(c.Hosts()[2], strconv.Itoa(scyllatest.PortCQL)))
	if err != nil {
		t.Fatalf("CQLDial: %v", err)
	}
	_ = conn.Close()
}
