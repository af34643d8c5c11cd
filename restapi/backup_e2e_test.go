package restapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/scyllaops/scyllaops/restapi"
)

func TestTasksBackupEndToEnd(t *testing.T) {
	e, _, loc := newBackupEnv(t)
	const c = "/api/v1/cluster/sim"

	_, b := e.call("GET", c+"/tasks", "", "", http.StatusOK, "task_list")
	if !strings.Contains(string(b), `"type":"healthcheck"`) {
		t.Errorf("default tasks lack health checks: %s", b)
	}

	// Unknown property: 400, nothing stored.
	e.call("POST", c+"/tasks", `{"type":"backup","enabled":true,"properties":{"location":["`+loc+`"],"retension":3}}`, "task_update", http.StatusBadRequest, "")
	for _, bad := range []struct{ props, field string }{
		{`{"location":["nowhere"]}`, "location"},
		{`{"location":["s3:UPPER_case!"]}`, "location"},
		{`{"location":["` + loc + `"],"retention":-1}`, "retention"},
		{`{"location":["` + loc + `"],"rate_limit":["fast"]}`, "rate_limit"},
		{`{"retention":3}`, "location"},
	} {
		_, b := e.call("POST", c+"/tasks", `{"type":"backup","enabled":true,"properties":`+bad.props+`}`, "task_update", http.StatusBadRequest, "")
		if er := errBody(t, b); !strings.Contains(er.Message, bad.field) {
			t.Errorf("properties %s: error %+v does not name %s", bad.props, er, bad.field)
		}
	}
	e.call("POST", c+"/tasks", `{"type":"backup","enabled":true,"schedule":{"cron":"61 * * * *"},"properties":{"location":["`+loc+`"]}}`, "task_update", http.StatusBadRequest, "")
	e.call("POST", c+"/tasks", `{"type":"backup","enabled":true,"schedule":{"timezone":"Mars/Olympus"},"properties":{"location":["`+loc+`"]}}`, "task_update", http.StatusBadRequest, "")
	_, b = e.call("GET", c+"/tasks?all=true&type=backup", "", "", http.StatusOK, "task_list")
	if strings.TrimSpace(string(b)) != "[]" {
		t.Fatalf("a refused task was stored: %s", b)
	}

	body := `{"type":"backup","name":"daily","enabled":true,"schedule":{"cron":"0 3 * * *","num_retries":1,"retry_wait":"1m"},"properties":{"location":["` + loc + `"],"retention":2}}`
	resp, _ := e.call("POST", c+"/tasks", body, "task_update", http.StatusCreated, "")
	loc1 := resp.Header.Get("Location")
	if !strings.Contains(loc1, "/task/backup/") {
		t.Fatalf("Location %q", loc1)
	}
	task := strings.TrimPrefix(loc1, "/api/v1")
	taskPath := "/api/v1" + task
	_, b = e.call("GET", taskPath, "", "", http.StatusOK, "task")
	var got restapi.Task
	_ = json.Unmarshal(b, &got)
	if got.Name != "daily" || restapi.CronSpec(got.Schedule.Cron) != "0 3 * * *" || !strings.HasPrefix(got.Schedule.Cron, `{"spec":`) {
		t.Errorf("task = %s", b)
	}

	// Update: the cron output form is accepted back as input.
	got.Name = "nightly"
	upd := mustJSON(t, restapi.TaskUpdate{Type: "backup", Name: got.Name, Enabled: true, Schedule: &got.Schedule, Properties: got.Properties})
	_, b = e.call("PUT", taskPath, upd, "task_update", http.StatusOK, "task")
	if !strings.Contains(string(b), `"name":"nightly"`) {
		t.Errorf("update = %s", b)
	}

	// Dry run: GET with a body.
	_, b = e.call("GET", c+"/tasks/backup/target", body, "task_update", http.StatusOK, "backup_target")
	if !strings.Contains(string(b), loc) {
		t.Errorf("target = %s", b)
	}

	// A dry run against a bucket that does not exist: 400 naming it, at
	// once (the agent's 400 is not retried).
	missing := strings.Replace(body, loc, "localstorage:no-such-bucket", 1)
	_, b = e.call("GET", c+"/tasks/backup/target", missing, "task_update", http.StatusBadRequest, "error")
	if !strings.Contains(string(b), "no-such-bucket") {
		t.Errorf("dry run on a missing bucket = %s", b)
	}

	// No run yet: a synthetic NEW run.
	_, b = e.call("GET", taskPath+"/latest", "", "", http.StatusOK, "run_progress")
	if !strings.Contains(string(b), `"status":"NEW"`) {
		t.Errorf("progress before any run = %s", b)
	}

	e.call("PUT", taskPath+"/start", "", "", http.StatusOK, "")
	p := e.waitRun(taskPath, "backup_progress")
	if p.Run.Status != "DONE" {
		t.Fatalf("backup run ended %s: %s", p.Run.Status, p.Run.Cause)
	}
	var bp restapi.BackupProgress
	_ = json.Unmarshal(p.Progress, &bp)
	if bp.Size == 0 || bp.Uploaded+bp.Skipped != bp.Size || bp.SnapshotTag == "" {
		t.Errorf("backup progress = %+v", bp)
	}
	e.call("GET", taskPath+"/"+p.Run.ID, "", "", http.StatusOK, "backup_progress")
	e.call("GET", taskPath+"/~0", "", "", http.StatusOK, "backup_progress")
	_, b = e.call("GET", taskPath+"/history", "", "", http.StatusOK, "task_history")
	if !strings.Contains(string(b), p.Run.ID) {
		t.Errorf("history lacks run %s: %s", p.Run.ID, b)
	}
	e.call("GET", taskPath+"/0f3e5a9c-7c6e-1f39-9f0e-3c1b2a4d5e6f", "", "", http.StatusNotFound, "")

	_, b = e.call("GET", c+"/backups?locations="+loc, "", "", http.StatusOK, "backup_list")
	if !strings.Contains(string(b), bp.SnapshotTag) {
		t.Errorf("backup list lacks %s: %s", bp.SnapshotTag, b)
	}
	_, b = e.call("GET", c+"/backups/files?locations="+loc+"&snapshot_tag="+bp.SnapshotTag, "", "", http.StatusOK, "backup_files")
	if !strings.Contains(string(b), "Data.db") {
		t.Errorf("backup files lack sstables: %.300s", b)
	}
	// The schema the backup stored (DESCRIBE SCHEMA WITH INTERNALS rows).
	_, b = e.call("GET", c+"/backups/schema?location="+loc+"&snapshot_tag="+bp.SnapshotTag, "", "", http.StatusOK, "backup_schema")
	if !strings.Contains(string(b), `"cql_stmt":"CREATE KEYSPACE`) {
		t.Errorf("backup schema lacks CREATE KEYSPACE rows: %.300s", b)
	}
	e.call("GET", c+"/backups/schema?location="+loc+"&snapshot_tag=sm_20000101000000UTC", "", "", http.StatusNotFound, "")

	// Validate: a validate_backup task.
	resp, _ = e.call("POST", c+"/tasks", `{"type":"validate_backup","enabled":true,"properties":{"location":["`+loc+`"]}}`, "task_update", http.StatusCreated, "")
	vpath := resp.Header.Get("Location") // starts now: no start date
	// A start while that run goes on is a 409; a quick run may already be
	// over, and then the start begins a new run (200). Either way the
	// run waited for below ends DONE.
	st := e.status("PUT", vpath+"/start")
	if st != http.StatusConflict && st != http.StatusOK {
		t.Fatalf("start of a just-created validate task: status %d, want 409 (running) or 200 (done)", st)
	}
	if st == http.StatusOK {
		e.waitRuns(vpath, 2) // both runs over before the steps below
	}
	vp := e.waitRun(vpath, "validate_backup_progress")
	var vs []restapi.ValidateBackupProgress
	_ = json.Unmarshal(vp.Progress, &vs)
	if vp.Run.Status != "DONE" || len(vs) == 0 {
		t.Fatalf("validate = %+v", vp)
	}
	for _, v := range vs {
		if v.MissingFiles != 0 {
			t.Errorf("validate: %+v", v)
		}
	}

	// Suspend / resume.
	e.call("PUT", c+"/suspended?allow_task_type=backup", "true", "suspended", http.StatusOK, "")
	_, b = e.call("GET", c+"/suspended", "", "", http.StatusOK, "suspended")
	if strings.TrimSpace(string(b)) != "true" {
		t.Errorf("suspended = %s", b)
	}
	_, b = e.call("GET", c+"/suspended/details", "", "", http.StatusOK, "suspend_details")
	if !strings.Contains(string(b), `"allow_task_type":"backup"`) {
		t.Errorf("details = %s", b)
	}
	e.call("PUT", c+"/suspended?start_tasks=false", "false", "suspended", http.StatusOK, "")

	// Stop (disable), delete snapshot, delete task.
	e.call("PUT", taskPath+"/stop?disable=true", "", "", http.StatusOK, "")
	e.call("DELETE", c+"/backups?locations="+loc+"&snapshot_tags="+bp.SnapshotTag, "", "", http.StatusOK, "")
	_, b = e.call("GET", c+"/backups?locations="+loc, "", "", http.StatusOK, "backup_list")
	if strings.Contains(string(b), bp.SnapshotTag) {
		t.Errorf("deleted snapshot still listed: %s", b)
	}
	e.call("DELETE", taskPath, "", "", http.StatusOK, "")
	e.call("GET", taskPath, "", "", http.StatusNotFound, "")
	e.call("GET", c+"/task/backup/0f3e5a9c-7c6e-4f39-9f0e-3c1b2a4d5e6f", "", "", http.StatusNotFound, "")
}
