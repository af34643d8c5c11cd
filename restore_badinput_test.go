package scyllaops_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/restapi"
	"github.com/scyllaops/scyllaops/scyllatest"
)

// TestRestoreBadInputREST: each bad restore of the list is
// refused by POST /cluster/{c}/tasks with 400 naming the field, before
// anything is downloaded or loaded, and no task is stored. The target
// lacks ks.t2 of the backup.
func TestRestoreBadInputREST(t *testing.T) {
	e := newRestoreEnv(t, []scyllatest.Table{{Name: "t1"}})
	srv := httptest.NewServer(restapi.NewHandler(e.md, restapi.Options{}))
	t.Cleanup(srv.Close)
	cl, err := restapi.NewClient(srv.URL+"/api/v1", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	with := func(k string, v any) map[string]any {
		p := e.tablesProps(e.tag)
		p["keyspace"] = []string{"ks.t1"}
		if v == nil {
			delete(p, k)
		} else {
			p[k] = v
		}
		return p
	}
	for _, tc := range []struct {
		name, field string
		props       map[string]any
	}{
		{"unknown snapshot tag", "snapshot_tag", with("snapshot_tag", "sm_20200101000000UTC")},
		{"unknown location", "location", with("location", []string{"localstorage:nobucket"})},
		{"unknown keyspace", "keyspace", with("keyspace", []string{"nokeyspace"})},
		{"dc_mapping from an unknown DC", "dc_mapping", with("dc_mapping", map[string]string{"dc1": "dcx", "dc9": "dcx"})},
		{"dc_mapping to an unknown DC", "dc_mapping", with("dc_mapping", map[string]string{"dc1": "dc9", "dc2": "dcx"})},
		{"both restore_tables and restore_schema", "restore_tables", with("restore_schema", true)},
		{"neither restore_tables nor restore_schema", "restore_tables", with("restore_tables", nil)},
		{"tables the target's schema lacks", "restore_tables", with("keyspace", []string{"ks"})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := json.Marshal(tc.props)
			_, err := cl.CreateTask(t.Context(), "dst", restapi.TaskUpdate{Type: "restore", Properties: b})
			var apiErr *restapi.APIError
			if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || !strings.Contains(apiErr.Message+apiErr.Details, tc.field) {
				t.Fatalf("create: %v, want 400 naming %s", err, tc.field)
			}
		})
	}
	tasks, err := e.md.ListTasks(t.Context(), e.cd.ID, scyllaops.TaskFilter{All: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range tasks {
		if tk.Type == "restore" {
			t.Errorf("a refused restore task was stored: %+v", tk)
		}
	}
	if d, l := e.dst.Downloads(), e.dst.Loads(); len(d) != 0 || len(l) != 0 {
		t.Errorf("refused tasks downloaded %+v and loaded %+v", d, l)
	}
	for _, n := range e.dst.Nodes() {
		ents, _ := os.ReadDir(e.dst.TableDir(n, "ks", "t1") + "/upload")
		if len(ents) != 0 {
			t.Errorf("%s: upload dir holds %d entries", n.IP, len(ents))
		}
	}
}
