package restore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/internal/backupspec"
	"github.com/scyllaops/scyllaops/store"
)

// Stage is a step of a restore run, persisted so a resumed run continues
// where its predecessor stopped.
type Stage string

// Stages in order (Scylla Manager's).
const (
	StageInit          Stage = "INIT"
	StageDropViews     Stage = "DROP_VIEWS"
	StageDisableTGC    Stage = "DISABLE_TGC"
	StageData          Stage = "DATA"
	StageRepair        Stage = "REPAIR"
	StageEnableTGC     Stage = "ENABLE_TGC"
	StageRecreateViews Stage = "RECREATE_VIEWS"
	StageDone          Stage = "DONE"
)

var stageOrder = []Stage{StageInit, StageDropViews, StageDisableTGC, StageData, StageRepair, StageEnableTGC, StageRecreateViews, StageDone}

func (s Stage) index() int {
	for i, v := range stageOrder {
		if v == s {
			return i
		}
	}
	return -1
}

const (
	runRowKey      = "run"
	batchRowPrefix = "batch/"
)

// View is a materialized view or secondary index of a restored table,
// dropped before the data stage and re-created after it.
type View struct {
	Keyspace   string `json:"keyspace"`
	View       string `json:"view"`
	Type       string `json:"type"`
	BaseTable  string `json:"base_table"`
	CreateStmt string `json:"create_stmt"`
	Status     string `json:"status,omitempty"`
}

// hostStats are a host's restore figures (milliseconds).
type hostStats struct {
	Host             string `json:"host"`
	ShardCnt         int    `json:"shard_cnt"`
	RestoredBytes    int64  `json:"restored_bytes"`
	RestoreDuration  int64  `json:"restore_duration"`
	DownloadedBytes  int64  `json:"downloaded_bytes"`
	DownloadDuration int64  `json:"download_duration"`
	StreamedBytes    int64  `json:"streamed_bytes"`
	StreamDuration   int64  `json:"stream_duration"`
}

// runRow is the run-level progress row.
type runRow struct {
	Stage       Stage                 `json:"stage"`
	SnapshotTag string                `json:"snapshot_tag"`
	StartedAt   time.Time             `json:"started_at"`
	CompletedAt *time.Time            `json:"completed_at,omitempty"`
	Target      *Target               `json:"target"`
	Views       []View                `json:"views,omitempty"`
	Hosts       map[string]*hostStats `json:"hosts,omitempty"`
	ResumedFrom uuid.UUID             `json:"resumed_from,omitzero"`
	Error       string                `json:"error,omitempty"`
}

type run struct {
	s                        *Service
	c                        *agentclient.Client
	contact                  string
	clusterID, taskID, runID uuid.UUID
	props                    Properties
	locs                     []backupspec.Location
	rateLimits               []backupspec.DCLimit
	log                      *slog.Logger

	mu      sync.Mutex // guards row and batches
	row     runRow
	batches []*batch
	index   *snapshotIndex // nil on a resumed run until needed
	// resumed: the run goes on from rows of its own (a takeover) or of
	// the task's unfinished run (continue). Only then are files found in
	// an upload directory this run's; a new run deletes them.
	resumed bool
}

// Run restores properties' snapshot into the cluster: the Runner the
// scheduler calls for task type "restore".
func (s *Service) Run(ctx context.Context, clusterID, taskID, runID uuid.UUID, properties json.RawMessage) error {
	p, err := ParseProperties(properties)
	if err != nil {
		return err
	}
	c, contact, err := s.client(ctx, clusterID)
	if err != nil {
		return err
	}
	locs, _ := p.Locations()
	r := &run{s: s, c: c, contact: contact, clusterID: clusterID, taskID: taskID, runID: runID, props: p, locs: locs,
		log: s.log.With("cluster", clusterID, "task", taskID, "run", runID)}
	for _, l := range p.RateLimit {
		d, _ := backupspec.ParseDCLimit("rate_limit", l)
		r.rateLimits = append(r.rateLimits, d)
	}
	resumed, err := r.resume(ctx)
	if err != nil {
		return err
	}
	r.resumed = resumed
	if !resumed {
		pl, err := s.makePlan(ctx, clusterID, c, contact, p)
		if err != nil {
			return err
		}
		r.index = pl.index
		r.batches = pl.batches
		r.row = runRow{Stage: StageInit, SnapshotTag: p.SnapshotTag, StartedAt: s.opts.Now().UTC(), Target: pl.target, Hosts: map[string]*hostStats{}}
		for _, h := range pl.target.TargetHosts {
			r.row.Hosts[h.IP] = &hostStats{Host: h.IP, ShardCnt: h.Shards}
		}
		if err := r.saveAll(ctx); err != nil {
			return err
		}
	}
	s.m.progress.WithLabelValues(clusterID.String(), p.SnapshotTag).Set(r.percent())
	err = r.stages(ctx)
	s.m.progress.WithLabelValues(clusterID.String(), p.SnapshotTag).Set(r.percent())
	if err != nil {
		r.mu.Lock()
		r.row.Error = err.Error()
		r.mu.Unlock()
		_ = r.saveRun(context.WithoutCancel(ctx))
		return err
	}
	return nil
}

func (r *run) stages(ctx context.Context) error {
	type step struct {
		stage Stage
		fn    func(context.Context) error
	}
	var steps []step
	if r.props.RestoreSchema {
		steps = []step{{StageData, r.schema}}
	} else {
		steps = []step{
			{StageDropViews, r.dropViews},
			{StageDisableTGC, r.disableTGC},
			{StageData, r.dataWithoutCompaction},
			{StageRepair, r.repair},
			{StageEnableTGC, r.enableTGC},
			{StageRecreateViews, r.recreateViews},
		}
	}
	if !r.props.RestoreSchema && !r.props.AllowCompaction && r.row.Stage.index() > StageData.index() {
		// Resumed past DATA: the dead run may not have turned
		// auto-compaction back on.
		if err := r.setAutoCompaction(ctx, true); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
	}
	for _, st := range steps {
		if r.row.Stage.index() > st.stage.index() {
			continue
		}
		if r.row.Stage != st.stage {
			r.mu.Lock()
			r.row.Stage = st.stage
			r.mu.Unlock()
			if err := r.saveRun(ctx); err != nil {
				return err
			}
		}
		r.log.InfoContext(ctx, "restore stage", "stage", st.stage)
		if err := st.fn(ctx); err != nil {
			return err
		}
	}
	now := r.s.opts.Now().UTC()
	r.mu.Lock()
	r.row.Stage, r.row.CompletedAt, r.row.Error = StageDone, &now, ""
	r.mu.Unlock()
	return r.saveRun(ctx)
}

// resume loads this run's rows (a run re-executed after a takeover) or,
// with continue, clones those of the task's latest unfinished run of the
// same snapshot. It reports whether there was something to resume.
func (r *run) resume(ctx context.Context) (bool, error) {
	rows, err := r.s.st.ListProgress(ctx, r.runID)
	if err != nil {
		return false, fmt.Errorf("restore: progress of run %s: %w", r.runID, err)
	}
	if len(rows) == 0 && r.props.ContinueRun() {
		runs, err := r.s.st.ListRuns(ctx, r.taskID, 10)
		if err != nil {
			return false, fmt.Errorf("restore: runs of task %s: %w", r.taskID, err)
		}
		for _, prev := range runs {
			if prev.ID == r.runID || prev.Status == store.StatusDone {
				continue
			}
			prevRows, err := r.s.st.ListProgress(ctx, prev.ID)
			if err != nil {
				return false, fmt.Errorf("restore: progress of run %s: %w", prev.ID, err)
			}
			if len(prevRows) == 0 {
				continue
			}
			if err := r.load(prevRows); err != nil {
				return false, err
			}
			if r.row.SnapshotTag != r.props.SnapshotTag || r.row.Stage == StageDone || r.row.Target == nil {
				break
			}
			r.row.ResumedFrom = prev.ID
			r.log.InfoContext(ctx, "continuing the task's unfinished run", "from", prev.ID, "stage", r.row.Stage)
			return true, r.saveAll(ctx)
		}
		r.row, r.batches = runRow{}, nil
		return false, nil
	}
	if len(rows) == 0 {
		return false, nil
	}
	if err := r.load(rows); err != nil {
		return false, err
	}
	if r.row.Target == nil || r.row.SnapshotTag != r.props.SnapshotTag {
		r.row, r.batches = runRow{}, nil
		return false, nil
	}
	return true, nil
}

func (r *run) load(rows []*store.Progress) error {
	r.row, r.batches = runRow{}, nil
	for _, p := range rows {
		switch {
		case p.Key == runRowKey:
			if err := json.Unmarshal(p.Data, &r.row); err != nil {
				return fmt.Errorf("restore: run row: %w", err)
			}
		case strings.HasPrefix(p.Key, batchRowPrefix):
			b := &batch{}
			if err := json.Unmarshal(p.Data, b); err != nil {
				return fmt.Errorf("restore: row %s: %w", p.Key, err)
			}
			r.batches = append(r.batches, b)
		}
	}
	if r.row.Hosts == nil {
		r.row.Hosts = map[string]*hostStats{}
	}
	return nil
}

func batchKey(i int) string { return fmt.Sprintf("%s%06d", batchRowPrefix, i) }

func (r *run) progressRow(ctx context.Context, key string, v any) (*store.Progress, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("restore: marshal %s: %w", key, err)
	}
	return &store.Progress{ClusterID: r.clusterID, TaskID: r.taskID, RunID: r.runID, Key: key, Data: b,
		Fence: store.FenceFrom(ctx), UpdatedAt: r.s.opts.Now()}, nil
}

// saveAll stores the run row and every batch row.
func (r *run) saveAll(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	ps := make([]*store.Progress, 0, len(r.batches)+1)
	p, err := r.progressRow(ctx, runRowKey, r.row)
	if err != nil {
		return err
	}
	ps = append(ps, p)
	for i, b := range r.batches {
		p, err := r.progressRow(ctx, batchKey(i), b)
		if err != nil {
			return err
		}
		ps = append(ps, p)
	}
	for len(ps) > 0 {
		n := min(len(ps), 256)
		if err := store.PutProgressBatch(ctx, r.s.st, ps[:n]); err != nil {
			return fmt.Errorf("restore: save progress: %w", err)
		}
		ps = ps[n:]
	}
	return nil
}

func (r *run) saveRun(ctx context.Context) error {
	r.mu.Lock()
	p, err := r.progressRow(ctx, runRowKey, r.row)
	r.mu.Unlock()
	if err != nil {
		return err
	}
	if err := r.s.st.PutProgress(ctx, p); err != nil {
		return fmt.Errorf("restore: save progress: %w", err)
	}
	return nil
}

// saveBatch stores batch i's row with the run row (host figures).
func (r *run) saveBatch(ctx context.Context, i int) error {
	r.mu.Lock()
	bp, err := r.progressRow(ctx, batchKey(i), r.batches[i])
	var rp *store.Progress
	if err == nil {
		rp, err = r.progressRow(ctx, runRowKey, r.row)
	}
	r.mu.Unlock()
	if err != nil {
		return err
	}
	if err := store.PutProgressBatch(ctx, r.s.st, []*store.Progress{rp, bp}); err != nil {
		return fmt.Errorf("restore: save progress: %w", err)
	}
	return nil
}

func (r *run) hostStats(host string, f func(*hostStats)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.row.Hosts[host]
	if h == nil {
		h = &hostStats{Host: host}
		r.row.Hosts[host] = h
	}
	f(h)
}

func (r *run) shards(host string) int {
	for _, h := range r.row.Target.TargetHosts {
		if h.IP == host {
			return max(1, h.Shards)
		}
	}
	return 1
}

func (r *run) hostDC(host string) string {
	for _, h := range r.row.Target.TargetHosts {
		if h.IP == host {
			return h.DC
		}
	}
	return ""
}

// percent is the restored share of the snapshot's bytes.
func (r *run) percent() float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var size, done int64
	for _, b := range r.batches {
		size += b.Size
		if b.Loaded {
			done += b.Size
		}
	}
	if size == 0 {
		if r.row.Stage == StageDone {
			return 100
		}
		return 0
	}
	return float64(done) * 100 / float64(size)
}

// restoredTables are the "ks.table" names of the target.
func (r *run) restoredTables() []string {
	var out []string
	for _, u := range r.row.Target.Units {
		for _, t := range u.Tables {
			out = append(out, u.Keyspace+"."+t.Table)
		}
	}
	sort.Strings(out)
	return out
}

func (r *run) repair(ctx context.Context) error {
	if r.s.opts.Repair == nil {
		r.log.WarnContext(ctx, "no repair service: the restored tables are not repaired", "tables", r.restoredTables())
		return nil
	}
	if err := r.s.opts.Repair.RepairTables(ctx, r.clusterID, r.restoredTables()); err != nil {
		return fmt.Errorf("restore: repair of the restored tables: %w", err)
	}
	return nil
}

var errNoCQL = errors.New("restore: no CQL access to the cluster (Options.CQL is nil)")
