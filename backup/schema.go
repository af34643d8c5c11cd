package backup

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/internal/backupspec"
)

// Schema reads the CQL schema (DESCRIBE SCHEMA WITH INTERNALS rows) that
// the backup of snapshot tag uploaded to location. taskID selects the
// backup task; uuid.Nil takes it from the snapshot's manifests.
// ErrSnapshotNotFound when no manifest of the snapshot is there.
func (s *Service) Schema(ctx context.Context, clusterID uuid.UUID, location, tag string, taskID uuid.UUID) ([]SchemaRow, error) {
	if _, err := backupspec.ParseSnapshotTag(tag); err != nil {
		return nil, err
	}
	loc, err := backupspec.ParseLocation(location)
	if err != nil {
		return nil, err
	}
	c, contact, err := s.cluster.Client(ctx, clusterID)
	if err != nil {
		return nil, err
	}
	if taskID == uuid.Nil {
		byLoc, _, err := s.manifestsAt(ctx, clusterID, []string{location}, ListFilter{ClusterID: clusterID, SnapshotTag: tag})
		if err != nil {
			return nil, err
		}
		for _, ms := range byLoc {
			for _, m := range ms {
				taskID = m.Info.TaskID
			}
		}
		if taskID == uuid.Nil {
			return nil, fmt.Errorf("backup: snapshot %s in %s: %w", tag, location, ErrSnapshotNotFound)
		}
	}
	p := backupspec.SchemaPath(clusterID, taskID, tag)
	b, err := c.Cat(ctx, contact, loc.RemoteName(), p)
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("backup: no schema file %s (was the backup taken without CQL access, or with skip_schema?): %w", p, ErrSnapshotNotFound)
		}
		return nil, fmt.Errorf("backup: read schema %s: %w", p, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("backup: schema %s: %w", p, err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("backup: schema %s: %w", p, err)
	}
	var rows []SchemaRow
	if err := json.Unmarshal(raw, &rows); err != nil {
		return nil, fmt.Errorf("backup: schema %s: %w", p, err)
	}
	return rows, nil
}
