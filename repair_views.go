package scyllaops

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/repair"
)

// Views implements repair.ViewLister: the cluster's materialized views
// (secondary indexes included: Scylla backs each with a view) read from
// system_schema.views over CQL with the cluster's credentials, so that
// the repair planner orders them after their base tables.
func (r repairCluster) Views(ctx context.Context, clusterID uuid.UUID) ([]repair.ViewInfo, error) {
	rows, err := restoreCQL(r).Query(ctx, clusterID, repair.ViewsQuery)
	if err != nil {
		return nil, err
	}
	out := make([]repair.ViewInfo, 0, len(rows))
	for _, row := range rows {
		if len(row) < 3 {
			return nil, fmt.Errorf("scyllaops: system_schema.views answered %d columns, want 3", len(row))
		}
		if strings.HasPrefix(row[0], "system") {
			continue
		}
		out = append(out, repair.ViewInfo{Keyspace: row[0], View: row[1], BaseTable: row[2]})
	}
	return out, nil
}
