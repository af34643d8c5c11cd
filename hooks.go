package scyllaops

import (
	"context"
	"slices"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
)

// addDefaultTasks creates the tasks Scylla Manager creates when a cluster
// is added: health checks for every registered health-check runner, and a
// weekly repair unless withoutRepair or no repair runner is registered.
// See defaultTasks (tasks.go).
func (m *Manager) addDefaultTasks(ctx context.Context, c *store.Cluster, withoutRepair bool) error {
	return m.createDefaultTasks(ctx, c, withoutRepair)
}

// beforeClusterDelete stops and unschedules the cluster's tasks.
func (m *Manager) beforeClusterDelete(ctx context.Context, clusterID uuid.UUID) {
	m.stopClusterTasks(ctx, clusterID)
	m.hc.forget(clusterID)
	m.sched.ForgetCluster(clusterID)
	m.backup.ForgetCluster(clusterID)
}

func sortStrings(s []string) { slices.Sort(s) }
