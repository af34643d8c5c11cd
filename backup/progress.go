package backup

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/internal/backupspec"
)

// Stage is a step of a backup run, persisted so a resumed run continues
// where its predecessor stopped.
type Stage string

// Stages in order.
const (
	StageInit         Stage = "INIT"
	StageSnapshot     Stage = "SNAPSHOT"
	StageAwaitSchema  Stage = "AWAIT_SCHEMA"
	StageIndex        Stage = "INDEX"
	StageManifest     Stage = "MANIFEST"
	StageSchema       Stage = "SCHEMA"
	StageDeduplicate  Stage = "DEDUPLICATE"
	StageUpload       Stage = "UPLOAD"
	StageMoveManifest Stage = "MOVE_MANIFEST"
	StagePurge        Stage = "PURGE"
	StageDone         Stage = "DONE"
)

// index is the position of s in the stage order; -1 if unknown.
func (s Stage) index() int {
	for i, v := range [...]Stage{StageInit, StageSnapshot, StageAwaitSchema, StageIndex, StageManifest, StageSchema,
		StageDeduplicate, StageUpload, StageMoveManifest, StagePurge, StageDone} {
		if v == s {
			return i
		}
	}
	return -1
}

// runRow is the run-level progress row.
type runRow struct {
	Stage       Stage      `json:"stage"`
	SnapshotTag string     `json:"snapshot_tag"`
	StartedAt   time.Time  `json:"started_at"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	Plan        *plan      `json:"plan,omitempty"`
	ResumedFrom uuid.UUID  `json:"resumed_from,omitzero"`
}

// tableRow is the progress of one table on one host.
type tableRow struct {
	Host     string `json:"host"`
	Keyspace string `json:"keyspace"`
	Table    string `json:"table"`
	Version  string `json:"version"`
	// Files are the snapshot's SSTable files (manifest.json and
	// schema.cql excluded).
	Files []backupspec.File `json:"files"`
	// ScyllaManifests are local names of Scylla's snapshot manifests.
	ScyllaManifests []string   `json:"scylla_manifests,omitempty"`
	Size            int64      `json:"size"`
	Uploaded        int64      `json:"uploaded"`
	Skipped         int64      `json:"skipped"`
	Failed          int64      `json:"failed"`
	SkippedCount    int        `json:"skipped_count"`
	StartedAt       *time.Time `json:"started_at,omitempty"`
	CompletedAt     *time.Time `json:"completed_at,omitempty"`
	Error           string     `json:"error,omitempty"`
	ManifestMoved   bool       `json:"manifest_moved,omitempty"`
	Deduplicated    bool       `json:"deduplicated,omitempty"`
	Done            bool       `json:"done,omitempty"`
	JobID           int64      `json:"job_id,omitempty"`
	// UploadedBase is what earlier jobs of the table uploaded; the
	// current job's progress adds to it.
	UploadedBase int64 `json:"uploaded_base,omitempty"`
}

func tableKey(host, ks, table string) string { return tableRowPrefix + host + "/" + ks + "/" + table }

// RunProgress is a backup run's progress, shaped as Scylla Manager's
// BackupProgress.
type RunProgress struct {
	SnapshotTag string         `json:"snapshot_tag,omitempty"`
	DCs         []string       `json:"dcs,omitempty"`
	Hosts       []HostProgress `json:"hosts,omitempty"`
	Stage       string         `json:"stage,omitempty"`
	Counters
	StartedAt     *time.Time `json:"started_at,omitempty"`
	CompletedAt   *time.Time `json:"completed_at,omitempty"`
	RetentionDays int        `json:"retention_days,omitempty"`
	// Warnings name the keyspaces this backup does not wholly cover
	// (see Target.Warnings).
	Warnings []string `json:"warnings,omitempty"`
}

// Counters are byte counts: Skipped were already in the bucket
// (deduplicated).
type Counters struct {
	Size     int64 `json:"size"`
	Uploaded int64 `json:"uploaded"`
	Skipped  int64 `json:"skipped"`
	Failed   int64 `json:"failed"`
}

func (c *Counters) add(o Counters) {
	c.Size += o.Size
	c.Uploaded += o.Uploaded
	c.Skipped += o.Skipped
	c.Failed += o.Failed
}

// HostProgress is the progress of one host.
type HostProgress struct {
	Host      string             `json:"host"`
	Keyspaces []KeyspaceProgress `json:"keyspaces,omitempty"`
	Counters
	StartedAt   *time.Time `json:"started_at,omitempty"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
}

// KeyspaceProgress is the progress of one keyspace on one host.
type KeyspaceProgress struct {
	Keyspace string          `json:"keyspace"`
	Tables   []TableProgress `json:"tables,omitempty"`
	Counters
	StartedAt   *time.Time `json:"started_at,omitempty"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
}

// TableProgress is the progress of one table on one host.
type TableProgress struct {
	Table string `json:"table"`
	Error string `json:"error,omitempty"`
	Counters
	StartedAt   *time.Time `json:"started_at,omitempty"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
}

// Progress returns the run's progress as JSON (scheduler.ProgressReader).
func (s *Service) Progress(ctx context.Context, clusterID, taskID, runID uuid.UUID) (json.RawMessage, error) {
	p, err := s.RunProgress(ctx, clusterID, taskID, runID)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("backup: marshal progress: %w", err)
	}
	return b, nil
}

// RunProgress returns the typed progress of a run. A run without rows
// yet has an empty progress.
func (s *Service) RunProgress(ctx context.Context, _, _, runID uuid.UUID) (*RunProgress, error) {
	rows, err := s.st.ListProgress(ctx, runID)
	if err != nil {
		return nil, fmt.Errorf("backup: progress of run %s: %w", runID, err)
	}
	var rr runRow
	var tables []*tableRow
	for _, r := range rows {
		switch {
		case r.Key == runRowKey:
			if err := json.Unmarshal(r.Data, &rr); err != nil {
				return nil, fmt.Errorf("backup: progress row %s: %w", r.Key, err)
			}
		case strings.HasPrefix(r.Key, tableRowPrefix):
			var t tableRow
			if err := json.Unmarshal(r.Data, &t); err != nil {
				return nil, fmt.Errorf("backup: progress row %s: %w", r.Key, err)
			}
			tables = append(tables, &t)
		}
	}
	return buildProgress(&rr, tables), nil
}

func minTime(a, b *time.Time) *time.Time {
	if a == nil || (b != nil && b.Before(*a)) {
		return b
	}
	return a
}

func buildProgress(rr *runRow, tables []*tableRow) *RunProgress {
	p := &RunProgress{SnapshotTag: rr.SnapshotTag, Stage: string(rr.Stage), CompletedAt: rr.CompletedAt}
	if !rr.StartedAt.IsZero() {
		t := rr.StartedAt
		p.StartedAt = &t
	}
	if rr.Plan != nil {
		p.DCs = rr.Plan.dcs()
		p.RetentionDays = rr.Plan.Policy.RetentionDays
		p.Warnings = rr.Plan.Warnings
	}
	sort.Slice(tables, func(i, j int) bool {
		a, b := tables[i], tables[j]
		if a.Host != b.Host {
			return a.Host < b.Host
		}
		if a.Keyspace != b.Keyspace {
			return a.Keyspace < b.Keyspace
		}
		return a.Table < b.Table
	})
	for _, t := range tables {
		if len(p.Hosts) == 0 || p.Hosts[len(p.Hosts)-1].Host != t.Host {
			p.Hosts = append(p.Hosts, HostProgress{Host: t.Host})
		}
		h := &p.Hosts[len(p.Hosts)-1]
		if len(h.Keyspaces) == 0 || h.Keyspaces[len(h.Keyspaces)-1].Keyspace != t.Keyspace {
			h.Keyspaces = append(h.Keyspaces, KeyspaceProgress{Keyspace: t.Keyspace})
		}
		k := &h.Keyspaces[len(h.Keyspaces)-1]
		c := Counters{Size: t.Size, Uploaded: t.Uploaded, Skipped: t.Skipped, Failed: t.Failed}
		k.Tables = append(k.Tables, TableProgress{Table: t.Table, Error: t.Error, Counters: c, StartedAt: t.StartedAt, CompletedAt: t.CompletedAt})
		k.add(c)
		h.add(c)
		p.add(c)
		k.StartedAt, h.StartedAt = minTime(k.StartedAt, t.StartedAt), minTime(h.StartedAt, t.StartedAt)
	}
	// A keyspace/host is complete when all its tables are.
	for hi := range p.Hosts {
		h := &p.Hosts[hi]
		hostDone := true
		var hostEnd *time.Time
		for ki := range h.Keyspaces {
			k := &h.Keyspaces[ki]
			done := true
			var end *time.Time
			for _, t := range k.Tables {
				if t.CompletedAt == nil {
					done = false
				} else if end == nil || t.CompletedAt.After(*end) {
					end = t.CompletedAt
				}
			}
			if done {
				k.CompletedAt = end
				if hostEnd == nil || (end != nil && end.After(*hostEnd)) {
					hostEnd = end
				}
			} else {
				hostDone = false
			}
		}
		if hostDone {
			h.CompletedAt = hostEnd
		}
	}
	return p
}
