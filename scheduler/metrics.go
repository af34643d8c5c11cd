package scheduler

import (
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metrics are Scylla Manager's scheduler metrics (reference §10).
type metrics struct {
	indicator   *prometheus.GaugeVec
	total       *prometheus.GaugeVec
	lastSuccess *prometheus.GaugeVec
	suspended   *prometheus.GaugeVec
	takeovers   *prometheus.CounterVec
}

func newMetrics(r prometheus.Registerer) *metrics {
	f := promauto.With(r)
	return &metrics{
		indicator: f.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "scylla_manager", Subsystem: "scheduler", Name: "run_indicator",
			Help: "1 while a run of the task executes on this manager, else 0.",
		}, []string{"cluster", "type", "task"}),
		// A gauge, as Scylla Manager exports it (dashboards and alerts
		// written for it use gauge functions on it).
		total: f.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "scylla_manager", Subsystem: "scheduler", Name: "run_total",
			Help: "Runs of the task that ended on this manager, by final status.",
		}, []string{"cluster", "type", "task", "status"}),
		lastSuccess: f.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "scylla_manager", Subsystem: "scheduler", Name: "last_success",
			Help: "Unix time (seconds) of the end of the task's last successful run.",
		}, []string{"cluster", "type", "task"}),
		suspended: f.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "scylla_manager", Subsystem: "scheduler", Name: "suspended",
			Help: "1 if the cluster is suspended, else 0.",
		}, []string{"cluster"}),
		// Not a Scylla Manager metric: one manager has no one to take
		// over from.
		takeovers: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "scyllaops", Subsystem: "scheduler", Name: "run_takeovers_total",
			Help: "Runs this manager took over from a holder that lost its leases (a dead or cut-off manager), by the status it gave them before resuming.",
		}, []string{"cluster", "type", "status"}),
	}
}

// forgetCluster deletes every series of the cluster.
func (m *metrics) forgetCluster(id uuid.UUID) {
	l := prometheus.Labels{"cluster": id.String()}
	m.indicator.DeletePartialMatch(l)
	m.total.DeletePartialMatch(l)
	m.lastSuccess.DeletePartialMatch(l)
	m.suspended.DeletePartialMatch(l)
	m.takeovers.DeletePartialMatch(l)
}
