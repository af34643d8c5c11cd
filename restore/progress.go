package restore

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"
)

// Progress is a run's progress, shaped as Scylla Manager's
// RestoreProgress.
type Progress struct {
	SnapshotTag string             `json:"snapshot_tag"`
	Keyspaces   []KeyspaceProgress `json:"keyspaces"`
	Hosts       []HostProgress     `json:"hosts"`
	Views       []View             `json:"views"`
	Stage       Stage              `json:"stage"`
	Size        int64              `json:"size"`
	Restored    int64              `json:"restored"`
	Downloaded  int64              `json:"downloaded"`
	Failed      int64              `json:"failed"`
	StartedAt   *time.Time         `json:"started_at,omitempty"`
	CompletedAt *time.Time         `json:"completed_at,omitempty"`
	// Error is why the run failed ("" otherwise).
	Error string `json:"error,omitempty"`
}

// KeyspaceProgress is one keyspace of Progress.
type KeyspaceProgress struct {
	Keyspace   string          `json:"keyspace"`
	Tables     []TableProgress `json:"tables"`
	Size       int64           `json:"size"`
	Restored   int64           `json:"restored"`
	Downloaded int64           `json:"downloaded"`
	Failed     int64           `json:"failed"`
}

// TableProgress is one table of Progress.
type TableProgress struct {
	Table       string `json:"table"`
	TombstoneGC string `json:"tombstone_gc,omitempty"`
	Error       string `json:"error,omitempty"`
	Size        int64  `json:"size"`
	Restored    int64  `json:"restored"`
	Downloaded  int64  `json:"downloaded"`
	Failed      int64  `json:"failed"`
}

// HostProgress is one host of Progress (durations in milliseconds).
type HostProgress = hostStats

// RunProgress returns the progress of a run; store.ErrNotFound (wrapped)
// when the run has no rows.
func (s *Service) RunProgress(ctx context.Context, runID uuid.UUID) (*Progress, error) {
	rows, err := s.st.ListProgress(ctx, runID)
	if err != nil {
		return nil, fmt.Errorf("restore: progress of run %s: %w", runID, err)
	}
	r := &run{}
	if err := r.load(rows); err != nil {
		return nil, err
	}
	return r.progress(), nil
}

func (r *run) progress() *Progress {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := &Progress{SnapshotTag: r.row.SnapshotTag, Stage: r.row.Stage, Views: r.row.Views, Error: r.row.Error, CompletedAt: r.row.CompletedAt}
	if p.Views == nil {
		p.Views = []View{}
	}
	if !r.row.StartedAt.IsZero() {
		t := r.row.StartedAt
		p.StartedAt = &t
	}
	type agg struct{ size, restored, downloaded, failed int64 }
	tables := map[string]*agg{}
	errs := map[string]string{}
	for _, b := range r.batches {
		k := b.Keyspace + "." + b.Table
		a := tables[k]
		if a == nil {
			a = &agg{}
			tables[k] = a
		}
		a.size += b.Size
		for j, sst := range b.SSTables {
			if b.Downloaded[j] {
				a.downloaded += sst.Size
			}
		}
		if b.Loaded {
			a.restored += b.Size
		}
		if b.Error != "" {
			a.failed += b.Size
			errs[k] = b.Error
		}
	}
	if r.row.Target != nil {
		for _, u := range r.row.Target.Units {
			kp := KeyspaceProgress{Keyspace: u.Keyspace}
			for _, t := range u.Tables {
				tp := TableProgress{Table: t.Table, TombstoneGC: t.TombstoneGC, Size: t.Size, Error: errs[u.Keyspace+"."+t.Table]}
				if a := tables[u.Keyspace+"."+t.Table]; a != nil {
					tp.Restored, tp.Downloaded, tp.Failed = a.restored, a.downloaded, a.failed
				}
				kp.Tables = append(kp.Tables, tp)
				kp.Size += tp.Size
				kp.Restored += tp.Restored
				kp.Downloaded += tp.Downloaded
				kp.Failed += tp.Failed
			}
			p.Keyspaces = append(p.Keyspaces, kp)
			p.Size += kp.Size
			p.Restored += kp.Restored
			p.Downloaded += kp.Downloaded
			p.Failed += kp.Failed
		}
	}
	for _, h := range r.row.Hosts {
		p.Hosts = append(p.Hosts, *h)
	}
	sort.Slice(p.Hosts, func(i, j int) bool { return p.Hosts[i].Host < p.Hosts[j].Host })
	if p.Keyspaces == nil {
		p.Keyspaces = []KeyspaceProgress{}
	}
	if p.Hosts == nil {
		p.Hosts = []HostProgress{}
	}
	return p
}
