package agentclient_test

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scyllaops/scyllaops/agentclient"
)

func newTestClient(t *testing.T, h http.Handler, opts agentclient.Options) *agentclient.Client {
	t.Helper()
	tr := agentclient.NewInProcessTransport()
	tr.Register("h1", h)
	c, err := agentclient.New(tr, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRetries(t *testing.T) {
	var calls atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/storage_service/cluster_name":
			if calls.Add(1) < 3 {
				http.Error(w, `{"message":"busy","code":503}`, http.StatusServiceUnavailable)
				return
			}
			_, _ = w.Write([]byte(`"c1"`))
		default:
			calls.Add(1)
			http.Error(w, `{"message":"unauthorized","code":401}`, http.StatusUnauthorized)
		}
	})
	c := newTestClient(t, h, agentclient.Options{RetryMax: 5, RetryWaitMin: time.Millisecond, RetryWaitMax: 2 * time.Millisecond})
	name, err := c.ClusterName(t.Context(), "h1")
	if err != nil || name != "c1" || calls.Load() != 3 {
		t.Fatalf("ClusterName = %q, %v after %d calls; want c1 after 3", name, err, calls.Load())
	}
	calls.Store(0)
	_, err = c.LiveNodes(t.Context(), "h1")
	if !errors.Is(err, agentclient.ErrUnauthorized) || calls.Load() != 1 {
		t.Fatalf("401 = %v after %d calls; want ErrUnauthorized, not retried", err, calls.Load())
	}
	// Exhausted retries return the last answer.
	c2 := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"message":"still busy","code":503}`, http.StatusServiceUnavailable)
	}), agentclient.Options{RetryMax: 2, RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond})
	if _, err := c2.ClusterName(t.Context(), "h1"); agentclient.StatusCode(err) != 503 || !strings.Contains(err.Error(), "still busy") {
		t.Fatalf("exhausted = %v", err)
	}
}

// TestTimeoutDoubles checks that a timed-out attempt is retried with a
// doubled per-attempt timeout: the first attempt blocks past its deadline,
// the second sees a deadline further away than the base timeout.
func TestTimeoutDoubles(t *testing.T) {
	const base = 300 * time.Millisecond
	var (
		mu        sync.Mutex
		remaining []time.Duration
	)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dl, ok := r.Context().Deadline()
		if !ok {
			http.Error(w, "no deadline", http.StatusInternalServerError)
			return
		}
		mu.Lock()
		remaining = append(remaining, time.Until(dl))
		n := len(remaining)
		mu.Unlock()
		if n == 1 {
			<-r.Context().Done()
			return
		}
		_, _ = w.Write([]byte(`"c1"`))
	})
	c := newTestClient(t, h, agentclient.Options{Timeout: base, RetryMax: 2, RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond})
	name, err := c.ClusterName(t.Context(), "h1")
	if err != nil || name != "c1" {
		t.Fatalf("ClusterName = %q, %v", name, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(remaining) != 2 || remaining[0] > base || remaining[1] <= base {
		t.Fatalf("per-attempt time left = %v; want the second attempt's timeout (2x%s) above the base", remaining, base)
	}
}

func TestNoTimeoutCalls(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.Context().Deadline(); ok {
			http.Error(w, "repair_status must have no client timeout", http.StatusBadRequest)
			return
		}
		_, _ = w.Write([]byte(`"SUCCESSFUL"`))
	})
	c := newTestClient(t, h, agentclient.Options{RetryMax: -1})
	if st, err := c.RepairStatus(t.Context(), "h1", 1, 0); err != nil || st != agentclient.RepairSuccessful {
		t.Fatalf("RepairStatus = %q, %v", st, err)
	}
}

// TestListInactivity: a listing that stops sending data fails after
// ListTimeout of silence, as unreachable.
func TestListInactivity(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"list":[{"Path":"a","Name":"a","Size":1,"IsDir":false},`))
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	c := newTestClient(t, h, agentclient.Options{RetryMax: -1, ListTimeout: 100 * time.Millisecond})
	var got []string
	err := c.List(t.Context(), "h1", agentclient.ListOptions{Fs: "s3:b"}, func(it agentclient.ListItem) error {
		got = append(got, it.Path)
		return nil
	})
	if !errors.Is(err, agentclient.ErrUnreachable) || !strings.Contains(err.Error(), "list timeout") || len(got) != 1 {
		t.Fatalf("List = %v, %v; want one item then an inactivity error", got, err)
	}
}

func TestInProcessTransportRouting(t *testing.T) {
	tr := agentclient.NewInProcessTransport()
	mk := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`"` + name + `"`)) })
	}
	tr.Register("10.0.0.1", mk("any-port"))
	tr.Register("10.0.0.1:10001", mk("exact"))
	c, err := agentclient.New(tr, agentclient.Options{RetryMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := c.ClusterName(t.Context(), "10.0.0.1"); n != "exact" {
		t.Fatalf("host:port registration not preferred: %q", n)
	}
	tr.Unregister("10.0.0.1:10001")
	if n, _ := c.ClusterName(t.Context(), "10.0.0.1"); n != "any-port" {
		t.Fatalf("host registration not used: %q", n)
	}
	tr.Unregister("10.0.0.1")
	if _, err := c.ClusterName(t.Context(), "10.0.0.1"); !errors.Is(err, agentclient.ErrUnreachable) {
		t.Fatalf("after Unregister: %v", err)
	}
	// A panicking handler is an error, not a crash.
	tr.Register("10.0.0.2", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	if _, err := c.ClusterName(t.Context(), "10.0.0.2"); err == nil || !strings.Contains(err.Error(), "panic") {
		t.Fatalf("panicking handler = %v", err)
	}
}

// TestFinalErrorsNotRetried: known final Scylla errors stop retries.
func TestFinalErrorsNotRetried(t *testing.T) {
	var calls atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		switch r.URL.Path {
		case "/storage_service/snapshots":
			http.Error(w, `{"message":"Keyspace ks1: snapshot sm_1 already exists.","code":500}`, http.StatusInternalServerError)
		case "/storage_service/repair_status":
			http.Error(w, `{"message":"unknown repair id 7","code":500}`, http.StatusInternalServerError)
		default:
			http.Error(w, `{"message":"transient","code":500}`, http.StatusInternalServerError)
		}
	})
	c := newTestClient(t, h, agentclient.Options{RetryMax: 3, RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond})
	if err := c.TakeSnapshot(t.Context(), "h1", "sm_1", "ks1"); err != nil || calls.Load() != 1 {
		t.Fatalf("TakeSnapshot = %v after %d calls; want success after 1", err, calls.Load())
	}
	calls.Store(0)
	if _, err := c.RepairStatus(t.Context(), "h1", 7, 0); err == nil || !strings.Contains(err.Error(), "unknown repair id") || calls.Load() != 1 {
		t.Fatalf("RepairStatus = %v after %d calls; want the error after 1", err, calls.Load())
	}
	calls.Store(0)
	if _, err := c.ClusterName(t.Context(), "h1"); err == nil || calls.Load() != 4 {
		t.Fatalf("transient 500 = %v after %d calls; want 4 (1 + 3 retries)", err, calls.Load())
	}
}

func TestLoadSSTablesPollsWhileAlreadyLoading(t *testing.T) {
	var calls atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("load_and_stream") != "true" {
			http.Error(w, "want load_and_stream", http.StatusBadRequest)
			return
		}
		if calls.Add(1) < 3 {
			http.Error(w, `{"message":"Already loading SSTables. Try again later","code":500}`, http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	c := newTestClient(t, h, agentclient.Options{RetryMax: 5, RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond})
	err := c.LoadSSTables(t.Context(), "h1", "ks", "t", agentclient.LoadSSTablesOptions{LoadAndStream: true, PollInterval: time.Millisecond})
	if err != nil || calls.Load() != 3 {
		t.Fatalf("LoadSSTables = %v after %d calls; want success after 3", err, calls.Load())
	}
}
