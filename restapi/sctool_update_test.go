package restapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/scyllaops/scyllaops/restapi"
)

// sctool's update (backup update, backup validate update, suspend update,
// and re-enabling a stopped task with --enabled) sends a TaskUpdate
// without "type": the type comes from the path. A body whose type differs
// from the path's is still refused.
func TestUpdateWithoutType(t *testing.T) {
	e, _, loc := newBackupEnv(t)
	const c = "/api/v1/cluster/sim"
	for _, tc := range []struct {
		typ, create, update, want string
	}{
		{"backup",
			`{"type":"backup","enabled":true,"schedule":{"cron":"0 3 * * *"},"properties":{"location":["` + loc + `"]}}`,
			`{"enabled":true,"name":"nightly","schedule":{"cron":"0 4 * * *","num_retries":3,"retry_wait":"10m"},"properties":{"location":["` + loc + `"],"retention":5}}`,
			`"retention":5`},
		{"validate_backup",
			`{"type":"validate_backup","enabled":true,"schedule":{"cron":"0 3 * * *"},"properties":{"location":["` + loc + `"]}}`,
			`{"enabled":true,"schedule":{"cron":"0 5 * * *"},"properties":{"location":["` + loc + `"],"delete_orphaned_files":true}}`,
			`"delete_orphaned_files":true`},
		{"suspend",
			`{"type":"suspend","enabled":true,"schedule":{"cron":"0 3 * * *"},"properties":{"duration":"1h"}}`,
			`{"enabled":true,"schedule":{"cron":"0 6 * * *"},"properties":{"duration":"2h"}}`,
			`"duration":"2h`},
	} {
		// No subtests: e.call fails the test it was made with.
		func() {
			resp, _ := e.call("POST", c+"/tasks", tc.create, "task_update", http.StatusCreated, "")
			path := resp.Header.Get("Location")
			_, b := e.call("PUT", path, tc.update, "task_update", http.StatusOK, "task")
			var got restapi.Task
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if got.Type != tc.typ || !strings.Contains(string(got.Properties), tc.want) {
				t.Errorf("%s: update = %s, want type %s and %s", tc.typ, b, tc.typ, tc.want)
			}
			// A type that contradicts the path is refused.
			bad := `{"type":"repair","enabled":true,"properties":{}}`
			_, b = e.call("PUT", path, bad, "task_update", http.StatusBadRequest, "")
			if er := errBody(t, b); !strings.Contains(er.Message, "task.type") {
				t.Errorf("%s: type change: %+v, want it to name task.type", tc.typ, er)
			}
		}()
	}

	// Re-enabling a stopped (disabled) task: sctool sends the task back
	// with enabled true and no type.
	body := `{"type":"healthcheck","name":"probe","enabled":true,"schedule":{"cron":"0 3 * * *"},"properties":{"mode":"rest"}}`
	resp, _ := e.call("POST", c+"/tasks", body, "task_update", http.StatusCreated, "")
	path := resp.Header.Get("Location")
	e.call("PUT", path+"/stop?disable=true", "", "", http.StatusOK, "")
	_, b := e.call("GET", path, "", "", http.StatusOK, "task")
	if !strings.Contains(string(b), `"enabled":false`) {
		t.Fatalf("after stop --disable: %s", b)
	}
	_, b = e.call("PUT", path, `{"name":"probe","enabled":true,"schedule":{"cron":"0 3 * * *"},"properties":{"mode":"rest"}}`, "task_update", http.StatusOK, "task")
	if !strings.Contains(string(b), `"enabled":true`) || !strings.Contains(string(b), `"type":"healthcheck"`) {
		t.Errorf("re-enable = %s", b)
	}
}
