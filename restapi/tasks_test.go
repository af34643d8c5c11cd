package restapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/scyllaops/scyllaops/restapi"
)

// The generic task endpoints over a real runner (health checks): create,
// get, update, dry-run 404, start, progress by latest/~0/ID, history,
// stop, delete; bad properties refused with nothing stored.
func TestTaskLifecycle(t *testing.T) {
	e, _, _ := newBackupEnv(t)
	const c = "/api/v1/cluster/sim"

	_, b := e.call("GET", c+"/tasks", "", "", http.StatusOK, "task_list")
	var items []restapi.TaskListItem
	_ = json.Unmarshal(b, &items)
	before := len(items)

	for _, bad := range []string{
		`{"type":"healthcheck","enabled":true,"properties":{"mode":"rest","flavor":"red"}}`,
		`{"type":"healthcheck","enabled":true,"properties":{"mode":"telepathy"}}`,
		`{"type":"healthcheck","enabled":true,"schedule":{"cron":"every day"},"properties":{"mode":"rest"}}`,
		`{"type":"no_such_type","enabled":true}`,
	} {
		_, b := e.call("POST", c+"/tasks", bad, "task_update", http.StatusBadRequest, "")
		if er := errBody(t, b); !strings.Contains(er.Message, "invalid") {
			t.Errorf("POST %s: error %+v does not say what is invalid", bad, er)
		}
	}
	_, b = e.call("GET", c+"/tasks?all=true", "", "", http.StatusOK, "task_list")
	_ = json.Unmarshal(b, &items)
	if len(items) != before {
		t.Fatalf("refused tasks were stored: %d tasks, had %d", len(items), before)
	}

	body := `{"type":"healthcheck","name":"rest-probe","enabled":true,"schedule":{"cron":"0 3 * * *"},"properties":{"mode":"rest"}}`
	resp, _ := e.call("POST", c+"/tasks", body, "task_update", http.StatusCreated, "")
	path := resp.Header.Get("Location")
	if !strings.HasPrefix(path, "/api/v1/cluster/") || !strings.Contains(path, "/task/healthcheck/") {
		t.Fatalf("Location = %q", path)
	}
	e.call("POST", c+"/tasks", body, "task_update", http.StatusConflict, "")

	_, b = e.call("GET", path, "", "", http.StatusOK, "task")
	var task restapi.Task
	_ = json.Unmarshal(b, &task)
	if task.Name != "rest-probe" || restapi.CronSpec(task.Schedule.Cron) != "0 3 * * *" {
		t.Errorf("task = %s", b)
	}
	// The output cron form is accepted back.
	upd := mustJSON(t, restapi.TaskUpdate{Type: "healthcheck", Name: "rest-probe-2", Enabled: true, Schedule: &task.Schedule, Properties: task.Properties})
	_, b = e.call("PUT", path, upd, "task_update", http.StatusOK, "task")
	if !strings.Contains(string(b), `"rest-probe-2"`) || CronOf(b) != "0 3 * * *" {
		t.Errorf("update = %s", b)
	}
	// The same task under another type is not found.
	e.call("GET", strings.Replace(path, "/healthcheck/", "/backup/", 1), "", "", http.StatusNotFound, "")
	e.call("GET", c+"/tasks/healthcheck/target", body, "", http.StatusNotFound, "")

	_, b = e.call("GET", path+"/latest", "", "", http.StatusOK, "run_progress")
	if !strings.Contains(string(b), `"status":"NEW"`) {
		t.Errorf("progress before any run = %s", b)
	}
	e.call("PUT", path+"/start", "", "", http.StatusOK, "")
	p := e.waitRun(path, "run_progress")
	if p.Run.Status != "DONE" {
		t.Fatalf("run = %+v", p.Run)
	}
	e.call("GET", path+"/~0", "", "", http.StatusOK, "run_progress")
	e.call("GET", path+"/"+p.Run.ID, "", "", http.StatusOK, "run_progress")
	e.call("GET", path+"/~5", "", "", http.StatusNotFound, "")
	_, b = e.call("GET", path+"/history?limit=5", "", "", http.StatusOK, "task_history")
	if !strings.Contains(string(b), p.Run.ID) {
		t.Errorf("history lacks %s: %s", p.Run.ID, b)
	}
	_, b = e.call("GET", c+"/tasks?type=healthcheck&status=DONE", "", "", http.StatusOK, "task_list")
	if !strings.Contains(string(b), `"rest-probe-2"`) || !strings.Contains(string(b), `"success_count":1`) {
		t.Errorf("list by status = %s", b)
	}

	e.call("PUT", path+"/stop?disable=true", "", "", http.StatusOK, "")
	_, b = e.call("GET", c+"/tasks", "", "", http.StatusOK, "task_list")
	if strings.Contains(string(b), "rest-probe-2") {
		t.Errorf("disabled task listed without all=true: %s", b)
	}
	e.call("DELETE", path, "", "", http.StatusOK, "")
	e.call("GET", path, "", "", http.StatusNotFound, "")
	e.call("PUT", path+"/start", "", "", http.StatusNotFound, "")
	e.call("GET", "/api/v1/cluster/nope/tasks", "", "", http.StatusNotFound, "")
}

func TestSuspendResume(t *testing.T) {
	e, _, _ := newBackupEnv(t)
	const c = "/api/v1/cluster/sim"
	_, b := e.call("GET", c+"/suspended", "", "", http.StatusOK, "suspended")
	if strings.TrimSpace(string(b)) != "false" {
		t.Errorf("suspended = %s", b)
	}
	e.call("PUT", c+"/suspended?allow_task_type=healthcheck", "true", "suspended", http.StatusOK, "")
	_, b = e.call("GET", c+"/suspended", "", "", http.StatusOK, "suspended")
	if strings.TrimSpace(string(b)) != "true" {
		t.Errorf("suspended after suspend = %s", b)
	}
	_, b = e.call("GET", c+"/suspended/details", "", "", http.StatusOK, "suspend_details")
	if !strings.Contains(string(b), `"allow_task_type":"healthcheck"`) || !strings.Contains(string(b), `"suspended":true`) {
		t.Errorf("details = %s", b)
	}
	_, b = e.call("GET", c+"/tasks?all=true", "", "", http.StatusOK, "task_list")
	_ = b
	e.call("PUT", c+"/suspended?start_tasks=true", "false", "suspended", http.StatusOK, "")
	_, b = e.call("GET", c+"/suspended/details", "", "", http.StatusOK, "suspend_details")
	if !strings.Contains(string(b), `"suspended":false`) {
		t.Errorf("details after resume = %s", b)
	}
	e.call("PUT", "/api/v1/cluster/nope/suspended", "true", "suspended", http.StatusNotFound, "")
}

// CronOf returns the plain spec of a task body's schedule.cron.
func CronOf(b []byte) string {
	var t restapi.Task
	_ = json.Unmarshal(b, &t)
	return restapi.CronSpec(t.Schedule.Cron)
}
