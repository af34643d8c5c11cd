package scyllaops_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/healthcheck"
	"github.com/scyllaops/scyllaops/scyllatest"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/memstore"
	"github.com/scyllaops/scyllaops/webhook"
)

// Health-check runs reuse one run record, yet the task list counts every
// DONE run in success_count, and each run's webhook event has its own id
// (receivers that deduplicate by id would drop the later ones).
func TestHealthcheckRunsCountedAndEventsUnique(t *testing.T) {
	events := make(chan webhook.Event, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var ev webhook.Event
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Errorf("event %s: %v", b, err)
			return
		}
		events <- ev
	}))
	t.Cleanup(srv.Close)

	sim := scyllatest.New(t, scyllatest.Options{})
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	m, err := scyllaops.New(st, sim.Transport(), scyllaops.Options{Healthcheck: healthcheck.Options{Timeout: 15 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	runManager(t, m)
	ctx := t.Context()
	c, err := m.CreateCluster(ctx, scyllaops.Cluster{Name: "sim", Host: sim.ContactHost(), AuthToken: sim.AuthToken(), WithoutRepair: true,
		Labels: map[string]string{webhook.Label: srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	disableHealthchecks(t, m, c.ID)
	items, err := m.ListTasks(ctx, c.ID, scyllaops.TaskFilter{All: true, Type: healthcheck.TaskType})
	if err != nil || len(items) == 0 {
		t.Fatalf("health-check tasks: %v %v", items, err)
	}
	task := items[0].Task

	const runs = 3
	ids := map[string]bool{}
	for i := range runs {
		deadline := time.Now().Add(time.Minute)
		for {
			err := m.StartTask(ctx, c.ID, task.ID, false)
			if err == nil {
				break
			}
			if !errors.Is(err, store.ErrConflict) || time.Now().After(deadline) {
				t.Fatalf("start %d: %v", i, err)
			}
			time.Sleep(20 * time.Millisecond) // the previous run is still finishing
		}
		select {
		case ev := <-events:
			if ev.Data.Status != store.StatusDone || ev.Data.TaskID != task.ID {
				t.Fatalf("run %d: event %+v", i, ev.Data)
			}
			if ids[ev.ID] {
				t.Errorf("run %d: event id %q already sent for an earlier run", i, ev.ID)
			}
			ids[ev.ID] = true
		case <-time.After(time.Minute):
			t.Fatalf("run %d: no webhook event", i)
		}
	}
	items, err = m.ListTasks(ctx, c.ID, scyllaops.TaskFilter{All: true, TaskID: task.ID})
	if err != nil || len(items) != 1 {
		t.Fatalf("list: %v %v", items, err)
	}
	if it := items[0]; it.SuccessCount != runs || it.ErrorCount != 0 || it.LastSuccess == nil {
		t.Errorf("success_count %d, error_count %d, last_success %v; want %d, 0, set", it.SuccessCount, it.ErrorCount, it.LastSuccess, runs)
	}
	// The counts are not progress.
	_, prog, err := m.RunProgress(ctx, c.ID, task.ID, "latest")
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(prog, &obj); err != nil {
		t.Fatal(err)
	}
	if _, ok := obj["_run_counts"]; ok {
		t.Errorf("progress shows the run counts: %s", prog)
	}
}
