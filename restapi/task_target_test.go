package restapi_test

import (
	"net/http"
	"strings"
	"testing"
)

// Task create and update compute the dry-run target and refuse a backup
// task that could never run with a 400 naming what is wrong, storing
// nothing; the dry run shows the method that runs.
func TestTaskCreateChecksTarget(t *testing.T) {
	e, _, loc := newBackupEnv(t)
	const c = "/api/v1/cluster/sim"
	for _, bad := range []struct{ props, want string }{
		{`{"location":["localstorage:nobucket"]}`, "nobucket"},
		{`{"location":["` + loc + `"],"keyspace":["nosuchks"]}`, "nosuchks"},
		{`{"location":["dc9:` + loc + `"]}`, "dc9"},
		{`{"location":["` + loc + `"],"dc":["dc9"]}`, "dc9"},
	} {
		body := `{"type":"backup","enabled":true,"schedule":{"cron":"0 3 * * *"},"properties":` + bad.props + `}`
		_, b := e.call("POST", c+"/tasks", body, "task_update", http.StatusBadRequest, "")
		if er := errBody(t, b); !strings.Contains(er.Message, bad.want) {
			t.Errorf("create %s: %+v, want it to name %s", bad.props, er, bad.want)
		}
	}
	_, b := e.call("GET", c+"/tasks?all=true&type=backup", "", "", http.StatusOK, "task_list")
	if strings.TrimSpace(string(b)) != "[]" {
		t.Fatalf("a refused task was stored: %s", b)
	}

	good := `{"type":"backup","enabled":true,"schedule":{"cron":"0 3 * * *"},"properties":{"location":["` + loc + `"]}}`
	resp, _ := e.call("POST", c+"/tasks", good, "task_update", http.StatusCreated, "")
	path := resp.Header.Get("Location")
	// sctool's update (no type) with a keyspace that does not exist.
	_, b = e.call("PUT", path, `{"enabled":true,"schedule":{"cron":"0 3 * * *"},"properties":{"location":["`+loc+`"],"keyspace":["nosuchks"]}}`, "task_update", http.StatusBadRequest, "")
	if er := errBody(t, b); !strings.Contains(er.Message, "nosuchks") {
		t.Errorf("update: %+v, want it to name nosuchks", er)
	}
	_, b = e.call("GET", path, "", "", http.StatusOK, "task")
	if strings.Contains(string(b), "nosuchks") {
		t.Errorf("a refused update was stored: %s", b)
	}

	for _, m := range []string{``, `,"method":"auto"`} {
		_, b = e.call("GET", c+"/tasks/backup/target", `{"type":"backup","properties":{"location":["`+loc+`"]`+m+`}}`, "task_update", http.StatusOK, "backup_target")
		if !strings.Contains(string(b), `"method":"rclone"`) {
			t.Errorf("dry run with method %q: %s, want method rclone", m, b)
		}
	}
}
