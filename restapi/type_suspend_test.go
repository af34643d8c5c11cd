package restapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scyllaops/scyllaops/scyllatest"
)

// A suspend task goes through the generic task endpoints: bad properties
// are a 400 naming the field; an ad-hoc one (start_date now, as sctool
// suspend --duration sends) suspends the cluster, allowing its own type,
// and resumes it after the duration; its run progress is {}.
func TestSuspendTaskAPI(t *testing.T) {
	e, sc := newSimEnv(t, scyllatest.Options{})
	e.run()
	c := "/api/v1/cluster/" + e.addCluster(sc)

	for body, field := range map[string]string{
		`{"type":"suspend","enabled":true,"properties":{}}`:                      "duration",
		`{"type":"suspend","enabled":true,"properties":{"duration":"0s"}}`:       "duration",
		`{"type":"suspend","enabled":true,"properties":{"duration":"1h","x":1}}`: "x",
	} {
		_, b := e.call("POST", c+"/tasks", body, "task_update", http.StatusBadRequest, "")
		if er := errBody(t, b); !strings.Contains(er.Message, field) {
			t.Errorf("POST %s: message %q, want it to name %s", body, er.Message, field)
		}
	}

	now := time.Now().UTC().Format(time.RFC3339)
	body := `{"type":"suspend","enabled":true,"schedule":{"start_date":"` + now + `","num_retries":3},"properties":{"duration":"1s"}}`
	resp, _ := e.call("POST", c+"/tasks", body, "task_update", http.StatusCreated, "")
	loc := resp.Header.Get("Location")
	if !strings.Contains(loc, "/task/suspend/") {
		t.Fatalf("Location %q, want .../task/suspend/<id>", loc)
	}
	id := loc[strings.LastIndex(loc, "/")+1:]

	deadline := time.Now().Add(time.Minute)
	for {
		d, err := e.client.SuspendDetails(t.Context(), "sim")
		if err != nil {
			t.Fatal(err)
		}
		if d.Suspended {
			if !strings.Contains(d.AllowTaskType, "suspend") {
				t.Errorf("allow_task_type %q, want suspend in it", d.AllowTaskType)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the ad-hoc suspend task did not suspend the cluster")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for {
		p, err := e.client.RunProgress(t.Context(), "sim", "suspend", id, "latest")
		if err != nil {
			t.Fatal(err)
		}
		if p.Run.Status == "DONE" {
			if string(p.Progress) != "{}" {
				t.Errorf("progress %s, want {}", p.Progress)
			}
			break
		}
		if p.Run.Status == "ERROR" || time.Now().After(deadline) {
			t.Fatalf("suspend run %s (%s), want DONE", p.Run.Status, p.Run.Cause)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if s, err := e.client.Suspended(t.Context(), "sim"); err != nil || s {
		t.Errorf("suspended after the run = %v, %v; want false", s, err)
	}
}
