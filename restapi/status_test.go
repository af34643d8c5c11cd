package restapi_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/scyllaops/scyllaops/restapi"
	"github.com/scyllaops/scyllaops/scyllatest"
)

func TestClusterStatus(t *testing.T) {
	// Listen mode: the CQL ping dials the nodes over TCP.
	e, sc := newSimEnv(t, scyllatest.Options{Listen: true})
	id := e.addCluster(sc)
	for _, ref := range []string{id, "sim"} {
		_, b := e.call("GET", "/api/v1/cluster/"+ref+"/status", "", "", http.StatusOK, "cluster_status")
		var ns []restapi.NodeStatus
		if err := json.Unmarshal(b, &ns); err != nil {
			t.Fatal(err)
		}
		if len(ns) != len(sc.Hosts()) {
			t.Fatalf("status has %d nodes, want %d: %s", len(ns), len(sc.Hosts()), b)
		}
		for _, n := range ns {
			if n.Status != "UN" || n.RESTStatus != "UP" || n.CQLStatus != "UP" || n.HostID == "" || n.DC == "" {
				t.Errorf("node %+v, want UN with REST and CQL UP", n)
			}
		}
	}
	// A stopped node shows as down; the answer is still 200.
	if err := sc.Stop(sc.Nodes()[2]); err != nil {
		t.Fatal(err)
	}
	_, b := e.call("GET", "/api/v1/cluster/sim/status", "", "", http.StatusOK, "cluster_status")
	var ns []restapi.NodeStatus
	_ = json.Unmarshal(b, &ns)
	down := 0
	for _, n := range ns {
		if n.Host == sc.Nodes()[2].IP && n.RESTStatus != "UP" {
			down++
		}
	}
	if down != 1 {
		t.Errorf("stopped node not reported down: %s", b)
	}
	e.call("GET", "/api/v1/cluster/nope/status", "", "", http.StatusNotFound, "")
}
