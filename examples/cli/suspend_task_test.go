package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scyllaops/scyllaops/restapi"
)

// suspend --duration creates a suspend task (POST tasks, as sctool) with
// the duration and start_tasks properties and a start date of now, and
// prints its ID; without --duration or a schedule it stays a plain
// suspend; a schedule without --duration is refused naming the flag.
func TestSuspendDurationCreatesTask(t *testing.T) {
	f, rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/api/v1/cluster/prod/tasks" {
			w.Header().Set("Location", "/api/v1/cluster/prod/task/suspend/0b7e7a2e-0000-4000-8000-000000000001")
			w.WriteHeader(http.StatusCreated)
		}
	})
	last := func() (method, path string, body map[string]any) {
		t.Helper()
		reqs := rec.take()
		if len(reqs) == 0 {
			t.Fatal("no request")
		}
		r := reqs[len(reqs)-1]
		if strings.HasPrefix(r.Body, "{") {
			if err := json.Unmarshal([]byte(r.Body), &body); err != nil {
				t.Fatalf("body %s: %v", r.Body, err)
			}
		}
		return r.Method, r.Path, body
	}

	before := time.Now().Add(-time.Second)
	out := f.ok("suspend", "-c", "prod", "--duration", "2h", "--on-resume-start-tasks")
	if strings.TrimSpace(out) != "suspend/0b7e7a2e-0000-4000-8000-000000000001" {
		t.Errorf("output %q, want the task ID", out)
	}
	method, path, body := last()
	if method != http.MethodPost || path != "/api/v1/cluster/prod/tasks" {
		t.Fatalf("request %s %s, want POST .../tasks", method, path)
	}
	props, _ := body["properties"].(map[string]any)
	if body["type"] != "suspend" || body["enabled"] != true || props["duration"] != "2h" || props["start_tasks"] != true || len(props) != 2 {
		t.Errorf("task %v, want an enabled suspend task with properties {duration: 2h, start_tasks: true}", body)
	}
	sched, _ := body["schedule"].(map[string]any)
	sd, _ := sched["start_date"].(string)
	if st, err := time.Parse(time.RFC3339, sd); err != nil || st.Before(before) || st.After(time.Now().Add(time.Second)) {
		t.Errorf("start_date %q, want now (the task runs at once)", sd)
	}

	f.ok("suspend", "-c", "prod", "--duration", "30m", "--allow-task-type", "backup", "--cron", "0 22 * * SAT")
	_, _, body = last()
	props, _ = body["properties"].(map[string]any)
	sched, _ = body["schedule"].(map[string]any)
	if props["duration"] != "30m" || props["allow_task_type"] != "backup" || sched["cron"] != "0 22 * * SAT" {
		t.Errorf("scheduled suspend task %v", body)
	}

	f.ok("suspend", "-c", "prod")
	if method, path, body := last(); method != http.MethodPut || path != "/api/v1/cluster/prod/suspended" || body != nil {
		t.Errorf("plain suspend: %s %s %v, want PUT .../suspended", method, path, body)
	}

	_, errs, code := f.sctool("suspend", "-c", "prod", "--cron", "@daily")
	if code == 0 || !strings.Contains(errs, "duration") {
		t.Errorf("--cron without --duration: exit %d, stderr %q; want a failure naming duration", code, errs)
	}
}

// End to end: suspend --duration suspends the cluster at once (tasks
// shows it) and resumes it after the duration.
func TestSuspendDurationEndToEnd(t *testing.T) {
	f := newRunningFixture(t)
	f.ok("cluster", "add", "--id", id1, "--name", "prod", "--host", f.sc.ContactHost(), "--auth-token", f.sc.AuthToken())
	out := strings.TrimSpace(f.ok("suspend", "-c", "prod", "--duration", "4s"))
	if !strings.HasPrefix(out, "suspend/") {
		t.Fatalf("output %q, want suspend/<id>", out)
	}
	c, err := restapi.NewClient(f.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	suspended := func() bool {
		s, err := c.Suspended(t.Context(), "prod")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	deadline := time.Now().Add(3 * time.Second)
	for !suspended() {
		if time.Now().After(deadline) {
			t.Fatal("the cluster is not suspended")
		}
		time.Sleep(50 * time.Millisecond)
	}
	f.waitDone("prod", out)
	if suspended() {
		t.Error("the cluster is still suspended after the suspend task's run")
	}
}
