package restapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/scyllaops/scyllaops/restapi"
)

// sctool's backup list and backup files pass -c as typed in
// query_cluster_id: a cluster name works as well as its UUID; a name
// the manager does not know is a 400 naming the parameter.
func TestBackupListQueryClusterByName(t *testing.T) {
	e, _, loc := newBackupEnv(t)
	const c = "/api/v1/cluster/sim"
	resp, _ := e.call("POST", c+"/tasks", `{"type":"backup","enabled":true,"properties":{"location":["`+loc+`"]}}`, "task_update", http.StatusCreated, "")
	p := e.waitRun(resp.Header.Get("Location"), "backup_progress")
	if p.Run.Status != "DONE" {
		t.Fatalf("backup run ended %s: %s", p.Run.Status, p.Run.Cause)
	}
	var bp restapi.BackupProgress
	if err := json.Unmarshal(p.Progress, &bp); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"sim", p.Run.ClusterID} {
		_, b := e.call("GET", c+"/backups?locations="+loc+"&query_cluster_id="+q, "", "", http.StatusOK, "backup_list")
		var items []restapi.BackupListItem
		if err := json.Unmarshal(b, &items); err != nil {
			t.Fatal(err)
		}
		if len(items) != 1 || items[0].ClusterID != p.Run.ClusterID || !strings.Contains(string(b), bp.SnapshotTag) {
			t.Errorf("list with query_cluster_id=%s = %s, want one item of cluster %s with %s", q, b, p.Run.ClusterID, bp.SnapshotTag)
		}
		_, b = e.call("GET", c+"/backups/files?locations="+loc+"&snapshot_tag="+bp.SnapshotTag+"&query_cluster_id="+q, "", "", http.StatusOK, "backup_files")
		if !strings.Contains(string(b), "Data.db") {
			t.Errorf("files with query_cluster_id=%s lack sstables: %.300s", q, b)
		}
	}
	// Another cluster's UUID (not known here) filters everything out.
	_, b := e.call("GET", c+"/backups?locations="+loc+"&query_cluster_id=0f3e5a9c-7c6e-4f39-9f0e-3c1b2a4d5e6f", "", "", http.StatusOK, "backup_list")
	if strings.Contains(string(b), bp.SnapshotTag) {
		t.Errorf("list of another cluster's UUID = %s", b)
	}
	for _, path := range []string{"/backups?locations=" + loc, "/backups/files?snapshot_tag=" + bp.SnapshotTag + "&locations=" + loc} {
		_, b = e.call("GET", c+path+"&query_cluster_id=prod", "", "", http.StatusBadRequest, "")
		if er := errBody(t, b); !strings.Contains(er.Message, "query_cluster_id") {
			t.Errorf("unknown cluster name: %+v, want it to name query_cluster_id", er)
		}
	}
}
