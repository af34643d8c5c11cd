package restore

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Host states of scylla_manager_restore_state.
const (
	stateIdle     = 0
	stateDownload = 1
	stateLoad     = 2
	stateError    = 3
)

// metrics are Scylla Manager's scylla_manager_restore_* metrics.
type metrics struct {
	batchSize, remaining, state, progress *prometheus.GaugeVec
	viewBuild                             *prometheus.GaugeVec
	restored, downloaded, streamed        *prometheus.CounterVec
	restoreDur, downloadDur, streamDur    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	g := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "scylla_manager", Subsystem: "restore", Name: name, Help: help}, labels)
	}
	c := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "scylla_manager", Subsystem: "restore", Name: name, Help: help}, labels)
	}
	m := &metrics{
		batchSize: g("batch_size", "Bytes of the batch the host restores.", "cluster", "host"),
		remaining: g("remaining_bytes", "Bytes of the table's snapshot files not restored yet.",
			"cluster", "snapshot_tag", "location", "dc", "node", "keyspace", "table"),
		state:       g("state", "Host state: 0 idle, 1 download, 2 load, 3 error.", "cluster", "location", "snapshot_tag", "host"),
		progress:    g("progress", "Restored bytes in percent of the snapshot's bytes.", "cluster", "snapshot_tag"),
		viewBuild:   g("view_build_status", "Build of a re-created view, its least advanced node's: 0 unknown, 1 started, 2 success.", "cluster", "keyspace", "view"),
		restored:    c("restored_bytes", "Bytes restored (downloaded and loaded) by the host.", "cluster", "host"),
		restoreDur:  c("restore_duration", "Seconds the host spent restoring.", "cluster", "host"),
		downloaded:  c("downloaded_bytes", "Bytes the host downloaded.", "cluster", "location", "host"),
		downloadDur: c("download_duration", "Seconds the host spent downloading.", "cluster", "location", "host"),
		streamed:    c("streamed_bytes", "Bytes the host loaded and streamed.", "cluster", "host"),
		streamDur:   c("stream_duration", "Seconds the host spent loading and streaming.", "cluster", "host"),
	}
	if reg == nil {
		return m, nil
	}
	for _, col := range []prometheus.Collector{m.batchSize, m.remaining, m.state, m.progress, m.viewBuild, m.restored, m.restoreDur,
		m.downloaded, m.downloadDur, m.streamed, m.streamDur} {
		if err := reg.Register(col); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("restore: metrics already registered (one Service per Registerer): %w", err)
			}
			return nil, fmt.Errorf("restore: register metrics: %w", err)
		}
	}
	return m, nil
}
