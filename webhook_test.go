package scyllaops_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/scheduler"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/memstore"
	"github.com/scyllaops/scyllaops/webhook"
)

// TestWebhookRunEnd: the cluster's webhook receives a CloudEvents event
// when a run ends; a 500 answer is retried.
func TestWebhookRunEnd(t *testing.T) {
	var calls atomic.Int32
	got := make(chan []byte, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Header.Get("Content-Type") != "application/cloudevents+json" {
			t.Errorf("content type %q", r.Header.Get("Content-Type"))
		}
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		got <- b
	}))
	defer srv.Close()

	st := memstore.New()
	m, err := scyllaops.New(st, nil, scyllaops.Options{SkipConnectivityCheck: true, OwnerID: "m1"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	c, err := m.CreateCluster(ctx, scyllaops.Cluster{Name: "prod", Host: "10.0.0.1", Labels: map[string]string{webhook.Label: srv.URL + "/hook"}})
	if err != nil {
		t.Fatal(err)
	}
	disableHealthchecks(t, m, c.ID)
	m.RegisterRunner("backup", scheduler.RunnerFunc(func(context.Context, uuid.UUID, uuid.UUID, uuid.UUID, json.RawMessage) error { return nil }))
	task, err := m.CreateTask(ctx, store.Task{ClusterID: c.ID, Type: "backup", Name: "b1", Schedule: store.Schedule{Cron: "@yearly"}})
	if err != nil {
		t.Fatal(err)
	}
	// A start before Run waits for it.
	if err := m.StartTask(ctx, c.ID, task.ID, true); err != nil {
		t.Fatal(err)
	}
	runManager(t, m)
	var body []byte
	select {
	case body = <-got:
	case <-time.After(20 * time.Second):
		t.Fatalf("no webhook delivery (%d calls)", calls.Load())
	}
	var ev webhook.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Fatal(err)
	}
	d := ev.Data
	if ev.SpecVersion != "1.0" || ev.Type != webhook.EventType || ev.ID == "" || ev.Source == "" || ev.Time.IsZero() ||
		d.ClusterID != c.ID || d.ClusterName != "prod" || d.TaskID != task.ID || d.TaskType != "backup" || d.TaskName != "b1" ||
		d.Status != store.StatusDone || !d.Final || d.Owner != "m1" || d.RunID == uuid.Nil {
		t.Errorf("event %s", body)
	}
	if calls.Load() != 2 {
		t.Errorf("%d POSTs, want 2 (one retry after the 500)", calls.Load())
	}
}

// TestWebhookAtShutdown: a run ended by the Manager's shutdown (ABORTED,
// to be resumed) is still announced: Run delivers the queued events
// before it returns.
func TestWebhookAtShutdown(t *testing.T) {
	got := make(chan webhook.Event, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev webhook.Event
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		got <- ev
	}))
	defer srv.Close()

	m, err := scyllaops.New(memstore.New(), nil, scyllaops.Options{SkipConnectivityCheck: true, OwnerID: "m1"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	c, err := m.CreateCluster(ctx, scyllaops.Cluster{Name: "prod", Host: "10.0.0.1", Labels: map[string]string{webhook.Label: srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	disableHealthchecks(t, m, c.ID)
	running := make(chan struct{})
	m.RegisterRunner("backup", scheduler.RunnerFunc(func(ctx context.Context, _, _, _ uuid.UUID, _ json.RawMessage) error {
		close(running)
		<-ctx.Done()
		return context.Cause(ctx)
	}))
	task, err := m.CreateTask(ctx, store.Task{ClusterID: c.ID, Type: "backup", Name: "b1", Schedule: store.Schedule{Cron: "@yearly"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.StartTask(ctx, c.ID, task.ID, true); err != nil {
		t.Fatal(err)
	}
	stop := runManager(t, m)
	select {
	case <-running:
	case <-time.After(20 * time.Second):
		t.Fatal("the run did not start")
	}
	stop() // returns after Run returned
	select {
	case ev := <-got:
		if ev.Data.Status != store.StatusAborted || ev.Data.TaskID != task.ID || ev.Data.Final {
			t.Errorf("event at shutdown: %+v; want this task's run ABORTED, not final", ev.Data)
		}
	default:
		t.Fatal("Run returned without delivering the event of the run its shutdown aborted")
	}
}
