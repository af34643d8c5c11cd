package main

import (
	"net/http"
	"net/url"
	"testing"
)

// The suspend and resume flags reach the API as Scylla Manager's query
// parameters (PUT /cluster/{id}/suspended, body true or false).
func TestSuspendResumeFlags(t *testing.T) {
	f, rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut || r.URL.Path != "/api/v1/cluster/prod/suspended" {
			http.Error(w, `{"message":"unexpected `+r.Method+" "+r.URL.Path+`"}`, http.StatusNotFound)
		}
	})
	for _, tc := range []struct {
		args []string
		body string
		want url.Values
	}{
		{[]string{"suspend", "-c", "prod", "--no-continue"}, "true", url.Values{"no_continue": {"true"}}},
		{[]string{"suspend", "-c", "prod"}, "true", url.Values{}},
		{[]string{"resume", "-c", "prod", "--start-tasks-missed-activation", "--no-continue"}, "false",
			url.Values{"start_tasks": {"false"}, "start_tasks_missed_activation": {"true"}, "no_continue": {"true"}}},
		{[]string{"resume", "-c", "prod", "--start-tasks"}, "false", url.Values{"start_tasks": {"true"}}},
	} {
		rec.take()
		f.ok(tc.args...)
		got := rec.take()
		if len(got) != 1 {
			t.Fatalf("sctool %v: %d requests, want 1", tc.args, len(got))
		}
		body, raw := got[0].Body, got[0].Query
		q, err := url.ParseQuery(raw)
		if err != nil {
			t.Fatal(err)
		}
		if body != tc.body || q.Encode() != tc.want.Encode() {
			t.Errorf("sctool %v: body %s query %q, want %s %q", tc.args, body, q.Encode(), tc.body, tc.want.Encode())
		}
	}
}
