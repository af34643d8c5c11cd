package restapi

import (
	"context"
	"encoding/json"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/store"
)

// taskType is what the API knows about one task type beyond the generic
// task endpoints: how to compute its target (the dry run) and how to
// present a run's progress. A new task type is one file type_<name>.go
// defining a constructor, plus its line in registry.
type taskType struct {
	// name is the task type string, e.g. "backup".
	name string
	// target computes the dry-run target of a task; nil: the type has no
	// target endpoint (404).
	target func(ctx context.Context, m *scyllaops.Manager, clusterID string, t TaskUpdate) (any, error)
	// progress turns the stored progress rows of a run into the type's
	// JSON progress; nil: rows are passed through as a JSON object keyed
	// by row key.
	progress func(ctx context.Context, m *scyllaops.Manager, run *store.Run, rows []*store.Progress) (any, error)
	// emptyProgress is the progress of a run that does not exist yet
	// (a synthetic NEW run).
	emptyProgress func() any
}

// registry lists the task types with API specifics. Types absent here
// still work through the generic endpoints.
func registry() map[string]taskType {
	out := make(map[string]taskType)
	for _, t := range []taskType{
		backupType(),
		validateBackupType(),
		healthcheckType(),
	} {
		out[t.name] = t
	}
	return out
}

// rawProgress is the default progress presentation: rows by key.
func rawProgress(rows []*store.Progress) any {
	out := make(map[string]json.RawMessage, len(rows))
	for _, r := range rows {
		out[r.Key] = r.Data
	}
	return out
}
