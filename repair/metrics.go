package repair

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are Scylla Manager's repair metrics (reference §10).
type metrics struct {
	progress       *prometheus.GaugeVec
	rangesTotal    *prometheus.GaugeVec
	rangesSuccess  *prometheus.GaugeVec
	rangesError    *prometheus.GaugeVec
	inflightJobs   *prometheus.GaugeVec
	inflightRanges *prometheus.GaugeVec
}

func newMetrics(r prometheus.Registerer) (*metrics, error) {
	g := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "scylla_manager", Subsystem: "repair", Name: name, Help: help}, labels)
	}
	table := []string{"cluster", "keyspace", "table", "host"}
	m := &metrics{
		progress:       g("progress", "Repair progress in percent.", "cluster"),
		rangesTotal:    g("token_ranges_total", "Token ranges to repair.", table...),
		rangesSuccess:  g("token_ranges_success", "Token ranges repaired.", table...),
		rangesError:    g("token_ranges_error", "Token ranges that failed.", table...),
		inflightJobs:   g("inflight_jobs", "Repair jobs running on a host.", "cluster", "host"),
		inflightRanges: g("inflight_token_ranges", "Token ranges being repaired on a host.", "cluster", "host"),
	}
	if r == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.progress, m.rangesTotal, m.rangesSuccess, m.rangesError, m.inflightJobs, m.inflightRanges} {
		if err := r.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, err
			}
			return nil, err
		}
	}
	return m, nil
}
