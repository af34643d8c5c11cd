package healthcheck

import (
	"testing"
	"time"
)

// BenchmarkHealthcheck1000Hung measures the wall time of one health check
// of 1,000 nodes of which one is hung (its CQL endpoint accepts and never
// answers; its agent never answers), with the default 1 s timeout. The
// goal is ≤ 1.5 s per check: the hung node costs one timeout, never more,
// and never delays the others.
//
// The nodes are the light fixture of fixture_test.go (a real TCP CQL
// listener and an in-process agent handler per node), not full scyllatest
// nodes: 1,000 simulated Scylla nodes with data directories would measure
// the simulator, not the health check.
func BenchmarkHealthcheck1000Hung(b *testing.B) {
	const nodes, hung = 1000, 500
	for _, bc := range []struct {
		name string
		user string
		run  func(s *Service, lc *lightCluster) ([]NodeStatus, error)
		mode Mode
	}{
		{name: "cql", mode: ModeCQL},
		{name: "cql-auth", mode: ModeCQL, user: "cassandra"},
		{name: "rest", mode: ModeREST},
		{name: "status", mode: ""},
	} {
		b.Run(bc.name, func(b *testing.B) {
			lc := newLightCluster(b, nodes, bc.user, "secret")
			lc.user, lc.pass = bc.user, "secret"
			lc.nodes[hung].cql.hang.Store(true)
			s, err := New(lc, Options{Timeout: time.Second})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(s.Close)
			check := func() []NodeStatus {
				var got []NodeStatus
				var err error
				if bc.mode == "" {
					got, err = s.Status(b.Context(), lc.id, nil)
				} else {
					got, err = s.Check(b.Context(), lc.id, bc.mode)
				}
				if err != nil {
					b.Fatal(err)
				}
				return got
			}
			check() // fills the node_info cache, as a running service has it
			lc.nodes[hung].agent.hang.Store(true)
			var worst time.Duration
			wrong := 0
			b.ResetTimer()
			for b.Loop() {
				start := time.Now()
				got := check()
				worst = max(worst, time.Since(start))
				for i := range got {
					for _, r := range []Result{got[i].CQL, got[i].REST} {
						switch {
						case r.Status == "":
						case i == hung && r.Status != StatusTimeout:
							b.Fatalf("hung %s: %q (%v), want TIMEOUT", got[i].Host, r.Status, r.Err)
						case i != hung && r.Status != StatusUp:
							// A healthy node that did not answer in time:
							// the machine is too loaded for 1,000 pings a
							// second. Counted, not fatal: this measures.
							wrong++
						}
					}
				}
			}
			b.ReportMetric(float64(wrong)/float64(b.N), "late-healthy/check")
			b.ReportMetric(worst.Seconds(), "worst-s/check")
		})
	}
}
