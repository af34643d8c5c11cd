package restapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/scyllaops/scyllaops"
)

// Bad input to the task, backup and suspend endpoints is refused with a
// 400 naming the field before the Manager is asked anything.
func TestTaskEndpointsBadInput(t *testing.T) {
	e := newEnv(t, scyllaops.Options{SkipConnectivityCheck: true})
	e.call("POST", "/api/v1/clusters", `{"name":"c1","host":"10.0.0.1"}`, "cluster", http.StatusCreated, "")
	const task = "/api/v1/cluster/c1/task/backup/0f3e5a9c-7c6e-4f39-9f0e-3c1b2a4d5e6f"
	for _, tc := range []struct {
		method, path, body, want string
	}{
		{"POST", "/api/v1/cluster/c1/tasks", `{"type":"backup",`, "malformed JSON"},
		{"POST", "/api/v1/cluster/c1/tasks", `{"type":"backup","enabled":"yes"}`, "enabled"},
		{"POST", "/api/v1/cluster/c1/tasks", `{"enabled":true}`, "task.type"},
		{"POST", "/api/v1/cluster/c1/tasks", `{"type":"backup","properties":[1]}`, "task.properties"},
		{"POST", "/api/v1/cluster/c1/tasks", `{"type":"backup","schedule":{"cron":"{nope"}}`, "schedule.cron"},
		{"POST", "/api/v1/cluster/c1/tasks", `{"type":"backup","schedule":{"retry_wait":"soon"}}`, "schedule.retry_wait"},
		{"POST", "/api/v1/cluster/c1/tasks", `{"type":"backup","schedule":{"num_retries":-1}}`, "schedule.num_retries"},
		{"POST", "/api/v1/cluster/c1/tasks", `{"type":"backup","schedule":{"start_date":"tomorrow"}}`, "start_date"},
		{"GET", "/api/v1/cluster/c1/tasks?all=maybe", "", "all"},
		{"GET", "/api/v1/cluster/c1/tasks?status=SLEEPING", "", "status"},
		{"GET", "/api/v1/cluster/c1/tasks?task_id=x", "", "task_id"},
		{"GET", "/api/v1/cluster/c1/tasks/backup/target", `[]`, "body"},
		{"GET", "/api/v1/cluster/c1/task/backup/not-a-uuid", "", "task_id"},
		{"PUT", "/api/v1/cluster/c1/task/backup/not-a-uuid/start", "", "task_id"},
		{"PUT", task + "/start?continue=perhaps", "", "continue"},
		{"PUT", task + "/stop?disable=2x", "", "disable"},
		{"GET", task + "/history?limit=ten", "", "limit"},
		{"GET", task + "/history?limit=0", "", "limit"},
		{"GET", task + "/~x", "", "run_id"},
		{"GET", task + "/yesterday", "", "run_id"},
		{"GET", "/api/v1/cluster/c1/backups?min_date=yesterday", "", "min_date"},
		{"GET", "/api/v1/cluster/c1/backups?query_cluster_id=x", "", "query_cluster_id"},
		{"GET", "/api/v1/cluster/c1/backups/files", "", "snapshot_tag"},
		{"GET", "/api/v1/cluster/c1/backups/schema?snapshot_tag=sm_20240101000000UTC", "", "location"},
		{"DELETE", "/api/v1/cluster/c1/backups", "", "snapshot_tags"},
		{"PUT", "/api/v1/cluster/c1/suspended", `"yes"`, "body"},
		{"PUT", "/api/v1/cluster/c1/suspended", ``, "empty body"},
		{"PUT", "/api/v1/cluster/c1/suspended?suspend_policy=wait", `true`, "suspend_policy"},
		{"PUT", "/api/v1/cluster/c1/suspended?start_tasks=si", `false`, "start_tasks"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			_, b := e.call(tc.method, tc.path, tc.body, "", http.StatusBadRequest, "")
			if er := errBody(t, b); !strings.Contains(er.Message+er.Details, tc.want) {
				t.Errorf("error %+v does not mention %q", er, tc.want)
			}
		})
	}
	// Unknown target types and paths are 404s with the error body.
	e.call("GET", "/api/v1/cluster/c1/tasks/healthcheck/target", `{"type":"healthcheck"}`, "", http.StatusNotFound, "")
	e.call("GET", "/api/v1/cluster/c1/task/backup", "", "", http.StatusNotFound, "")
	e.call("GET", "/api/v1/nothing", "", "", http.StatusNotFound, "")
}
