package scyllaops

import (
	"context"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// DefaultServerVersion is the version scylla_manager_server_current_version
// reports when Options.ServerVersion is empty, as a Scylla Manager build
// without a version does.
const DefaultServerVersion = "Snapshot"

// managerMetrics are the Manager's own series of Scylla Manager's
// (reference §10): the cluster ID to name mapping and the server version.
type managerMetrics struct {
	clusterName *prometheus.GaugeVec
	version     *prometheus.GaugeVec
}

func newManagerMetrics(r prometheus.Registerer, version string) *managerMetrics {
	f := promauto.With(r)
	mm := &managerMetrics{
		clusterName: f.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "scylla_manager", Subsystem: "cluster", Name: "name",
			Help: "Mapping from cluster ID to name (the value is always 0).",
		}, []string{"cluster", "name"}),
		version: f.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "scylla_manager", Subsystem: "server", Name: "current_version",
			Help: "The version of the manager server, in the version label (the value is always 1).",
		}, []string{"version"}),
	}
	mm.version.WithLabelValues(version).Set(1)
	return mm
}

// setClusterName maps the cluster to its (new) name.
func (mm *managerMetrics) setClusterName(id uuid.UUID, name string) {
	mm.clusterName.DeletePartialMatch(prometheus.Labels{"cluster": id.String()})
	mm.clusterName.WithLabelValues(id.String(), name).Set(0)
}

// forgetCluster drops the mapping of a deleted cluster.
func (mm *managerMetrics) forgetCluster(id uuid.UUID) {
	mm.clusterName.DeletePartialMatch(prometheus.Labels{"cluster": id.String()})
}

// loadClusterNames maps every stored cluster (Run calls it at start, so
// a restarted manager exports the clusters it already has).
func (m *Manager) loadClusterNames(ctx context.Context) {
	cs, err := m.st.ListClusters(ctx)
	if err != nil {
		m.log.WarnContext(ctx, "cluster name metrics: list clusters", "err", err)
		return
	}
	for _, c := range cs {
		m.metrics.setClusterName(c.ID, c.Name)
	}
}
