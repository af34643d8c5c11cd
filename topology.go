package scyllaops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/topology"
)

// topologyViewKey is the per-cluster record holding the last topology
// view (JSON of topology.Cluster). It is not a secret: the store keeps it
// in the cluster's key-value records (SecretStore), the one per-cluster
// blob the store interfaces have.
const topologyViewKey = "topology_view"

// TopologyChangeEvent is the Kind of the events that record a change of a
// cluster's topology (Attributes: change, host_id, host, dc).
const TopologyChangeEvent = "topology_change"

// Topology returns the cluster's last topology view, discovering it when
// the Manager has none.
func (m *Manager) Topology(ctx context.Context, idOrName string) (*topology.Cluster, error) {
	id, err := m.resolveID(ctx, idOrName)
	if err != nil {
		return nil, err
	}
	v, err := m.topo.View(ctx, id)
	if err != nil || v != nil {
		return v, err
	}
	v, _, err = m.refreshTopology(ctx, id)
	return v, err
}

// RefreshTopology discovers the cluster now (hedged over its contact
// host, known hosts and last contact, within Options.Discovery's
// timeouts), records each change since the last view as a
// TopologyChangeEvent event, and keeps the view and its hosts as the
// cluster's known hosts in the store. When no host answers, the error
// names each host tried and its cause.
func (m *Manager) RefreshTopology(ctx context.Context, idOrName string) (*topology.Cluster, []topology.Change, error) {
	id, err := m.resolveID(ctx, idOrName)
	if err != nil {
		return nil, nil, err
	}
	return m.refreshTopology(ctx, id)
}

func (m *Manager) refreshTopology(ctx context.Context, id uuid.UUID) (*topology.Cluster, []topology.Change, error) {
	_, hosts, err := m.ClusterClient(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	sc, err := m.st.GetCluster(ctx, id)
	if err != nil {
		return nil, nil, fmt.Errorf("scyllaops: cluster %s: %w", id, err)
	}
	token, err := m.secret(ctx, id, store.SecretAuthToken)
	if err != nil {
		return nil, nil, err
	}
	// Without retries: a dead host is the hedge's to skip.
	cl, err := m.agents.Client(sc.ID, sc.Port, string(token), true)
	if err != nil {
		return nil, nil, err
	}
	v, ch, err := m.topo.Refresh(ctx, id, cl, hosts)
	if err != nil {
		return nil, nil, fmt.Errorf("scyllaops: %w", err)
	}
	return v, ch, nil
}

// refreshTopologies refreshes every cluster's view each
// Options.TopologyRefresh until ctx is done.
func (m *Manager) refreshTopologies(ctx context.Context) {
	if m.opts.TopologyRefresh < 0 {
		return
	}
	t := time.NewTicker(m.opts.TopologyRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cs, err := m.st.ListClusters(ctx)
		if err != nil {
			m.log.WarnContext(ctx, "topology refresh: list clusters", "err", err)
			continue
		}
		for _, c := range cs {
			if _, _, err := m.refreshTopology(ctx, c.ID); err != nil && ctx.Err() == nil {
				m.log.WarnContext(ctx, "topology refresh failed", "cluster", c.ID, "err", err)
			}
		}
	}
}

// topologyStore is the Manager's store as the topology tracker's.
type topologyStore struct{ m *Manager }

func (s topologyStore) LastView(ctx context.Context, clusterID uuid.UUID) (*topology.Cluster, error) {
	b, err := s.m.st.GetSecret(ctx, clusterID, topologyViewKey)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var v topology.Cluster
	if err := json.Unmarshal(b, &v); err != nil {
		s.m.log.WarnContext(ctx, "stored topology view does not decode: discovering anew", "cluster", clusterID, "err", err)
		return nil, nil
	}
	return &v, nil
}

func (s topologyStore) SaveView(ctx context.Context, clusterID uuid.UUID, v *topology.Cluster, knownHosts []string) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := s.m.st.PutSecret(ctx, clusterID, topologyViewKey, b); err != nil {
		return err
	}
	sc, err := s.m.st.GetCluster(ctx, clusterID)
	if err != nil {
		return err
	}
	knownHosts = slices.Sorted(slices.Values(knownHosts))
	if len(knownHosts) == 0 || slices.Equal(slices.Sorted(slices.Values(sc.KnownHosts)), knownHosts) {
		return nil
	}
	sc.KnownHosts = knownHosts
	sc.UpdatedAt = time.Now().UTC()
	return s.m.st.UpdateCluster(ctx, sc)
}

func (s topologyStore) RecordChanges(ctx context.Context, clusterID uuid.UUID, changes []topology.Change) error {
	var errs []error
	for _, c := range changes {
		sev := "info"
		if c.Kind == topology.NodeDown || c.Kind == topology.NodeRemoved || c.Kind == topology.DCRemoved {
			sev = "warning"
		}
		id, err := uuid.NewUUID()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		e := &store.Event{
			ID: id, ClusterID: clusterID, Time: time.Now().UTC(),
			Kind: TopologyChangeEvent, Severity: sev, Message: c.String(), TTL: s.m.opts.EventTTL,
			Attributes: map[string]string{"change": string(c.Kind), "host_id": c.HostID, "host": c.IP, "dc": c.DC},
		}
		if err := s.m.st.AppendEvent(ctx, e); err != nil {
			errs = append(errs, err)
		}
		s.m.log.InfoContext(ctx, "topology changed", "cluster", clusterID, "change", c.String())
	}
	return errors.Join(errs...)
}
