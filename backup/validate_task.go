package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
)

// ValidateTaskProperties are the properties of a validate_backup task,
// with Scylla Manager's names (plus content_sample).
type ValidateTaskProperties struct {
	// Location: the locations to check; empty = every location of the
	// cluster's backup tasks is not known here, so it is required.
	Location []string `json:"location"`
	// DeleteOrphanedFiles deletes files no manifest references.
	DeleteOrphanedFiles bool `json:"delete_orphaned_files,omitempty"`
	// Parallel is accepted for compatibility; nodes are checked one
	// location at a time.
	Parallel int `json:"parallel,omitempty"`
	// ContentSample: see ValidateOptions.ContentSample.
	ContentSample int `json:"content_sample,omitempty"`
}

// ValidateRunner runs validate_backup tasks. Get it with
// Service.ValidateRunner.
type ValidateRunner struct{ s *Service }

// ValidateRunner returns the Runner of validate_backup tasks.
func (s *Service) ValidateRunner() *ValidateRunner { return &ValidateRunner{s: s} }

func parseValidateProperties(raw json.RawMessage) (ValidateTaskProperties, error) {
	var p ValidateTaskProperties
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			f = strings.Trim(f, `"`)
			return p, store.Invalid("properties."+f, "a validate_backup property (location, delete_orphaned_files, parallel, content_sample)", f)
		}
		return p, store.Invalid("properties", "a JSON object of validate_backup properties", err.Error())
	}
	if _, err := (Properties{Location: p.Location}).Locations(); err != nil {
		return p, err
	}
	if p.Parallel < 0 || p.ContentSample < 0 {
		return p, store.Invalid("parallel", "a number >= 0", "")
	}
	return p, nil
}

// ValidateProperties checks validate_backup properties.
func (v *ValidateRunner) ValidateProperties(properties json.RawMessage) error {
	_, err := parseValidateProperties(properties)
	return err
}

// Run validates the backups in the locations and stores one progress row
// per node. It fails when a kept snapshot misses files or a content
// check fails, naming them.
func (v *ValidateRunner) Run(ctx context.Context, clusterID, taskID, runID uuid.UUID, properties json.RawMessage) error {
	p, err := parseValidateProperties(properties)
	if err != nil {
		return err
	}
	reps, err := v.s.Validate(ctx, clusterID, p.Location, ValidateOptions{DeleteOrphanedFiles: p.DeleteOrphanedFiles, ContentSample: p.ContentSample})
	if err != nil {
		return err
	}
	var problems []error
	for _, r := range reps {
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("backup: marshal validate report: %w", err)
		}
		err = v.s.st.PutProgress(ctx, &store.Progress{ClusterID: clusterID, TaskID: taskID, RunID: runID,
			Key: "validate/" + r.Location + "/" + r.NodeID, Data: b, Fence: store.FenceFrom(ctx), UpdatedAt: v.s.opts.Now()})
		if err != nil {
			return fmt.Errorf("backup: save validate report: %w", err)
		}
		if r.MissingFiles > 0 {
			problems = append(problems, fmt.Errorf("node %s (%s) in %s: %d missing files, broken snapshots %v", r.Host, r.NodeID, r.Location, r.MissingFiles, r.BrokenSnapshots))
		}
		for _, c := range r.ContentErrors {
			problems = append(problems, fmt.Errorf("node %s in %s: %s", r.Host, r.Location, c))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("backup: validate: %w", errors.Join(problems...))
	}
	return nil
}

// Progress returns the run's reports as a JSON array (validate_backup
// progress).
func (v *ValidateRunner) Progress(ctx context.Context, _, _, runID uuid.UUID) (json.RawMessage, error) {
	rows, err := v.s.st.ListProgress(ctx, runID)
	if err != nil {
		return nil, fmt.Errorf("backup: progress of run %s: %w", runID, err)
	}
	out := []ValidateReport{}
	for _, r := range rows {
		if !strings.HasPrefix(r.Key, "validate/") {
			continue
		}
		var rep ValidateReport
		if err := json.Unmarshal(r.Data, &rep); err != nil {
			return nil, fmt.Errorf("backup: progress row %s: %w", r.Key, err)
		}
		out = append(out, rep)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Location+out[i].NodeID < out[j].Location+out[j].NodeID })
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("backup: marshal progress: %w", err)
	}
	return b, nil
}
