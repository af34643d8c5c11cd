package healthcheck

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/internal/agentapi"
)

// fakeFleet is a ClusterSource of n nodes "h-0000"… whose Agent records
// when each REST ping starts and how many are in flight, answers after
// delay, and fails the hosts in down.
type fakeFleet struct {
	id    uuid.UUID
	n     int
	delay time.Duration
	// nodeInfoDelay delays node_info answers.
	nodeInfoDelay time.Duration
	down          map[string]bool

	mu          sync.Mutex
	started     map[string]time.Time
	inFlight    int
	maxInFlight int
}

func newFakeFleet(n int) *fakeFleet {
	return &fakeFleet{id: uuid.New(), n: n, started: map[string]time.Time{}, down: map[string]bool{}}
}

func fleetHost(i int) string { return fmt.Sprintf("h-%04d", i) }

func (f *fakeFleet) HealthcheckCluster(_ context.Context, id uuid.UUID) (Cluster, error) {
	if id != f.id {
		return Cluster{}, errors.New("no such cluster")
	}
	c := Cluster{Agent: f}
	for i := range f.n {
		c.Nodes = append(c.Nodes, Node{Host: fleetHost(i), DC: "dc1", Rack: "rack1"})
	}
	return c, nil
}

func (f *fakeFleet) NodeInfo(ctx context.Context, _ string) (*agentapi.NodeInfo, error) {
	if f.nodeInfoDelay > 0 {
		select {
		case <-time.After(f.nodeInfoDelay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return &agentapi.NodeInfo{RPCAddress: "127.0.0.1", NativeTransportPort: "9042"}, nil
}

func (f *fakeFleet) ScyllaReleaseVersion(ctx context.Context, host string) (string, error) {
	f.mu.Lock()
	f.started[host] = time.Now()
	f.inFlight++
	f.maxInFlight = max(f.maxInFlight, f.inFlight)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
	}()
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	if f.down[host] {
		return "", errors.New("connection refused")
	}
	return "2025.1.0", nil
}

func runRound(t *testing.T, s *Service, id uuid.UUID, mode Mode) {
	t.Helper()
	if err := s.Run(t.Context(), id, uuid.New(), uuid.New(), json.RawMessage(`{"mode":"`+string(mode)+`"}`)); err != nil {
		t.Fatal(err)
	}
}

// TestRoundSpreadsPings: a scheduled round of 1,000 nodes starts node i's
// ping within the i-th of 1,000 equal slots of the 10 s window (rounded up
// to the next step), not all at once (as every round did before).
func TestRoundSpreadsPings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 1000
		f := newFakeFleet(n)
		s := newTestService(t, f, Options{Spread: 10 * time.Second, SpreadStep: -1})
		start := time.Now()
		runRound(t, s, f.id, ModeREST)
		took := time.Since(start)
		window := min(10*time.Second, n*SpreadPerNode)
		slot := window / n
		if took < window-slot || took > window+time.Second {
			t.Errorf("the round took %s, want about the %s window", took, window)
		}
		for i := range n {
			at, ok := f.started[fleetHost(i)]
			if !ok {
				t.Fatalf("%s not pinged", fleetHost(i))
			}
			if off := at.Sub(start); off < time.Duration(i)*slot || off >= time.Duration(i+1)*slot {
				t.Fatalf("%s pinged %s after the start, want within [%s, %s)", fleetHost(i), off, time.Duration(i)*slot, time.Duration(i+1)*slot)
			}
		}
	})
}

// TestRoundStartsPingsInSteps: with the default SpreadStep the pings of a
// round start in batches on the clock's whole seconds (one wake-up per
// second for the whole round), each no earlier than its moment in the
// window and less than a step after its slot; two rounds running at once
// (two modes, two clusters) start theirs at the same instants.
func TestRoundStartsPingsInSteps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 250
		f1, f2 := newFakeFleet(n), newFakeFleet(n)
		s1 := newTestService(t, f1, Options{})
		s2 := newTestService(t, f2, Options{})
		time.Sleep(300 * time.Millisecond) // start off the grid
		start := time.Now()
		var wg sync.WaitGroup
		wg.Go(func() { runRound(t, s1, f1.id, ModeREST) })
		wg.Go(func() { runRound(t, s2, f2.id, ModeREST) })
		wg.Wait()
		window := min(DefaultSpread, n*SpreadPerNode)
		slot := window / n
		instants := map[time.Time]bool{}
		for _, f := range []*fakeFleet{f1, f2} {
			if len(f.started) != n {
				t.Fatalf("%d nodes pinged, want %d", len(f.started), n)
			}
			for i := range n {
				at := f.started[fleetHost(i)]
				if !at.Equal(at.Truncate(DefaultSpreadStep)) {
					t.Fatalf("%s pinged at %s, not on a whole second", fleetHost(i), at)
				}
				if off := at.Sub(start); off < time.Duration(i)*slot || off >= time.Duration(i+1)*slot+DefaultSpreadStep {
					t.Fatalf("%s pinged %s after the start, want within [%s, %s)", fleetHost(i), off, time.Duration(i)*slot, time.Duration(i+1)*slot+DefaultSpreadStep)
				}
				instants[at] = true
			}
		}
		if most := int(window/DefaultSpreadStep) + 1; len(instants) > most {
			t.Errorf("the two rounds started their pings at %d instants, want <= %d (one per step)", len(instants), most)
		}
		if len(instants) < int(window/DefaultSpreadStep) {
			t.Errorf("the pings started at %d instants, want them spread over the %s window", len(instants), window)
		}
	})
}

// TestRoundWindowFollowsClusterSize: a small cluster's round is spread
// over SpreadPerNode per node only (plus at most one step), and on-demand
// calls are not spread.
func TestRoundWindowFollowsClusterSize(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeFleet(3)
		s := newTestService(t, f, Options{})
		start := time.Now()
		runRound(t, s, f.id, ModeREST)
		if took := time.Since(start); took > 3*SpreadPerNode+DefaultSpreadStep {
			t.Errorf("a round of 3 nodes took %s, want <= %s", took, 3*SpreadPerNode+DefaultSpreadStep)
		}
		s = newTestService(t, f, Options{SpreadStep: -1})
		start = time.Now()
		runRound(t, s, f.id, ModeREST)
		if took := time.Since(start); took > 3*SpreadPerNode {
			t.Errorf("a round of 3 nodes without steps took %s, want <= %s", took, 3*SpreadPerNode)
		}
		start = time.Now()
		if _, err := s.Check(t.Context(), f.id, ModeREST); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took != 0 {
			t.Errorf("an on-demand check took %s of (fake) time, want 0: not spread", took)
		}
	})
}

// TestRoundBoundsParallelism: with pings slower than the slots, a round
// keeps at most DefaultRoundParallel in flight (before, all of them).
func TestRoundBoundsParallelism(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeFleet(500)
		f.delay = 900 * time.Millisecond
		s := newTestService(t, f, Options{Spread: time.Second})
		runRound(t, s, f.id, ModeREST)
		if f.maxInFlight > DefaultRoundParallel || f.maxInFlight < DefaultRoundParallel/2 {
			t.Errorf("%d pings in flight at most, want up to %d", f.maxInFlight, DefaultRoundParallel)
		}
		if len(f.started) != 500 {
			t.Errorf("%d nodes pinged, want 500", len(f.started))
		}
	})
}

// TestNodeInfoTimedApartFromPing: a node_info fetch slower than the ping
// timeout (but within NodeInfoTimeout) no longer turns the CQL ping into
// a TIMEOUT: the ping's deadline starts after it.
func TestNodeInfoTimedApartFromPing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeFleet(2)
		f.nodeInfoDelay = 1500 * time.Millisecond
		dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
			client, server := net.Pipe()
			go serveCQL(server, "", "")
			return client, ctx.Err()
		}
		s := newTestService(t, f, Options{Timeout: time.Second, Dialer: dial})
		got, err := s.Check(t.Context(), f.id, ModeCQL)
		if err != nil {
			t.Fatal(err)
		}
		for _, ns := range got {
			if ns.CQL.Status != StatusUp {
				t.Errorf("%s: cql %s (%v), want UP", ns.Host, ns.CQL.Status, ns.CQL.Err)
			}
		}
		// Past NodeInfoTimeout it is the agent's fault, reported as such.
		f2 := newFakeFleet(1)
		f2.nodeInfoDelay = time.Hour
		s2 := newTestService(t, f2, Options{Timeout: time.Second, NodeInfoTimeout: 2 * time.Second, Dialer: dial})
		start := time.Now()
		got, err = s2.Check(t.Context(), f2.id, ModeCQL)
		if err != nil {
			t.Fatal(err)
		}
		if r := got[0].CQL; r.Status != StatusTimeout || !r.AgentDown {
			t.Errorf("hung node_info: cql %s agent down %v, want TIMEOUT by the agent", r.Status, r.AgentDown)
		}
		if took := time.Since(start); took != 2*time.Second {
			t.Errorf("hung node_info: took %s, want NodeInfoTimeout (2s)", took)
		}
	})
}

// TestRoundLogsFailureSummary: a round with failed pings logs one warning
// that sums them up; a round without logs no warning.
func TestRoundLogsFailureSummary(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewJSONHandler(&lockedWriter{mu: &mu, w: &buf}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	f := newFakeFleet(30)
	s := newTestService(t, f, Options{Logger: log, Spread: -1})
	runRound(t, s, f.id, ModeREST)
	mu.Lock()
	if buf.Len() != 0 {
		t.Errorf("all up, want no log at info level or above, got:\n%s", buf.String())
	}
	buf.Reset()
	mu.Unlock()

	for i := range 12 {
		f.down[fleetHost(i)] = true
	}
	runRound(t, s, f.id, ModeREST)
	mu.Lock()
	defer mu.Unlock()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one summary line, got %d:\n%s", len(lines), buf.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"level": "WARN", "msg": "health check: pings failed", "mode": "rest", "nodes": 30.0, "failed": 12.0,
		"agent_down": 0.0, "statuses": "DOWN=12",
	}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("%s = %v, want %v", k, rec[k], v)
		}
	}
	hosts, _ := rec["hosts"].(string)
	if !strings.HasPrefix(hosts, "h-0000 DOWN, h-0001 DOWN") || !strings.HasSuffix(hosts, "… 2 more") {
		t.Errorf("hosts = %q, want the first 10 and \"… 2 more\"", hosts)
	}
	if e, _ := rec["first_error"].(string); !strings.Contains(e, "connection refused") {
		t.Errorf("first_error = %q, want the cause", e)
	}
	if rec["cluster"] != f.id.String() {
		t.Errorf("cluster = %v, want %s", rec["cluster"], f.id)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
