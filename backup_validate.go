package scyllaops

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/backup"
	"github.com/scyllaops/scyllaops/internal/backupspec"
	"github.com/scyllaops/scyllaops/scheduler"
	"github.com/scyllaops/scyllaops/store"
)

// validateLocationProperty is the validate_backup property the Manager
// fills in when a task leaves it empty.
const validateLocationProperty = "location"

// validatePlaceholderLocation stands in for an empty location while the
// rest of a validate_backup task's properties are checked: the backup
// service's validator requires a location, the Manager supplies it at run
// time. It is never used to reach storage.
const validatePlaceholderLocation = "s3:placeholder"

// validateRunner is the validate_backup Runner as registered: a run whose
// task has no location validates the locations of the cluster's backup
// tasks (Scylla Manager's validate_backup properties decorator).
func (m *Manager) validateRunner(svc *backup.Service) scheduler.Runner {
	return decorateRunner(validateGroups{svc.ValidateRunner()}, decoratedRunner{
		decorate: func(ctx context.Context, clusterID, _ uuid.UUID, properties json.RawMessage) (json.RawMessage, error) {
			return m.withValidateLocations(ctx, clusterID, properties)
		},
	})
}

// withValidateLocations returns properties with location set to the union
// of the locations of the cluster's backup tasks (enabled or disabled,
// not deleted; first-seen order, no duplicates) when properties have none
// (absent, null or []). Properties with a location, or that are not a
// JSON object, are returned unchanged (the service refuses bad ones with
// its own error). With no location to take, the run fails with an error
// naming "location".
func (m *Manager) withValidateLocations(ctx context.Context, clusterID uuid.UUID, properties json.RawMessage) (json.RawMessage, error) {
	obj, ok := propertiesObject(properties)
	if !ok || !emptyLocation(obj) {
		return properties, nil
	}
	locs, err := m.taskLocations(ctx, clusterID)
	if err != nil {
		return nil, err
	}
	if len(locs) == 0 {
		return nil, fmt.Errorf("scyllaops: validate_backup: %w", store.Invalid(validateLocationProperty,
			"at least one location like \"s3:my-bucket\" (the cluster has no backup task to take them from)", ""))
	}
	b, err := json.Marshal(locs)
	if err != nil {
		return nil, fmt.Errorf("scyllaops: validate_backup locations: %w", err)
	}
	obj[validateLocationProperty] = b
	out, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("scyllaops: validate_backup locations: %w", err)
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
	*backup.ValidateRunner
}

// ValidateProperties implements scheduler.PropertiesValidator: as the
// service's, but an empty location is accepted.
func (v validateGroups) ValidateProperties(properties json.RawMessage) error {
	if obj, ok := propertiesObject(properties); ok && emptyLocation(obj) {
		obj[validateLocationProperty] = json.RawMessage(`["` + validatePlaceholderLocation + `"]`)
		b, err := json.Marshal(obj)
		if err != nil {
			return fmt.Errorf("scyllaops: validate_backup properties: %w", err)
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
			return fmt.Errorf("scyllaops: validate_backup locations: %w", err)
		}
		obj[validateLocationProperty] = b
		p, err := json.Marshal(obj)
		if err != nil {
			return fmt.Errorf("scyllaops: validate_backup properties: %w", err)
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
