package scyllaops

import (
	"context"

	"github.com/scyllaops/scyllaops/backup"
)

// DeleteLocalSnapshots deletes every backup snapshot (tag
// sm_YYYYMMDDhhmmssUTC) from the disks of every node of the cluster
// (Scylla Manager's DELETE /cluster/{id}/backups/local_snapshots); other
// snapshots stay. It returns what it deleted per node (see
// backup.Service.DeleteLocalSnapshots): nodes that answer are cleaned even
// when others fail, and the error names the failed nodes. The snapshot of
// a backup running now is deleted too, and that run fails.
func (m *Manager) DeleteLocalSnapshots(ctx context.Context, idOrName string) ([]backup.NodeSnapshots, error) {
	id, err := m.backupCall(ctx, idOrName)
	if err != nil {
		return nil, err
	}
	return m.backup.DeleteLocalSnapshots(ctx, id)
}
