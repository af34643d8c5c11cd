package healthcheck

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/scyllaops/scyllaops/store"
)

func newTestService(t *testing.T, src ClusterSource, opts Options) *Service {
	t.Helper()
	s, err := New(src, opts)
	if err != nil {
		t.Fatal(err)
	}
	// The kept connections end with the test (inside a synctest bubble
	// too, whose servers' goroutines must end with them).
	t.Cleanup(s.Close)
	return s
}

// statuses returns host → status of mode.
func statuses(nodes []NodeStatus, mode Mode) map[string]string {
	out := map[string]string{}
	for i := range nodes {
		out[nodes[i].Host] = nodes[i].result(mode).Status
	}
	return out
}

func want(lc *lightCluster, status string, except map[int]string) map[string]string {
	out := map[string]string{}
	for i, n := range lc.nodes {
		out[n.Host] = status
		if s, ok := except[i]; ok {
			out[n.Host] = s
		}
	}
	return out
}

func TestCheckLight(t *testing.T) {
	const timeout = 500 * time.Millisecond
	tests := []struct {
		name       string
		user, pass string // cluster's CQL credentials
		srvUser    string // server's CQL user (password "secret")
		mode       Mode
		fault      func(lc *lightCluster)
		want       map[int]string
		upStatus   string
	}{
		{name: "cql options all up", mode: ModeCQL},
		{name: "cql query all up", mode: ModeCQL, user: "cassandra", pass: "secret", srvUser: "cassandra"},
		{name: "cql query without auth on the server", mode: ModeCQL, user: "cassandra", pass: "secret"},
		{name: "rest all up", mode: ModeREST},
		{name: "cql wrong password", mode: ModeCQL, user: "cassandra", pass: "wrong", srvUser: "cassandra", upStatus: StatusUnauthorized},
		{
			name: "cql options node stopped", mode: ModeCQL,
			fault: func(lc *lightCluster) { lc.nodes[1].cql.close() },
			want:  map[int]string{1: StatusDown},
		},
		{
			name: "cql query node stopped", mode: ModeCQL, user: "cassandra", pass: "secret", srvUser: "cassandra",
			fault: func(lc *lightCluster) { lc.nodes[1].cql.close() },
			want:  map[int]string{1: StatusDown},
		},
		{
			name: "cql options node hung", mode: ModeCQL,
			fault: func(lc *lightCluster) { lc.nodes[2].cql.hang.Store(true) },
			want:  map[int]string{2: StatusTimeout},
		},
		{
			name: "cql query node hung", mode: ModeCQL, user: "cassandra", pass: "secret", srvUser: "cassandra",
			fault: func(lc *lightCluster) { lc.nodes[2].cql.hang.Store(true) },
			want:  map[int]string{2: StatusTimeout},
		},
		{
			name: "cql agent hung", mode: ModeCQL,
			fault: func(lc *lightCluster) { lc.nodes[0].agent.hang.Store(true) },
			want:  map[int]string{0: StatusTimeout},
		},
		{
			name: "cql agent gone", mode: ModeCQL,
			fault: func(lc *lightCluster) { lc.tr.Unregister(lc.nodes[0].Host) },
			want:  map[int]string{0: StatusError},
		},
		{
			name: "rest agent hung", mode: ModeREST,
			fault: func(lc *lightCluster) { lc.nodes[2].agent.hang.Store(true) },
			want:  map[int]string{2: StatusTimeout},
		},
		{
			name: "rest scylla 500", mode: ModeREST,
			fault: func(lc *lightCluster) { lc.nodes[1].agent.restStatus.Store(500) },
			want:  map[int]string{1: "HTTP 500"},
		},
		{
			name: "rest agent refuses token", mode: ModeREST,
			fault: func(lc *lightCluster) { lc.nodes[1].agent.restStatus.Store(401) },
			want:  map[int]string{1: StatusUnauthorized},
		},
		{
			name: "rest agent gone", mode: ModeREST,
			fault: func(lc *lightCluster) { lc.tr.Unregister(lc.nodes[0].Host) },
			want:  map[int]string{0: StatusDown},
		},
		{name: "alternator disabled everywhere", mode: ModeAlternator, upStatus: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lc := newLightCluster(t, 4, tc.srvUser, "secret")
			lc.user, lc.pass = tc.user, tc.pass
			if tc.fault != nil {
				tc.fault(lc)
			}
			s := newTestService(t, lc, Options{Timeout: timeout})
			got, err := s.Check(t.Context(), lc.id, tc.mode)
			if err != nil {
				t.Fatal(err)
			}
			up := StatusUp
			if tc.upStatus != "" || strings.HasPrefix(tc.name, "alternator") {
				up = tc.upStatus
			}
			if diff := cmp.Diff(want(lc, up, tc.want), statuses(got, tc.mode)); diff != "" {
				t.Errorf("statuses (-want +got):\n%s", diff)
			}
			for _, ns := range got {
				r := ns.result(tc.mode)
				if (r.Status == StatusUp || r.Status == "") != (r.Err == nil) {
					t.Errorf("%s: status %q with error %v", ns.Host, r.Status, r.Err)
				}
				if ns.DC == "" || ns.Rack == "" {
					t.Errorf("%s: DC/rack not carried: %+v", ns.Host, ns.Node)
				}
			}
		})
	}
}

func TestStatusPingsOnlyTheGivenHosts(t *testing.T) {
	lc := newLightCluster(t, 3, "", "")
	lc.nodes[1].cql.hang.Store(true) // would be TIMEOUT if pinged
	s := newTestService(t, lc, Options{Timeout: 500 * time.Millisecond})
	got, err := s.Status(t.Context(), lc.id, []string{lc.nodes[0].Host, lc.nodes[2].Host})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("got %d nodes, want 3", len(got))
	}
	for i, ns := range got {
		if ns.Host != lc.nodes[i].Host {
			t.Errorf("node %d is %s, want %s (source order)", i, ns.Host, lc.nodes[i].Host)
		}
		wantCQL, wantREST := StatusUp, StatusUp
		if i == 1 {
			wantCQL, wantREST = "", ""
		}
		if ns.CQL.Status != wantCQL || ns.REST.Status != wantREST || ns.Alternator.Status != "" {
			t.Errorf("%s: cql %q rest %q alternator %q, want %q %q \"\"", ns.Host, ns.CQL.Status, ns.REST.Status, ns.Alternator.Status, wantCQL, wantREST)
		}
		if i != 1 && ns.NodeInfo == nil {
			t.Errorf("%s: NodeInfo not filled", ns.Host)
		}
	}
}

func TestUnknownClusterAndBadInput(t *testing.T) {
	lc := newLightCluster(t, 1, "", "")
	s := newTestService(t, lc, Options{})
	if _, err := s.Check(t.Context(), lc.id, "gossip"); !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "properties.mode") {
		t.Errorf("bad mode: %v", err)
	}
	other := lc.id
	other[0]++
	if _, err := s.Status(t.Context(), other, nil); err == nil {
		t.Error("unknown cluster: no error")
	}
	if _, err := New(nil, Options{}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("nil source: %v", err)
	}
	for _, tc := range []struct {
		o     Options
		field string
	}{
		{Options{Timeout: -1}, "healthcheck.timeout"},
		{Options{NodeInfoTTL: -time.Second}, "healthcheck.node_info_ttl"},
		{Options{NodeInfoTimeout: -time.Second}, "healthcheck.node_info_timeout"},
		{Options{Parallel: -1}, "healthcheck.parallel"},
	} {
		o := tc.o
		err := o.Validate()
		if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%+v: %v, want an invalid %s", o, err, tc.field)
		}
		if _, err := New(lc, o); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("New(%+v): %v", o, err)
		}
	}
}

func TestCanceledContext(t *testing.T) {
	lc := newLightCluster(t, 2, "", "")
	s := newTestService(t, lc, Options{})
	ctx, cancel := contextWithCancel(t)
	cancel(errors.New("stop now"))
	_, err := s.Check(ctx, lc.id, ModeCQL)
	if err == nil || !strings.Contains(err.Error(), "stop now") {
		t.Errorf("got %v, want the context's cause", err)
	}
}

func ExampleStatusHTTP() {
	fmt.Println(StatusHTTP(502))
	// Output: HTTP 502
}

func TestParallelLimit(t *testing.T) {
	lc := newLightCluster(t, 5, "", "")
	s := newTestService(t, lc, Options{Parallel: 1, Timeout: time.Second})
	got, err := s.Status(t.Context(), lc.id, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range got {
		if ns.CQL.Status != StatusUp || ns.REST.Status != StatusUp {
			t.Errorf("%s: cql %q rest %q, want UP UP", ns.Host, ns.CQL.Status, ns.REST.Status)
		}
	}
}
