package scyllaops

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/repair"
)

// RepairTaskType is the task type of repairs.
const RepairTaskType = repair.TaskType

// newRepair builds the repair service and registers its Runner (which
// also makes new clusters get the weekly repair task).
func (m *Manager) newRepair(opts repair.Options) error {
	if opts.Logger == nil {
		opts.Logger = m.opts.Logger
	}
	if opts.Registerer == nil {
		opts.Registerer = m.opts.Registerer
	}
	svc, err := repair.New(m.st, repairCluster{m}, opts)
	if err != nil {
		return fmt.Errorf("scyllaops: %w", err)
	}
	m.repair = svc
	m.sched.Register(RepairTaskType, svc)
	return nil
}

// Repair returns the repair service: live tuning of running repairs
// (SetIntensity, SetParallel), dry-run targets and ad-hoc repairs of
// tables (Repair, which restore ends with).
func (m *Manager) Repair() *repair.Service { return m.repair }

// RepairTarget plans a repair task's properties on a cluster (by ID or
// name) without running it: Scylla Manager's dry run.
func (m *Manager) RepairTarget(ctx context.Context, idOrName string, properties json.RawMessage) (*repair.TargetInfo, error) {
	id, err := m.repairCall(ctx, idOrName)
	if err != nil {
		return nil, err
	}
	return m.repair.GetTarget(ctx, id, properties)
}

// SetRepairIntensity changes the intensity of the cluster's running
// repair (not persisted; applies to the next jobs).
func (m *Manager) SetRepairIntensity(ctx context.Context, idOrName string, intensity float64) error {
	id, err := m.repairCall(ctx, idOrName)
	if err != nil {
		return err
	}
	return m.repair.SetIntensity(ctx, id, intensity)
}

// SetRepairParallel changes the parallel of the cluster's running repair
// (not persisted; applies to the next jobs).
func (m *Manager) SetRepairParallel(ctx context.Context, idOrName string, parallel int) error {
	id, err := m.repairCall(ctx, idOrName)
	if err != nil {
		return err
	}
	return m.repair.SetParallel(ctx, id, parallel)
}

// RepairTables repairs tables ("ks" or "ks.table") of a cluster now,
// outside the scheduler (restore ends with it).
func (m *Manager) RepairTables(ctx context.Context, clusterID uuid.UUID, keyspaceTables []string, o repair.TablesOptions) error {
	if err := m.check(ctx); err != nil {
		return err
	}
	return m.repair.Repair(ctx, clusterID, keyspaceTables, o)
}

func (m *Manager) repairCall(ctx context.Context, idOrName string) (uuid.UUID, error) {
	if err := m.check(ctx); err != nil {
		return uuid.Nil, err
	}
	return m.resolveID(ctx, idOrName)
}

// repairCluster gives the repair service the Manager's view of clusters.
type repairCluster struct{ m *Manager }

// Client implements repair.ClusterResolver: the agent client and the
// contact host (the first known host).
func (r repairCluster) Client(ctx context.Context, clusterID uuid.UUID) (*agentclient.Client, string, error) {
	c, hosts, err := r.m.ClusterClient(ctx, clusterID)
	if err != nil {
		return nil, "", err
	}
	if len(hosts) == 0 {
		return nil, "", fmt.Errorf("scyllaops: cluster %s has no known host", clusterID)
	}
	return c, hosts[0], nil
}
