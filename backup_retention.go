package scyllaops

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/backup"
	"github.com/scyllaops/scyllaops/internal/backupspec"
	"github.com/scyllaops/scyllaops/scheduler"
	"github.com/scyllaops/scyllaops/store"
)

// retentionMapProperty is the backup property (backup.Properties'
// RetentionMap) that carries the policies of every backup task of the
// cluster into a run. The Manager computes it; tasks may not set it.
const retentionMapProperty = "retention_map"

// decoratedRunner is a scheduler.Runner whose run properties pass through
// decorate just before the wrapped Runner gets them (Scylla Manager's
// PropertiesDecorator seam: backup injects retention_map; restore or
// repair can add theirs). The properties decorate owns (reserved) are
// refused in task properties. Build it with decorateRunner, which keeps
// the wrapped Runner's scheduler.ProgressReader.
type decoratedRunner struct {
	scheduler.Runner
	decorate func(ctx context.Context, clusterID, taskID uuid.UUID, properties json.RawMessage) (json.RawMessage, error)
	reserved []string
}

// decorateRunner wraps r; the result implements scheduler.ProgressReader
// when r does, and scheduler.PropertiesValidator always.
func decorateRunner(r scheduler.Runner, d decoratedRunner) scheduler.Runner {
	d.Runner = r
	if pr, ok := r.(scheduler.ProgressReader); ok {
		return struct {
			*decoratedRunner
			scheduler.ProgressReader
		}{&d, pr}
	}
	return &d
}

// Run implements scheduler.Runner: the wrapped Runner runs with the
// decorated properties. A decorate error fails the run before it starts.
func (d *decoratedRunner) Run(ctx context.Context, clusterID, taskID, runID uuid.UUID, properties json.RawMessage) error {
	p, err := d.decorate(ctx, clusterID, taskID, properties)
	if err != nil {
		return err
	}
	return d.Runner.Run(ctx, clusterID, taskID, runID, p)
}

// ValidateProperties implements scheduler.PropertiesValidator: a reserved
// property is refused naming it, then the wrapped Runner's validator (if
// any) decides.
func (d *decoratedRunner) ValidateProperties(properties json.RawMessage) error {
	var obj map[string]json.RawMessage
	if json.Unmarshal(properties, &obj) == nil {
		for _, k := range d.reserved {
			if _, ok := obj[k]; ok {
				return store.Invalid("properties."+k, "no "+k+" (the Manager sets it at run time)", "set")
			}
		}
	}
	if v, ok := d.Runner.(scheduler.PropertiesValidator); ok {
		return v.ValidateProperties(properties)
	}
	return nil
}

// Clean implements scheduler.Cleaner: the wrapped Runner's Clean, if it
// has one (a suspension with no_continue cleans up after stopped runs).
func (d *decoratedRunner) Clean(ctx context.Context, clusterID, taskID, runID uuid.UUID) error {
	if c, ok := d.Runner.(scheduler.Cleaner); ok {
		return c.Clean(ctx, clusterID, taskID, runID)
	}
	return nil
}

// backupRunner is the backup service's Runner as registered: every run
// gets the cluster's retention map.
func (m *Manager) backupRunner(svc *backup.Service) scheduler.Runner {
	return decorateRunner(svc, decoratedRunner{
		reserved: []string{retentionMapProperty},
		decorate: func(ctx context.Context, clusterID, _ uuid.UUID, properties json.RawMessage) (json.RawMessage, error) {
			return m.withRetentionMap(ctx, clusterID, properties)
		},
	})
}

// withRetentionMap returns properties with retention_map set to the
// cluster's retention map, replacing any value they carry. Properties
// that are not a JSON object are returned unchanged: the backup service
// refuses them with its own error.
func (m *Manager) withRetentionMap(ctx context.Context, clusterID uuid.UUID, properties json.RawMessage) (json.RawMessage, error) {
	obj, ok := propertiesObject(properties)
	if !ok {
		return properties, nil
	}
	tasks, err := m.st.ListTasks(ctx, clusterID)
	if err != nil {
		return nil, fmt.Errorf("scyllaops: retention map of cluster %s: list tasks: %w", clusterID, err)
	}
	rm, err := json.Marshal(retentionMap(ctx, m.log, clusterID, tasks))
	if err != nil {
		return nil, fmt.Errorf("scyllaops: retention map of cluster %s: %w", clusterID, err)
	}
	obj[retentionMapProperty] = rm
	out, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("scyllaops: retention map of cluster %s: %w", clusterID, err)
	}
	return out, nil
}

// retentionMap is the retention policy of every backup task of clusterID
// among tasks, enabled or not, deleted or not (a deleted task's snapshots
// are purged by the other tasks' runs):
//   - a live task (enabled or disabled): its properties' policy;
//   - a deleted task: backupspec.DeletedTaskPolicy of it (count-based
//     retention becomes max(retention_days, 30) days);
//   - properties that do not parse: logged, and the 30-day policy of
//     unknown tasks (another task's bad properties never fail a run).
func retentionMap(ctx context.Context, log *slog.Logger, clusterID uuid.UUID, tasks []*store.Task) map[uuid.UUID]backupspec.RetentionPolicy {
	out := map[uuid.UUID]backupspec.RetentionPolicy{}
	for _, t := range tasks {
		if t.Type != BackupTaskType || t.ClusterID != clusterID {
			continue
		}
		p, err := backup.ParseProperties(t.Properties)
		if err != nil {
			log.WarnContext(ctx, "backup task properties do not parse: its snapshots are kept 30 days",
				"cluster", clusterID, "task", t.ID, "err", err)
			out[t.ID] = backupspec.UnknownTaskPolicy()
			continue
		}
		rp := p.Policy()
		if t.Deleted {
			rp = backupspec.DeletedTaskPolicy(rp)
		}
		out[t.ID] = rp
	}
	return out
}
