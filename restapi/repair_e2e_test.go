package restapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/scyllaops/scyllaops/scyllatest"
)

func TestTasksRepairEndToEnd(t *testing.T) {
	e, sc := newSimEnv(t, scyllatest.Options{TokensPerNode: 8})
	e.run()
	e.addCluster(sc)
	const c = "/api/v1/cluster/sim"

	// The weekly repair came with the cluster.
	_, b := e.call("GET", c+"/tasks?type=repair", "", "", http.StatusOK, "task_list")
	if !strings.Contains(string(b), `"name":"all-weekly"`) {
		t.Errorf("no weekly repair: %s", b)
	}
	// Bad input: 400 naming the field, nothing stored.
	for _, bad := range []struct{ props, field string }{
		{`{"intensity":-1}`, "intensity"},
		{`{"parallel":-1}`, "parallel"},
		{`{"small_table_threshold":"huge"}`, "small_table_threshold"},
		{`{"keyspace":["ks["]}`, "keyspace"},
		{`{"keyspace":["nope"]}`, "keyspace"},
		{`{"dc":["dc9"]}`, "dc"},
		{`{"host":"127.9.9.9"}`, "host"},
	} {
		_, b := e.call("POST", c+"/tasks", `{"type":"repair","name":"bad","enabled":true,"properties":`+bad.props+`}`, "task_update", http.StatusBadRequest, "")
		if er := errBody(t, b); !strings.Contains(er.Message, bad.field) {
			t.Errorf("properties %s: error %+v does not name %s", bad.props, er, bad.field)
		}
	}
	_, b = e.call("GET", c+"/tasks?all=true&type=repair", "", "", http.StatusOK, "task_list")
	if strings.Contains(string(b), `"name":"bad"`) {
		t.Fatalf("a refused task was stored: %s", b)
	}
	// Dry run.
	body := `{"type":"repair","name":"ks","enabled":true,"properties":{"keyspace":["ks"],"small_table_threshold":"1B"}}`
	_, b = e.call("GET", c+"/tasks/repair/target", body, "task_update", http.StatusOK, "repair_target")
	if !strings.Contains(string(b), `"keyspace":"ks"`) || !strings.Contains(string(b), `"token_ranges":"all"`) {
		t.Errorf("target = %s", b)
	}
	// Tuning without a running repair: 404; bad values: 400.
	e.call("PUT", c+"/repairs/intensity?intensity=2", "", "", http.StatusNotFound, "")
	e.call("PUT", c+"/repairs/intensity?intensity=-2", "", "", http.StatusBadRequest, "")
	e.call("PUT", c+"/repairs/parallel?parallel=x", "", "", http.StatusBadRequest, "")

	// Run it; the progress has Scylla Manager's shape.
	resp, _ := e.call("POST", c+"/tasks", body, "task_update", http.StatusCreated, "")
	taskPath := resp.Header.Get("Location")
	// (A task without start date starts at once.)
	p := e.waitRun(taskPath, "repair_progress")
	if p.Run.Status != "DONE" {
		t.Fatalf("run %+v", p.Run)
	}
	_, b = e.call("GET", taskPath+"/latest", "", "", http.StatusOK, "repair_progress")
	if !strings.Contains(string(b), `"success_percentage":100`) {
		t.Errorf("progress = %s", b)
	}
	if len(sc.RepairedRanges()) == 0 {
		t.Error("nothing repaired")
	}
}
