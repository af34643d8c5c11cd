package healthcheck

import (
	"errors"
	"fmt"
	"sync"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
)

const (
	metricNamespace = "scylla_manager"
	metricSubsystem = "healthcheck"
)

// metricLabels returns the labels of every healthcheck gauge.
func metricLabels() []string { return []string{"cluster", "dc", "rack", "host"} }

// metrics are the gauges of the three pings, and the label sets each
// (cluster, mode) set last, so that the series of nodes that are gone can
// be deleted.
type metrics struct {
	status map[Mode]*prometheus.GaugeVec
	rtt    map[Mode]*prometheus.GaugeVec

	mu   sync.Mutex
	last map[seriesKey]map[[4]string]struct{}
}

type seriesKey struct {
	cluster uuid.UUID
	mode    Mode
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		status: make(map[Mode]*prometheus.GaugeVec),
		rtt:    make(map[Mode]*prometheus.GaugeVec),
		last:   make(map[seriesKey]map[[4]string]struct{}),
	}
	for _, mode := range AllModes() {
		m.status[mode] = prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: metricNamespace,
			Subsystem: metricSubsystem,
			Name:      string(mode) + "_status",
			Help:      "Host " + string(mode) + " status: 1 OK, -1 Scylla unavailable, -2 agent unavailable.",
		}, metricLabels())
		m.rtt[mode] = prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: metricNamespace,
			Subsystem: metricSubsystem,
			Name:      string(mode) + "_rtt_ms",
			Help:      "Host " + string(mode) + " ping round-trip time in milliseconds.",
		}, metricLabels())
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, mode := range AllModes() {
		for _, c := range []prometheus.Collector{m.status[mode], m.rtt[mode]} {
			if err := reg.Register(c); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("healthcheck: register metrics: %w", err)
	}
	return m, nil
}

// set records the results of one mode for a cluster and deletes the series
// of that (cluster, mode) that this round did not set: nodes that are
// gone, or where the ping did not run (Alternator disabled).
func (m *metrics) set(clusterID uuid.UUID, mode Mode, nodes []NodeStatus) {
	cluster := clusterID.String()
	m.mu.Lock()
	defer m.mu.Unlock()
	now := make(map[[4]string]struct{}, len(nodes))
	for i := range nodes {
		ns := &nodes[i]
		r := ns.result(mode)
		if r.Status == "" {
			continue
		}
		lv := [4]string{cluster, ns.DC, ns.Rack, ns.Host}
		now[lv] = struct{}{}
		m.status[mode].WithLabelValues(lv[:]...).Set(r.MetricValue())
		m.rtt[mode].WithLabelValues(lv[:]...).Set(float64(r.RTT.Microseconds()) / 1000)
	}
	k := seriesKey{clusterID, mode}
	for lv := range m.last[k] {
		if _, ok := now[lv]; !ok {
			m.status[mode].DeleteLabelValues(lv[:]...)
			m.rtt[mode].DeleteLabelValues(lv[:]...)
		}
	}
	m.last[k] = now
}

// forget deletes every series of a cluster.
func (m *metrics) forget(clusterID uuid.UUID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, set := range m.last {
		if k.cluster != clusterID {
			continue
		}
		for lv := range set {
			m.status[k.mode].DeleteLabelValues(lv[:]...)
			m.rtt[k.mode].DeleteLabelValues(lv[:]...)
		}
		delete(m.last, k)
	}
}

// result returns the Result of mode.
func (ns *NodeStatus) result(mode Mode) Result {
	switch mode {
	case ModeCQL:
		return ns.CQL
	case ModeREST:
		return ns.REST
	case ModeAlternator:
		return ns.Alternator
	}
	return Result{}
}
