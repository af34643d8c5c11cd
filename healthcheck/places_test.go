package healthcheck

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/internal/agentapi"
	"github.com/scyllaops/scyllaops/store"
)

// slowSnitchAgent answers the discovery of nodes 10.0.0.1..n from any
// host, its DC and rack calls each taking delay.
type slowSnitchAgent struct {
	n        int
	delay    time.Duration
	dcCalls  atomic.Int64
	canceled atomic.Int64
}

func (a *slowSnitchAgent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/storage_service/host_id":
		var kv []agentapi.KeyValue
		for i := range a.n {
			kv = append(kv, agentapi.KeyValue{Key: fmt.Sprintf("10.0.0.%d", i+1), Value: fmt.Sprintf("id-%d", i+1)})
		}
		_ = json.NewEncoder(w).Encode(kv)
	case "/snitch/datacenter", "/snitch/rack":
		if r.URL.Path == "/snitch/datacenter" {
			a.dcCalls.Add(1)
		}
		select {
		case <-time.After(a.delay):
		case <-r.Context().Done():
			a.canceled.Add(1)
			return
		}
		v := "dc1"
		if r.URL.Path == "/snitch/rack" {
			v = "rack1"
		}
		_ = json.NewEncoder(w).Encode(v)
	default:
		http.NotFound(w, r)
	}
}

// fakeClusters is one cluster whose agents are a slowSnitchAgent.
type fakeClusters struct {
	sc *store.Cluster
	cl *agentclient.Client
}

func (f *fakeClusters) ResolveCluster(context.Context, string) (uuid.UUID, error) {
	return f.sc.ID, nil
}

func (f *fakeClusters) StoredCluster(context.Context, uuid.UUID) (*store.Cluster, error) {
	return f.sc, nil
}

func (f *fakeClusters) CQLCredentials(context.Context, uuid.UUID) (string, string, error) {
	return "", "", nil
}

func (f *fakeClusters) TLSIdentity(context.Context, uuid.UUID) (*tls.Certificate, error) {
	return nil, nil
}

func (f *fakeClusters) PingClient(context.Context, uuid.UUID) (*agentclient.Client, error) {
	return f.cl, nil
}

// TestDiscoveryPlacesOutliveContactTimeout: the DC and rack calls of a
// new cluster's nodes, many more than the discovery's own, run under the
// node_info timeout, not the (ping) contact timeout that would cut them
// short round after round; once known they are not asked again.
func TestDiscoveryPlacesOutliveContactTimeout(t *testing.T) {
	const nodes = 40
	// 40 nodes × 2 calls of 60 ms, 16 at once: ~300 ms, over the 100 ms
	// contact timeout, well within the 10 s places timeout.
	agent := &slowSnitchAgent{n: nodes, delay: 60 * time.Millisecond}
	tr := agentclient.NewInProcessTransport()
	tr.Register("10.0.0.1", agent)
	cl, err := agentclient.New(tr, agentclient.Options{AuthToken: "t", RetryMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	fc := &fakeClusters{sc: &store.Cluster{ID: uuid.New(), Name: "c", Host: "10.0.0.1"}, cl: cl}
	h, err := NewAPI(fc, APIOptions{
		Logger:  slog.New(slog.DiscardHandler),
		Service: Options{Timeout: 100 * time.Millisecond, NodeInfoTimeout: 10 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := h.HealthcheckCluster(t.Context(), fc.sc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Nodes) != nodes {
		t.Fatalf("%d nodes, want %d", len(c.Nodes), nodes)
	}
	for _, n := range c.Nodes {
		if n.DC != "dc1" || n.Rack != "rack1" {
			t.Errorf("%s: DC %q rack %q, want dc1 rack1", n.Host, n.DC, n.Rack)
		}
	}
	if got := agent.canceled.Load(); got != 0 {
		t.Errorf("%d DC/rack calls canceled, want 0", got)
	}
	if got := agent.dcCalls.Load(); got != nodes {
		t.Errorf("%d DC calls, want %d (one per node)", got, nodes)
	}
	// The next discoveries (every mode's run, every round) ask none.
	for range 3 {
		c, err = h.HealthcheckCluster(t.Context(), fc.sc.ID)
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := agent.dcCalls.Load(); got != nodes {
		t.Errorf("%d DC calls after 3 more discoveries, want still %d", got, nodes)
	}
	if c.Nodes[nodes-1].DC != "dc1" {
		t.Errorf("remembered place lost: %+v", c.Nodes[nodes-1])
	}
}
