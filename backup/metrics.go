package backup

import (
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are Scylla Manager's scylla_manager_backup_* gauges.
type metrics struct {
	snapshot                                         *prometheus.GaugeVec
	size, uploaded, skipped, failed, files, skippedN *prometheus.GaugeVec
	purgeFiles, purgeDeleted                         *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	g := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "scylla_manager", Subsystem: "backup", Name: name, Help: help}, labels)
	}
	tbl := []string{"cluster", "keyspace", "table", "host"}
	m := &metrics{
		snapshot:     g("snapshot", "1 once the keyspace snapshot of the host is taken.", "cluster", "keyspace", "host"),
		size:         g("files_size_bytes", "Bytes of the table's snapshot files.", tbl...),
		uploaded:     g("files_uploaded_bytes", "Bytes of the table's files uploaded.", tbl...),
		skipped:      g("files_skipped_bytes", "Bytes of the table's files already in the bucket (deduplicated).", tbl...),
		failed:       g("files_failed_bytes", "Bytes of the table's files whose upload failed.", tbl...),
		files:        g("files_count", "Number of the table's snapshot files.", tbl...),
		skippedN:     g("files_skipped_count", "Number of the table's files already in the bucket.", tbl...),
		purgeFiles:   g("purge_files", "Files to delete in the current purge.", "cluster", "host"),
		purgeDeleted: g("purge_deleted_files", "Files deleted by the current purge.", "cluster", "host"),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.snapshot, m.size, m.uploaded, m.skipped, m.failed, m.files, m.skippedN, m.purgeFiles, m.purgeDeleted} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("backup: metrics already registered (one Service per Registerer): %w", err)
			}
			return nil, fmt.Errorf("backup: register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) setTable(cluster string, r *tableRow) {
	l := prometheus.Labels{"cluster": cluster, "keyspace": r.Keyspace, "table": r.Table, "host": r.Host}
	m.size.With(l).Set(float64(r.Size))
	m.uploaded.With(l).Set(float64(r.Uploaded))
	m.skipped.With(l).Set(float64(r.Skipped))
	m.failed.With(l).Set(float64(r.Failed))
	m.files.With(l).Set(float64(len(r.Files)))
	m.skippedN.With(l).Set(float64(r.SkippedCount))
}

// ForgetCluster deletes the scylla_manager_backup_* series of a deleted
// cluster.
func (s *Service) ForgetCluster(clusterID uuid.UUID) {
	l := prometheus.Labels{"cluster": clusterID.String()}
	m := s.m
	for _, v := range []*prometheus.GaugeVec{m.snapshot, m.size, m.uploaded, m.skipped, m.failed, m.files, m.skippedN, m.purgeFiles, m.purgeDeleted} {
		v.DeletePartialMatch(l)
	}
}
