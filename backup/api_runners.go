package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/internal/backupspec"
	"github.com/scyllaops/scyllaops/store"
)

// retentionMapProperty is the backup property (Properties' RetentionMap)
// that carries the policies of every backup task of the cluster into a
// run. The call surface computes it; tasks may not set it.
const retentionMapProperty = "retention_map"

// validateLocationProperty is the validate_backup property the call
// surface fills in when a task leaves it empty.
const validateLocationProperty = "location"

// validatePlaceholderLocation stands in for an empty location while the
// rest of a validate_backup task's properties are checked: the service's
// validator requires a location, the call surface supplies it at run
// time. It is never used to reach storage.
const validatePlaceholderLocation = "s3:placeholder"

// Runner is what the scheduler calls (scheduler.Runner, by shape: this
// package does not import the scheduler).
type Runner interface {
	Run(ctx context.Context, clusterID, taskID, runID uuid.UUID, properties json.RawMessage) error
}

// The optional interfaces of a Runner the scheduler looks for
// (scheduler.ProgressReader, PropertiesValidator and Cleaner, by shape).
type (
	progressReader interface {
		Progress(ctx context.Context, clusterID, taskID, runID uuid.UUID) (json.RawMessage, error)
	}
	propertiesValidator interface {
		ValidateProperties(properties json.RawMessage) error
	}
	cleaner interface {
		Clean(ctx context.Context, clusterID, taskID, runID uuid.UUID) error
	}
)

// Runner returns the backup Runner as the scheduler registers it for
// TaskType: every run gets the cluster's retention map, so its purge
// applies each other backup task's own policy to that task's snapshots.
func (a *API) Runner() Runner {
	return decorateRunner(a.svc, decoratedRunner{
		reserved: []string{retentionMapProperty},
		decorate: func(ctx context.Context, clusterID, _ uuid.UUID, properties json.RawMessage) (json.RawMessage, error) {
			return a.withRetentionMap(ctx, clusterID, properties)
		},
	})
}

// ValidateRunner returns the validate_backup Runner as the scheduler
// registers it for ValidateTaskType: a run whose task has no location
// validates the locations of the cluster's backup tasks (Scylla Manager's
// validate_backup properties decorator).
func (a *API) ValidateRunner() Runner {
	return decorateRunner(validateGroups{a.svc.ValidateRunner()}, decoratedRunner{
		decorate: func(ctx context.Context, clusterID, _ uuid.UUID, properties json.RawMessage) (json.RawMessage, error) {
			return a.withValidateLocations(ctx, clusterID, properties)
		},
	})
}

// decoratedRunner is a Runner whose run properties pass through decorate
// just before the wrapped Runner gets them (Scylla Manager's
// PropertiesDecorator seam: backup injects retention_map). The properties
// decorate owns (reserved) are refused in task properties. Build it with
// decorateRunner, which keeps the wrapped Runner's progressReader.
type decoratedRunner struct {
	Runner
	decorate func(ctx context.Context, clusterID, taskID uuid.UUID, properties json.RawMessage) (json.RawMessage, error)
	reserved []string
}

// decorateRunner wraps r; the result implements progressReader when r
// does, and propertiesValidator and cleaner always.
func decorateRunner(r Runner, d decoratedRunner) Runner {
	d.Runner = r
	if pr, ok := r.(progressReader); ok {
		return struct {
			*decoratedRunner
			progressReader
		}{&d, pr}
	}
	return &d
}

// Run implements Runner: the wrapped Runner runs with the decorated
// properties. A decorate error fails the run before it starts.
func (d *decoratedRunner) Run(ctx context.Context, clusterID, taskID, runID uuid.UUID, properties json.RawMessage) error {
	p, err := d.decorate(ctx, clusterID, taskID, properties)
	if err != nil {
		return err
	}
	return d.Runner.Run(ctx, clusterID, taskID, runID, p)
}

// ValidateProperties implements propertiesValidator: a reserved property
// is refused naming it, then the wrapped Runner's validator (if any)
// decides.
func (d *decoratedRunner) ValidateProperties(properties json.RawMessage) error {
	var obj map[string]json.RawMessage
	if json.Unmarshal(properties, &obj) == nil {
		for _, k := range d.reserved {
			if _, ok := obj[k]; ok {
				return store.Invalid("properties."+k, "no "+k+" (the Manager sets it at run time)", "set")
			}
		}
	}
	if v, ok := d.Runner.(propertiesValidator); ok {
		return v.ValidateProperties(properties)
	}
	return nil
}

// Clean implements cleaner: the wrapped Runner's Clean, if it has one (a
// suspension with no_continue cleans up after stopped runs).
func (d *decoratedRunner) Clean(ctx context.Context, clusterID, taskID, runID uuid.UUID) error {
	if c, ok := d.Runner.(cleaner); ok {
		return c.Clean(ctx, clusterID, taskID, runID)
	}
	return nil
}

// withRetentionMap returns properties with retention_map set to the
// cluster's retention map, replacing any value they carry. Properties
// that are not a JSON object are returned unchanged: the service refuses
// them with its own error.
func (a *API) withRetentionMap(ctx context.Context, clusterID uuid.UUID, properties json.RawMessage) (json.RawMessage, error) {
	obj, ok := propertiesObject(properties)
	if !ok {
		return properties, nil
	}
	tasks, err := a.tasks.ListTasks(ctx, clusterID)
	if err != nil {
		return nil, fmt.Errorf("backup: retention map of cluster %s: list tasks: %w", clusterID, err)
	}
	rm, err := json.Marshal(retentionMap(ctx, a.log, clusterID, tasks))
	if err != nil {
		return nil, fmt.Errorf("backup: retention map of cluster %s: %w", clusterID, err)
	}
	obj[retentionMapProperty] = rm
	out, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("backup: retention map of cluster %s: %w", clusterID, err)
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
		if t.Type != TaskType || t.ClusterID != clusterID {
			continue
		}
		p, err := ParseProperties(t.Properties)
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

// withValidateLocations returns properties with location set to the union
// of the locations of the cluster's backup tasks (enabled or disabled,
// not deleted; first-seen order, no duplicates) when properties have none
// (absent, null or []). Properties with a location, or that are not a
// JSON object, are returned unchanged (the service refuses bad ones with
// its own error). With no location to take, the run fails with an error
// naming "location".
func (a *API) withValidateLocations(ctx context.Context, clusterID uuid.UUID, properties json.RawMessage) (json.RawMessage, error) {
	obj, ok := propertiesObject(properties)
	if !ok || !emptyLocation(obj) {
		return properties, nil
	}
	locs, err := a.taskLocations(ctx, clusterID)
	if err != nil {
		return nil, err
	}
	if len(locs) == 0 {
		return nil, fmt.Errorf("backup: validate_backup: %w", store.Invalid(validateLocationProperty,
			"at least one location like \"s3:my-bucket\" (the cluster has no backup task to take them from)", ""))
	}
	b, err := json.Marshal(locs)
	if err != nil {
		return nil, fmt.Errorf("backup: validate_backup locations: %w", err)
	}
	obj[validateLocationProperty] = b
	out, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("backup: validate_backup locations: %w", err)
	}
	return out, nil
}

// propertiesObject decodes properties as a JSON object; empty properties
// are an empty object. ok is false for anything else.
func propertiesObject(properties json.RawMessage) (obj map[string]json.RawMessage, ok bool) {
	if len(bytes.TrimSpace(properties)) == 0 {
		return map[string]json.RawMessage{}, true
	}
	if err := json.Unmarshal(properties, &obj); err != nil || obj == nil {
		return nil, false
	}
	return obj, true
}

// emptyLocation reports whether obj's location is absent, null or [].
func emptyLocation(obj map[string]json.RawMessage) bool {
	raw, ok := obj[validateLocationProperty]
	if !ok {
		return true
	}
	var l []string
	return json.Unmarshal(raw, &l) == nil && len(l) == 0
}

// validateGroups is the backup service's validate_backup Runner that
// (1) accepts tasks without a location (the Manager injects them at run
// time) and (2) runs the validation once per group of locations with at
// most one location per DC: the service takes at most one location per DC
// in one call (it maps DCs to locations), but the union of several backup
// tasks' locations can hold two, e.g. "s3:a" and "s3:b". Every location
// is validated once, with the same run's progress rows (keyed by
// location), and the groups' failures are joined.
type validateGroups struct {
	*ValidateRunner
}

// ValidateProperties implements scheduler.PropertiesValidator: as the
// service's, but an empty location is accepted.
func (v validateGroups) ValidateProperties(properties json.RawMessage) error {
	if obj, ok := propertiesObject(properties); ok && emptyLocation(obj) {
		obj[validateLocationProperty] = json.RawMessage(`["` + validatePlaceholderLocation + `"]`)
		b, err := json.Marshal(obj)
		if err != nil {
			return fmt.Errorf("backup: validate_backup properties: %w", err)
		}
		properties = b
	}
	return v.ValidateRunner.ValidateProperties(properties)
}

// Run implements scheduler.Runner: the service's Run once per location
// group (one call when the locations allow it).
func (v validateGroups) Run(ctx context.Context, clusterID, taskID, runID uuid.UUID, properties json.RawMessage) error {
	obj, ok := propertiesObject(properties)
	var locs []string
	if ok {
		_ = json.Unmarshal(obj[validateLocationProperty], &locs)
	}
	groups := locationGroups(locs)
	if len(groups) <= 1 {
		return v.ValidateRunner.Run(ctx, clusterID, taskID, runID, properties)
	}
	var errs []error
	for _, g := range groups {
		b, err := json.Marshal(g)
		if err != nil {
			return fmt.Errorf("backup: validate_backup locations: %w", err)
		}
		obj[validateLocationProperty] = b
		p, err := json.Marshal(obj)
		if err != nil {
			return fmt.Errorf("backup: validate_backup properties: %w", err)
		}
		if err := v.ValidateRunner.Run(ctx, clusterID, taskID, runID, p); err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
		}
	}
	return errors.Join(errs...)
}

// locationGroups splits locs, in order, into groups with at most one
// location per DC (locations without a DC share the key ""). If a
// location does not parse, locs stay one group, in which the service's
// validation names it.
func locationGroups(locs []string) [][]string {
	var (
		groups [][]string
		dcs    []map[string]bool
	)
	for _, s := range locs {
		l, err := backupspec.ParseLocation(s)
		if err != nil {
			return [][]string{locs}
		}
		i := slices.IndexFunc(dcs, func(used map[string]bool) bool { return !used[l.DC] })
		if i < 0 {
			groups = append(groups, nil)
			dcs = append(dcs, map[string]bool{})
			i = len(groups) - 1
		}
		groups[i] = append(groups[i], s)
		dcs[i][l.DC] = true
	}
	return groups
}
