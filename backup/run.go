package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/internal/backupspec"
	"github.com/scyllaops/scyllaops/store"
)

// run is the state of one backup run.
type run struct {
	s                        *Service
	c                        *agentclient.Client
	contact                  string
	clusterID, taskID, runID uuid.UUID
	props                    Properties
	lastTag                  string // newest tag of the task's earlier runs

	mu     sync.Mutex // guards row and tables
	row    runRow
	tables map[string]*tableRow
	pw     *progressWriter // writes the progress rows (progress_writer.go)
}

// Run executes one backup run (the scheduler's Runner). It returns nil
// when the run reached DONE. Bad properties fail before any snapshot with
// an error matching store.ErrInvalid.
func (s *Service) Run(ctx context.Context, clusterID, taskID, runID uuid.UUID, properties json.RawMessage) error {
	p, err := ParseProperties(properties)
	if err != nil {
		return err
	}
	c, contact, err := s.client(ctx, clusterID)
	if err != nil {
		return err
	}
	r := &run{s: s, c: c, contact: contact, clusterID: clusterID, taskID: taskID, runID: runID, props: p, tables: map[string]*tableRow{}}
	log := s.log.With("cluster", clusterID, "task", taskID, "run", runID)
	r.pw = newProgressWriter(ctx, s.st)
	defer r.closeProgress(log)

	resumed, err := r.resume(ctx, p.ContinueRun() && !p.PurgeOnly)
	if err != nil {
		return err
	}
	if !resumed {
		pl, err := s.makePlan(ctx, clusterID, c, contact, p, false)
		if err != nil {
			return err
		}
		now := s.opts.Now().UTC()
		tag := backupspec.NewSnapshotTag(now)
		if r.lastTag != "" && tag <= r.lastTag {
			// Two runs in one second: tags must stay unique and ordered.
			last, _ := backupspec.ParseSnapshotTag(r.lastTag)
			tag = backupspec.NewSnapshotTag(last.Add(time.Second))
		}
		r.row = runRow{Stage: StageInit, SnapshotTag: tag, StartedAt: now, Plan: pl}
	}
	if err := s.checkLocations(ctx, c, r.row.Plan); err != nil {
		return err
	}
	if r.row.Plan.PurgeOnly {
		r.row.Stage = StagePurge
	}
	if err := r.putRow(ctx, runRowKey, r.snapshotRow()); err != nil {
		return err
	}
	log.Info("backup run", "tag", r.row.SnapshotTag, "stage", r.row.Stage, "resumed", resumed)

	steps := []struct {
		first, last Stage
		fn          func(context.Context) error
	}{
		{StageSnapshot, StageSnapshot, r.snapshot},
		{StageAwaitSchema, StageAwaitSchema, func(context.Context) error { return nil }},
		{StageIndex, StageIndex, r.index},
		{StageManifest, StageManifest, r.manifests},
		{StageSchema, StageSchema, r.schema},
		{StageDeduplicate, StageMoveManifest, r.uploadPhase},
		{StagePurge, StagePurge, r.purge},
	}
	for _, st := range steps {
		cur := r.snapshotRow().Stage
		if st.last.index() < cur.index() {
			continue
		}
		if st.first.index() > cur.index() {
			if err := r.setStage(ctx, st.first); err != nil {
				return err
			}
		}
		begin := time.Now()
		if err := st.fn(ctx); err != nil {
			log.Info("backup run failed", "stage", r.snapshotRow().Stage, "error", err)
			return err
		}
		log.Debug("backup stage done", "stage", st.first, "took", time.Since(begin))
	}
	now := s.opts.Now().UTC()
	r.mu.Lock()
	r.row.CompletedAt = &now
	r.mu.Unlock()
	return r.setStage(ctx, StageDone)
}

func (r *run) snapshotRow() runRow {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.row
}

func (r *run) setStage(ctx context.Context, st Stage) error {
	r.mu.Lock()
	r.row.Stage = st
	r.mu.Unlock()
	return r.putRow(ctx, runRowKey, r.snapshotRow())
}

// resume looks for the previous run of the task (and records the newest
// snapshot tag of the task's runs in r.lastTag); when try is set and it
// is unfinished, its snapshot is younger than AgeMax and still on the
// nodes (snapshotLost), its rows are copied into this run and the run
// continues at its stage. Otherwise the run starts over with a new
// snapshot; this run's own rows of an abandoned snapshot are deleted.
func (r *run) resume(ctx context.Context, try bool) (bool, error) {
	runs, err := r.s.st.ListRuns(ctx, r.taskID, 10)
	if err != nil {
		return false, fmt.Errorf("backup: list runs: %w", err)
	}
	// The newest earlier run that got past INIT decides; runs that failed
	// before writing a plan (e.g. a node was down) are skipped, a DONE run
	// ends the search.
	var (
		prev *store.Run
		rr   runRow
		rows []*store.Progress
	)
	for _, x := range runs {
		// The run itself is among them when the scheduler continues it
		// under the same ID (a Manager died and another took the run
		// over, or a window reopened): its own rows say where it stopped.
		own := x.ID == r.runID
		rows, err = r.s.st.ListProgress(ctx, x.ID)
		if err != nil {
			return false, fmt.Errorf("backup: progress of run %s: %w", x.ID, err)
		}
		found := false
		for _, p := range rows {
			if p.Key == runRowKey {
				if err := json.Unmarshal(p.Data, &rr); err != nil {
					return false, fmt.Errorf("backup: run row of %s: %w", x.ID, err)
				}
				found = true
			}
		}
		if found && r.lastTag == "" {
			r.lastTag = rr.SnapshotTag
		}
		if own && !found {
			continue
		}
		if !own && (x.Status == store.StatusDone || !try) {
			return false, nil
		}
		if found && rr.Plan != nil && rr.Stage.index() > StageInit.index() {
			prev = x
			break
		}
	}
	if prev == nil || rr.Stage == StageDone || rr.Plan.PurgeOnly {
		return false, nil
	}
	t, err := backupspec.ParseSnapshotTag(rr.SnapshotTag)
	if err != nil || r.s.opts.Now().Sub(t) > r.s.opts.AgeMax {
		return false, nil
	}
	tables := map[string]*tableRow{}
	var keys []string // in the store's order
	for _, p := range rows {
		if !strings.HasPrefix(p.Key, tableRowPrefix) {
			continue
		}
		var tr tableRow
		if err := json.Unmarshal(p.Data, &tr); err != nil {
			return false, fmt.Errorf("backup: progress row %s of %s: %w", p.Key, prev.ID, err)
		}
		tables[p.Key] = &tr
		keys = append(keys, p.Key)
	}
	// The snapshot must still be on the nodes (see resume.go).
	why, err := r.snapshotLost(ctx, rr, tables)
	if err != nil {
		return false, err
	}
	if why != "" {
		r.s.log.Warn("backup: not continuing the snapshot of an earlier run, taking a new one", "cluster", r.clusterID,
			"task", r.taskID, "run", r.runID, "earlier_run", prev.ID, "tag", rr.SnapshotTag, "stage", rr.Stage, "reason", why)
		return false, r.abandon(ctx, prev.ID == r.runID, tables)
	}
	for _, key := range keys {
		tr := tables[key]
		r.tables[key] = tr
		if prev.ID == r.runID {
			continue // the rows are this run's already
		}
		if err := r.putRowAs(ctx, key, tr, writeAsync); err != nil { // stored before the run row
			return false, err
		}
	}
	if prev.ID != r.runID {
		rr.ResumedFrom = prev.ID
	}
	rr.CompletedAt = nil
	r.row = rr
	return true, nil
}

// saveTable persists one table row.
func (r *run) saveTable(ctx context.Context, t *tableRow) error {
	return r.saveTableAs(ctx, t, writeAsync)
}

// hostTables returns the rows of host in unit order, tables sorted.
func (r *run) hostTables(host string) []*tableRow {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*tableRow
	for _, t := range r.tables {
		if t.Host == host {
			out = append(out, t)
		}
	}
	rank := map[string]int{}
	for i, u := range r.row.Plan.Units {
		rank[u.Keyspace] = i
	}
	sort.Slice(out, func(i, j int) bool {
		if rank[out[i].Keyspace] != rank[out[j].Keyspace] {
			return rank[out[i].Keyspace] < rank[out[j].Keyspace]
		}
		return out[i].Table < out[j].Table
	})
	return out
}

// forEachHost runs fn for every host, at most limit at once (from
// limits: a DC's own limit for its hosts, else the default one shared by
// all DCs without their own; 0 = all), and joins the errors.
func forEachHost(ctx context.Context, hosts []Host, limits []backupspec.DCLimit, fn func(context.Context, Host) error) error {
	// A DC with its own limit has its own pool; the DCs without share one
	// pool of the default limit (no DC prefix), as Scylla Manager does.
	pool := func(dc string) string {
		for _, l := range limits {
			if l.DC == dc {
				return dc
			}
		}
		return ""
	}
	sems := map[string]chan struct{}{}
	for _, h := range hosts {
		k := pool(h.DC)
		if _, ok := sems[k]; !ok {
			if n := backupspec.LimitFor(limits, k, 0); n > 0 {
				sems[k] = make(chan struct{}, n)
			} else {
				sems[k] = nil
			}
		}
	}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for _, h := range hosts {
		wg.Go(func() {
			if sem := sems[pool(h.DC)]; sem != nil {
				select {
				case sem <- struct{}{}:
					defer func() { <-sem }()
				case <-ctx.Done():
					mu.Lock()
					errs = append(errs, ctx.Err())
					mu.Unlock()
					return
				}
			}
			if err := fn(ctx, h); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// withLease runs fn holding the lease name, waiting while another owner
// holds it, renewing it every third of its TTL. fn's context is canceled
// if the lease is lost.
func (s *Service) withLease(ctx context.Context, name, owner string, fn func(context.Context) error) error {
	var l store.Lease
	for {
		var err error
		l, err = s.st.AcquireLease(ctx, name, owner, s.opts.LeaseTTL)
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrLeaseHeld) {
			return fmt.Errorf("backup: lease %s: %w", name, err)
		}
		t := time.NewTimer(s.opts.LeaseWait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("backup: waiting for lease %s: %w", name, context.Cause(ctx))
		case <-t.C:
		}
	}
	fctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(max(s.opts.LeaseTTL/3, minLeaseRenewPeriod))
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-fctx.Done():
				return
			case <-tick.C:
				nl, err := s.st.RenewLease(fctx, l, s.opts.LeaseTTL)
				if err != nil {
					cancel(fmt.Errorf("backup: lease %s lost: %w", name, err))
					return
				}
				l = nl
			}
		}
	})
	err := fn(fctx)
	close(stop)
	wg.Wait()
	if rerr := s.st.ReleaseLease(context.WithoutCancel(ctx), l); rerr != nil && !errors.Is(rerr, store.ErrLeaseLost) {
		s.log.Warn("release lease", "lease", name, "error", rerr)
	}
	if err == nil {
		if cerr := context.Cause(fctx); cerr != nil && fctx.Err() != nil {
			return cerr
		}
	}
	return err
}
