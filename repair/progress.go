package repair

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
)

// Progress row keys: one run row, then one row per finished job.
const (
	runRowKey    = "run"
	jobRowPrefix = "job/"
)

// runRow is the run's plan summary and settings.
type runRow struct {
	DCs          []string     `json:"dcs"`
	Host         string       `json:"host,omitempty"`
	Intensity    float64      `json:"intensity"`
	Parallel     int          `json:"parallel"`
	MaxIntensity int          `json:"max_intensity"`
	MaxParallel  int          `json:"max_parallel"`
	Tables       []tableTotal `json:"tables"`
	Waiting      []string     `json:"waiting,omitempty"`
	StartedAt    time.Time    `json:"started_at"`
	CompletedAt  *time.Time   `json:"completed_at,omitempty"`
}

// tableTotal is a planned table's range count, in all and per host.
type tableTotal struct {
	Keyspace string         `json:"keyspace"`
	Table    string         `json:"table"`
	Ranges   int            `json:"ranges"`
	Hosts    map[string]int `json:"hosts"`
}

// jobRow is one finished job (or the share of one replica set of a
// small-table job).
type jobRow struct {
	Keyspace    string     `json:"keyspace"`
	Table       string     `json:"table"`
	Hosts       []string   `json:"hosts"`
	Ranges      [][2]int64 `json:"ranges"`
	Error       string     `json:"error,omitempty"`
	StartedAt   time.Time  `json:"started_at"`
	CompletedAt time.Time  `json:"completed_at"`
}

func newRunRow(p *Plan, props Properties, now time.Time) runRow {
	r := runRow{DCs: p.DCs, Host: p.Host, Intensity: props.IntensityValue(), Parallel: props.Parallel,
		MaxIntensity: p.MaxIntensity, MaxParallel: p.MaxParallel, StartedAt: now}
	for _, k := range p.Keyspaces {
		hosts := map[string]int{}
		for _, rs := range k.ReplicaSets {
			for _, h := range rs.Hosts {
				hosts[h] += len(rs.Ranges)
			}
		}
		for _, t := range k.Tables {
			r.Tables = append(r.Tables, tableTotal{Keyspace: k.Keyspace, Table: t.Table, Ranges: k.Ranges, Hosts: hosts})
		}
	}
	return r
}

// recorder receives the executor's events.
type recorder interface {
	jobDone(ctx context.Context, j *job, start, end time.Time, errMsg string)
	waiting(ctx context.Context, w []string)
	tuned(intensity float64, parallel int)
}

// storeRecorder persists job rows and the run row (nil st: metrics only).
type storeRecorder struct {
	s                        *Service
	st                       store.ProgressStore
	clusterID, taskID, runID uuid.UUID
	fence                    int64

	mu     sync.Mutex
	seq    int
	row    runRow
	counts map[[3]string]*[2]int // (ks.table, host) → success, error
	total  map[[3]string]int
	rsOf   map[string]map[[2]int64]int // keyspace → range → replica set
	plan   *Plan
}

func newStoreRecorder(s *Service, st store.ProgressStore, clusterID, taskID, runID uuid.UUID, fence int64, plan *Plan, row runRow, seq int) *storeRecorder {
	r := &storeRecorder{s: s, st: st, clusterID: clusterID, taskID: taskID, runID: runID, fence: fence, seq: seq, row: row,
		counts: map[[3]string]*[2]int{}, total: map[[3]string]int{}, rsOf: map[string]map[[2]int64]int{}, plan: plan}
	c := clusterID.String()
	for _, t := range row.Tables {
		for h, n := range t.Hosts {
			k := [3]string{t.Keyspace, t.Table, h}
			r.total[k] = n
			r.counts[k] = &[2]int{}
			s.metrics.rangesTotal.WithLabelValues(c, t.Keyspace, t.Table, h).Set(float64(n))
			s.metrics.rangesSuccess.WithLabelValues(c, t.Keyspace, t.Table, h).Set(0)
			s.metrics.rangesError.WithLabelValues(c, t.Keyspace, t.Table, h).Set(0)
		}
	}
	return r
}

func (r *storeRecorder) put(ctx context.Context, key string, v any) error {
	if r.st == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("repair: progress row %s: %w", key, err)
	}
	err = r.st.PutProgress(ctx, &store.Progress{ClusterID: r.clusterID, TaskID: r.taskID, RunID: r.runID, Key: key, Data: b, Fence: r.fence, UpdatedAt: r.s.opts.Now()})
	if err != nil {
		return fmt.Errorf("repair: progress row %s: %w", key, err)
	}
	return nil
}

// rows splits a job by replica set (a small-table job covers them all).
func (r *storeRecorder) rows(j *job, start, end time.Time, errMsg string) []jobRow {
	if !j.small {
		row := jobRow{Keyspace: j.ts.ks.Keyspace, Table: j.ts.t.Table, Hosts: j.hosts, Error: errMsg, StartedAt: start, CompletedAt: end}
		for _, rg := range j.ranges {
			row.Ranges = append(row.Ranges, [2]int64{rg.Start, rg.End})
		}
		return []jobRow{row}
	}
	var out []jobRow
	for _, rs := range j.ts.ks.ReplicaSets {
		row := jobRow{Keyspace: j.ts.ks.Keyspace, Table: j.ts.t.Table, Hosts: rs.Hosts, Error: errMsg, StartedAt: start, CompletedAt: end}
		for _, rg := range rs.Ranges {
			row.Ranges = append(row.Ranges, [2]int64{rg.Start, rg.End})
		}
		out = append(out, row)
	}
	return out
}

func (r *storeRecorder) jobDone(ctx context.Context, j *job, start, end time.Time, errMsg string) {
	rows := r.rows(j, start, end, errMsg)
	r.mu.Lock()
	c := r.clusterID.String()
	var keys []string
	for _, row := range rows {
		r.seq++
		keys = append(keys, fmt.Sprintf("%s%09d", jobRowPrefix, r.seq))
		for _, h := range row.Hosts {
			k := [3]string{row.Keyspace, row.Table, h}
			cnt := r.counts[k]
			if cnt == nil {
				cnt = &[2]int{}
				r.counts[k] = cnt
			}
			if errMsg == "" {
				cnt[0] += len(row.Ranges)
				r.s.metrics.rangesSuccess.WithLabelValues(c, row.Keyspace, row.Table, h).Set(float64(cnt[0]))
			} else {
				cnt[1] += len(row.Ranges)
				r.s.metrics.rangesError.WithLabelValues(c, row.Keyspace, row.Table, h).Set(float64(cnt[1]))
			}
		}
	}
	var succ, tot int
	for k, n := range r.total {
		tot += n
		succ += r.counts[k][0]
	}
	if tot > 0 {
		r.s.metrics.progress.WithLabelValues(c).Set(100 * float64(succ) / float64(tot))
	}
	r.mu.Unlock()
	for i, row := range rows {
		if err := r.put(ctx, keys[i], row); err != nil {
			r.s.log.Warn("repair: save job progress", "cluster", r.clusterID, "err", err)
		}
	}
}

func (r *storeRecorder) waiting(ctx context.Context, w []string) {
	r.mu.Lock()
	r.row.Waiting = w
	row := r.row
	r.mu.Unlock()
	if err := r.put(ctx, runRowKey, row); err != nil {
		r.s.log.Warn("repair: save run progress", "cluster", r.clusterID, "err", err)
	}
}

func (r *storeRecorder) tuned(intensity float64, parallel int) {
	r.mu.Lock()
	if intensity >= 0 {
		r.row.Intensity = intensity
	}
	if parallel >= 0 {
		r.row.Parallel = parallel
	}
	row := r.row
	r.mu.Unlock()
	if err := r.put(context.Background(), runRowKey, row); err != nil {
		r.s.log.Warn("repair: save run progress", "cluster", r.clusterID, "err", err)
	}
}

func (r *storeRecorder) finish(ctx context.Context, completed bool) error {
	r.mu.Lock()
	r.row.Waiting = nil
	if completed {
		t := r.s.opts.Now()
		r.row.CompletedAt = &t
	}
	row := r.row
	r.mu.Unlock()
	return r.put(ctx, runRowKey, row)
}

// RunProgress is Scylla Manager's repair progress.
type RunProgress struct {
	SuccessPercentage int             `json:"success_percentage"`
	ErrorPercentage   int             `json:"error_percentage"`
	TokenRanges       int64           `json:"token_ranges"`
	Success           int64           `json:"success"`
	Error             int64           `json:"error"`
	StartedAt         *time.Time      `json:"started_at,omitempty"`
	CompletedAt       *time.Time      `json:"completed_at,omitempty"`
	DurationMs        int64           `json:"duration_ms"`
	DCs               []string        `json:"dcs"`
	Host              string          `json:"host,omitempty"`
	Intensity         float64         `json:"intensity"`
	MaxIntensity      int             `json:"max_intensity"`
	Parallel          int             `json:"parallel"`
	MaxParallel       int             `json:"max_parallel"`
	Hosts             []HostProgress  `json:"hosts"`
	Tables            []TableProgress `json:"tables"`
	// Waiting lists the nodes back-pressure holds, "NODE: WHY" (not in
	// Scylla Manager's answer).
	Waiting []string `json:"waiting,omitempty"`
}

// HostProgress is one host's progress.
type HostProgress struct {
	Host   string          `json:"host"`
	Tables []TableProgress `json:"tables"`
}

// TableProgress is one table's progress (overall or on one host).
type TableProgress struct {
	Keyspace    string     `json:"keyspace"`
	Table       string     `json:"table"`
	TokenRanges int64      `json:"token_ranges"`
	Success     int64      `json:"success"`
	Error       int64      `json:"error"`
	StartedAt   *time.Time `json:"started_at,omitempty"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	DurationMs  int64      `json:"duration_ms"`
}

func (t *TableProgress) add(row jobRow) {
	n := int64(len(row.Ranges))
	if row.Error == "" {
		t.Success += n
	} else {
		t.Error += n
	}
	if t.StartedAt == nil || row.StartedAt.Before(*t.StartedAt) {
		s := row.StartedAt
		t.StartedAt = &s
	}
	if t.CompletedAt == nil || row.CompletedAt.After(*t.CompletedAt) {
		c := row.CompletedAt
		t.CompletedAt = &c
	}
}

func (t *TableProgress) finish(now time.Time) {
	if t.StartedAt == nil {
		return
	}
	end := now
	if t.Success+t.Error >= t.TokenRanges && t.CompletedAt != nil {
		end = *t.CompletedAt
	} else {
		t.CompletedAt = nil
	}
	t.DurationMs = end.Sub(*t.StartedAt).Milliseconds()
}

// aggregate builds the progress of a run from its rows.
func aggregate(rows []*store.Progress, now time.Time) (*RunProgress, error) {
	out := &RunProgress{DCs: []string{}, Hosts: []HostProgress{}, Tables: []TableProgress{}}
	var rr runRow
	found := false
	var jobs []jobRow
	for _, p := range rows {
		switch {
		case p.Key == runRowKey:
			if err := json.Unmarshal(p.Data, &rr); err != nil {
				return nil, fmt.Errorf("repair: run row: %w", err)
			}
			found = true
		case strings.HasPrefix(p.Key, jobRowPrefix):
			var j jobRow
			if err := json.Unmarshal(p.Data, &j); err != nil {
				return nil, fmt.Errorf("repair: row %s: %w", p.Key, err)
			}
			jobs = append(jobs, j)
		}
	}
	if !found {
		return out, nil
	}
	out.DCs, out.Host, out.Intensity, out.Parallel, out.MaxIntensity, out.MaxParallel, out.Waiting = rr.DCs, rr.Host, rr.Intensity, rr.Parallel, rr.MaxIntensity, rr.MaxParallel, rr.Waiting
	st := rr.StartedAt
	out.StartedAt, out.CompletedAt = &st, rr.CompletedAt
	end := now
	if rr.CompletedAt != nil {
		end = *rr.CompletedAt
	}
	out.DurationMs = end.Sub(rr.StartedAt).Milliseconds()
	tables := map[[2]string]*TableProgress{}
	hosts := map[string]map[[2]string]*TableProgress{}
	for _, t := range rr.Tables {
		k := [2]string{t.Keyspace, t.Table}
		tables[k] = &TableProgress{Keyspace: t.Keyspace, Table: t.Table, TokenRanges: int64(t.Ranges)}
		for h, n := range t.Hosts {
			if hosts[h] == nil {
				hosts[h] = map[[2]string]*TableProgress{}
			}
			hosts[h][k] = &TableProgress{Keyspace: t.Keyspace, Table: t.Table, TokenRanges: int64(n)}
		}
	}
	for _, j := range jobs {
		k := [2]string{j.Keyspace, j.Table}
		if t := tables[k]; t != nil {
			t.add(j)
		}
		for _, h := range j.Hosts {
			if t := hosts[h][k]; t != nil {
				t.add(j)
			}
		}
	}
	for _, t := range rr.Tables {
		tp := tables[[2]string{t.Keyspace, t.Table}]
		tp.finish(now)
		out.Tables = append(out.Tables, *tp)
		out.TokenRanges += tp.TokenRanges
		out.Success += tp.Success
		out.Error += tp.Error
	}
	var hs []string
	for h := range hosts {
		hs = append(hs, h)
	}
	sort.Strings(hs)
	for _, h := range hs {
		hp := HostProgress{Host: h, Tables: []TableProgress{}}
		for _, t := range rr.Tables {
			if tp := hosts[h][[2]string{t.Keyspace, t.Table}]; tp != nil {
				tp.finish(now)
				hp.Tables = append(hp.Tables, *tp)
			}
		}
		out.Hosts = append(out.Hosts, hp)
	}
	if out.TokenRanges > 0 {
		out.SuccessPercentage = int(100 * out.Success / out.TokenRanges)
		out.ErrorPercentage = int(100 * out.Error / out.TokenRanges)
	}
	return out, nil
}
