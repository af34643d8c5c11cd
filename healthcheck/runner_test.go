package healthcheck

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/scyllaops/scyllaops/store"
)

func TestParseProperties(t *testing.T) {
	tests := []struct {
		in        string
		want      Mode
		wantField string // in the error; "" = no error
	}{
		{in: `{"mode":"cql"}`, want: ModeCQL},
		{in: `{"mode":"rest"}`, want: ModeREST},
		{in: ` {"mode":"alternator"} `, want: ModeAlternator},
		{in: `{"mode":"cql","continue":true}`, want: ModeCQL},
		{in: ``, wantField: "properties.mode"},
		{in: `{}`, wantField: "properties.mode"},
		{in: `{"mode":"gossip"}`, wantField: "properties.mode"},
		{in: `{"mode":1}`, wantField: "properties.mode"},
		{in: `{"mode":"cql","timeout":"1s"}`, wantField: "properties.timeout"},
		{in: `[1]`, wantField: "properties"},
		{in: `{"mode":`, wantField: "properties"},
	}
	for _, tc := range tests {
		p, err := ParseProperties(json.RawMessage(tc.in))
		if tc.wantField == "" {
			if err != nil || p.Mode != tc.want {
				t.Errorf("%s: got %q, %v; want %q", tc.in, p.Mode, err, tc.want)
			}
			continue
		}
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", tc.in, err)
			continue
		}
		var ie *store.InvalidError
		if !errors.As(err, &ie) || ie.Field != tc.wantField {
			t.Errorf("%s: error %q does not name field %s", tc.in, err, tc.wantField)
		}
	}
}

func TestRunMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	lc := newLightCluster(t, 3, "", "")
	lc.id = uuid.MustParse("11111111-2222-3333-4444-555555555555")
	lc.nodes[1].cql.close()                 // CQL down: -1
	lc.tr.Unregister(lc.nodes[2].Host)      // agent gone: CQL ERROR (-2), REST DOWN (-2)
	lc.nodes[0].agent.restStatus.Store(503) // REST HTTP 503: -1
	s := newTestService(t, lc, Options{Timeout: 500 * time.Millisecond, Registerer: reg})
	for _, mode := range []string{"cql", "rest", "alternator"} {
		if err := s.Run(t.Context(), lc.id, uuid.New(), uuid.New(), json.RawMessage(`{"mode":"`+mode+`"}`)); err != nil {
			t.Fatal(err)
		}
	}
	const head = `
# HELP scylla_manager_healthcheck_cql_status Host cql status: 1 OK, -1 Scylla unavailable, -2 agent unavailable.
# TYPE scylla_manager_healthcheck_cql_status gauge
`
	const restHead = `
# HELP scylla_manager_healthcheck_rest_status Host rest status: 1 OK, -1 Scylla unavailable, -2 agent unavailable.
# TYPE scylla_manager_healthcheck_rest_status gauge
`
	series := func(name string, values ...float64) string {
		var b strings.Builder
		for i, v := range values {
			if v == 0 {
				continue
			}
			fmt.Fprintf(&b, "scylla_manager_healthcheck_%s{cluster=%q,dc=%q,host=%q,rack=\"rack1\"} %g\n",
				name, lc.id.String(), lc.nodes[i].DC, lc.nodes[i].Host, v)
		}
		return b.String()
	}
	// Alternator is disabled on nodes 0 and 1 (no series); node 2's
	// agent cannot say whether it is enabled: ERROR, agent unavailable.
	const altHead = `
# HELP scylla_manager_healthcheck_alternator_status Host alternator status: 1 OK, -1 Scylla unavailable, -2 agent unavailable.
# TYPE scylla_manager_healthcheck_alternator_status gauge
`
	want := altHead + series("alternator_status", 0, 0, -2) + head + series("cql_status", 1, -1, -2) + restHead + series("rest_status", -1, 1, -2)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"scylla_manager_healthcheck_cql_status", "scylla_manager_healthcheck_rest_status", "scylla_manager_healthcheck_alternator_status"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg, "scylla_manager_healthcheck_cql_rtt_ms", "scylla_manager_healthcheck_rest_rtt_ms"); err != nil || n != 6 {
		t.Errorf("rtt series: %d, %v; want 6", n, err)
	}
	// The *_rtt_ms names are Scylla Manager's (dashboards use them), so
	// promlint's "abbreviated units" about them is accepted; nothing else.
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if !strings.HasSuffix(p.Metric, "_rtt_ms") || !strings.Contains(p.Text, "abbreviated units") {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
	}

	// Node 2 leaves the cluster: its series go.
	lc.nodes = lc.nodes[:2]
	for _, mode := range []string{"cql", "rest"} {
		if err := s.Run(t.Context(), lc.id, uuid.New(), uuid.New(), json.RawMessage(`{"mode":"`+mode+`"}`)); err != nil {
			t.Fatal(err)
		}
	}
	want = head + series("cql_status", 1, -1) + restHead + series("rest_status", -1, 1)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"scylla_manager_healthcheck_cql_status", "scylla_manager_healthcheck_rest_status"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg, "scylla_manager_healthcheck_cql_rtt_ms", "scylla_manager_healthcheck_rest_rtt_ms"); err != nil || n != 4 {
		t.Errorf("rtt series after removal: %d, %v; want 4", n, err)
	}

	// The cluster is deleted: every series goes.
	s.ForgetCluster(lc.id)
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 0 {
		t.Errorf("series after ForgetCluster: %d, %v; want 0", n, err)
	}

	// A second service on the same registry is refused.
	if _, err := New(lc, Options{Registerer: reg}); err == nil {
		t.Error("second registration: no error")
	}
}

func TestRunBadInput(t *testing.T) {
	lc := newLightCluster(t, 1, "", "")
	s := newTestService(t, lc, Options{})
	err := s.Run(t.Context(), lc.id, uuid.New(), uuid.New(), json.RawMessage(`{"mode":"cql","extra":1}`))
	if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "properties.extra") {
		t.Errorf("unknown field: %v", err)
	}
	if err := s.ValidateProperties(json.RawMessage(`{"mode":"CQL"}`)); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("ValidateProperties: %v", err)
	}
	if err := s.ValidateProperties(json.RawMessage(`{"mode":"alternator"}`)); err != nil {
		t.Errorf("ValidateProperties: %v", err)
	}
	if err := s.Run(t.Context(), uuid.Nil, uuid.New(), uuid.New(), json.RawMessage(`{"mode":"cql"}`)); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("nil cluster: %v", err)
	}
	if err := s.Run(t.Context(), uuid.New(), uuid.New(), uuid.New(), json.RawMessage(`{"mode":"cql"}`)); err == nil {
		t.Error("unknown cluster: no error")
	}
}
