package restore

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/internal/backupspec"
)

// The DATA stage.
//
// Each host restores its batches one after the other; hosts run in
// parallel up to the parallel property. A batch is downloaded sstable by
// sstable (one agent job each, `transfers` at once) into
// data:<ks>/<table>-<version>/upload, each sstable recorded as downloaded
// in the batch's progress row when its job succeeds; then the whole
// upload directory is loaded with load&stream and the batch recorded as
// loaded.
//
// A resumed run (after a crash, a stop or a takeover, or a continued
// run) reads those rows: a loaded batch is skipped; in a batch that is
// not, the sstables are looked for in the upload directory. The agent
// writes each file under a temporary name and renames it when complete,
// so an sstable not recorded but there whole was downloaded by a job that
// finished after the interrupted run died: it is recorded, not downloaded
// again. When every sstable of the batch was recorded, the interrupted
// run reached the load, which may still run on the node (the node goes
// on with a load whose caller died) and consume the files: nothing is
// downloaded again, and the load call waits for that load ("already
// loading") before loading what is left. Otherwise the rest of the batch
// is downloaded with the calls the interrupted run made (the agent joins
// an identical call to its job still running, instead of copying again),
// files that are not the batch's are deleted, and the batch is loaded. A
// host holds at most one unfinished batch, so the upload directory only
// ever holds that batch. A new run deletes whatever it finds in an upload
// directory before downloading into it.

func (r *run) data(ctx context.Context) error {
	byHost := map[string][]int{}
	var hosts []string
	for i, b := range r.batches {
		if _, ok := byHost[b.Host]; !ok {
			hosts = append(hosts, b.Host)
		}
		byHost[b.Host] = append(byHost[b.Host], i)
	}
	// A host's failure does not stop the others: what they restore
	// stays restored, and the failing host's batch is resumed later.
	var (
		g    errgroup.Group
		mu   sync.Mutex
		errs []error
	)
	if r.props.Parallel > 0 {
		g.SetLimit(r.props.Parallel)
	}
	for _, h := range hosts {
		g.Go(func() error {
			// The batch a previous run left half done goes first.
			order := byHost[h]
			for k, i := range order {
				if b := r.batches[i]; !b.Loaded && slicesAny(b.Downloaded) {
					order = append([]int{i}, append(append([]int(nil), order[:k]...), order[k+1:]...)...)
					break
				}
			}
			for _, i := range order {
				if err := r.restoreBatch(ctx, i); err != nil {
					r.s.m.state.With(r.stateLabels(h)).Set(stateError)
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return nil
				}
			}
			r.s.m.state.With(r.stateLabels(h)).Set(stateIdle)
			return nil
		})
	}
	_ = g.Wait()
	return errors.Join(errs...)
}

func slicesAny(bs []bool) bool {
	for _, b := range bs {
		if b {
			return true
		}
	}
	return false
}

func (r *run) stateLabels(host string) prometheus.Labels {
	return prometheus.Labels{"cluster": r.clusterID.String(), "location": locString(r.locs), "snapshot_tag": r.props.SnapshotTag, "host": host}
}

func uploadDir(b *batch) string {
	return path.Join(b.Keyspace, b.Table+"-"+b.Version, "upload")
}

func (r *run) restoreBatch(ctx context.Context, i int) error {
	b := r.batches[i]
	if b.Loaded {
		return nil
	}
	start := time.Now()
	up := uploadDir(b)
	present, err := r.listUpload(ctx, b)
	if err != nil {
		return r.batchFailed(ctx, i, err)
	}
	// Files appear under their name only once complete (the agent
	// writes a temporary file and renames it): in a resumed run, an
	// sstable that is there whole with its size was downloaded by the
	// interrupted run, by a job that finished after it died. One whose job
	// still runs is asked for again below with the same call, which the
	// agent joins to that job. A new run trusts nothing it finds there (an
	// abandoned restore of another snapshot may have left files of the
	// same names and sizes): all of it is deleted below.
	adopted := false
	for j, sst := range b.SSTables {
		if b.Downloaded[j] || !r.resumed {
			continue
		}
		if sst.completeIn(present) {
			r.log.InfoContext(ctx, "sstable downloaded by an interrupted run", "host", b.Host, "keyspace", b.Keyspace, "table", b.Table, "sstable", sst.ID)
			r.mu.Lock()
			b.Downloaded[j] = true
			r.mu.Unlock()
			adopted = true
		}
	}
	if adopted {
		if err := r.saveBatch(ctx, i); err != nil {
			return err
		}
	}
	// Every sstable recorded: the interrupted run reached the load, and
	// a load it started may still run on the node, consuming the files
	// (Scylla answers "already loading" until it ends). Nothing is
	// downloaded again: the load call below waits for that load, then
	// loads what is left (nothing when it had finished).
	all := len(b.SSTables) > 0
	for j := range b.SSTables {
		all = all && b.Downloaded[j]
	}
	keep := map[string]bool{}
	for j, sst := range b.SSTables {
		if !b.Downloaded[j] {
			continue
		}
		for _, f := range sst.Files {
			if _, ok := present[f]; ok {
				keep[f] = true
			}
		}
	}
	// Files of the batch's sstables are complete (see above); those of
	// one not downloaded yet may belong to a job still running, which the
	// same call joins. Anything else is not this batch's: deleted.
	own := map[string]bool{}
	for _, sst := range b.SSTables {
		for _, f := range sst.Files {
			own[f] = r.resumed
		}
	}
	var stray []string
	for name := range present {
		if !own[name] {
			stray = append(stray, name)
			delete(present, name)
		}
	}
	if len(stray) > 0 {
		if _, err := r.c.DeletePaths(ctx, b.Host, "data:", up, stray); err != nil {
			return r.batchFailed(ctx, i, fmt.Errorf("clean %s on %s: %w", up, b.Host, err))
		}
	}
	for j := range b.SSTables {
		if b.Downloaded[j] && !all {
			// Recorded, no load can have started, but its files are
			// gone: download it again.
			for _, f := range b.SSTables[j].Files {
				if !keep[f] {
					r.mu.Lock()
					b.Downloaded[j] = false
					r.mu.Unlock()
					break
				}
			}
		}
	}
	r.s.m.batchSize.With(prometheus.Labels{"cluster": r.clusterID.String(), "host": b.Host}).Set(float64(b.Size))
	r.s.m.state.With(r.stateLabels(b.Host)).Set(stateDownload)
	if err := r.download(ctx, i, present); err != nil {
		return r.batchFailed(ctx, i, err)
	}
	r.s.m.state.With(r.stateLabels(b.Host)).Set(stateLoad)
	ls := time.Now()
	if err := r.c.LoadSSTables(ctx, b.Host, b.Keyspace, b.Table, agentclient.LoadSSTablesOptions{LoadAndStream: !r.row.Target.OneToOne, PollInterval: r.s.opts.LongPoll}); err != nil {
		return r.batchFailed(ctx, i, fmt.Errorf("load&stream %s.%s on %s: %w", b.Keyspace, b.Table, b.Host, err))
	}
	cl := prometheus.Labels{"cluster": r.clusterID.String(), "host": b.Host}
	r.s.m.streamed.With(cl).Add(float64(b.Size))
	r.s.m.streamDur.With(cl).Add(time.Since(ls).Seconds())
	r.s.m.restored.With(cl).Add(float64(b.Size))
	r.s.m.restoreDur.With(cl).Add(time.Since(start).Seconds())
	r.hostStats(b.Host, func(h *hostStats) {
		h.StreamedBytes += b.Size
		h.StreamDuration += time.Since(ls).Milliseconds()
		h.RestoredBytes += b.Size
		h.RestoreDuration += time.Since(start).Milliseconds()
	})
	return r.markLoaded(ctx, i)
}

// listUpload returns the files in b's upload directory on its host, with
// their sizes.
func (r *run) listUpload(ctx context.Context, b *batch) (map[string]int64, error) {
	up := uploadDir(b)
	present := map[string]int64{}
	err := r.c.List(ctx, b.Host, agentclient.ListOptions{Fs: "data:", Remote: up, Opt: &agentclient.ListOpt{FilesOnly: true, NoModTime: true, NoMimeType: true}},
		func(it agentclient.ListItem) error { present[it.Name] = it.Size; return nil })
	if err != nil {
		return nil, fmt.Errorf("list %s on %s: %w", up, b.Host, err)
	}
	return present, nil
}

// completeIn tells whether every file of s is in present and their sizes
// add up to s's.
func (s *sstable) completeIn(present map[string]int64) bool {
	var size int64
	for _, f := range s.Files {
		sz, ok := present[f]
		if !ok {
			return false
		}
		size += sz
	}
	return size == s.Size
}

// download fetches the sstables of batch i not downloaded yet, transfers
// at a time, recording each one when its files are all there. present are
// the batch's files complete in the upload directory (a resumed run's).
func (r *run) download(ctx context.Context, i int, present map[string]int64) error {
	b := r.batches[i]
	par := r.props.Transfers
	if par == 0 {
		par = 2 * r.shards(b.Host)
	}
	mib := backupspec.LimitFor(r.rateLimits, r.hostDC(b.Host), 0)
	rate := ""
	if mib > 0 {
		rate = strconv.Itoa(max(1, mib/par)) + "M"
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(par)
	var mu sync.Mutex // serializes row writes of this batch
	// record marks sstable j downloaded and saves the batch's row.
	record := func(j int) error {
		mu.Lock()
		defer mu.Unlock()
		r.mu.Lock()
		b.Downloaded[j] = true
		r.mu.Unlock()
		return r.saveBatch(gctx, i)
	}
	for j, sst := range b.SSTables {
		r.mu.Lock()
		done := b.Downloaded[j]
		r.mu.Unlock()
		if done {
			continue
		}
		g.Go(func() error {
			start := time.Now()
			loc, err := backupspec.ParseLocation(sst.Location)
			if err != nil {
				return fmt.Errorf("location %q: %w", sst.Location, err)
			}
			have := present
			if r.resumed {
				// The interrupted run's job for it may have finished
				// since the batch's listing (while this sstable waited
				// for a transfer slot; it may have had no file there
				// yet at the listing): look again, since a call after
				// that job ended would be a second job, and download
				// only if it is still not whole.
				if have, err = r.listUpload(gctx, b); err != nil {
					return err
				}
				if sst.completeIn(have) {
					r.log.InfoContext(gctx, "sstable downloaded by an interrupted run", "host", b.Host, "keyspace", b.Keyspace, "table", b.Table, "sstable", sst.ID)
					return record(j)
				}
			}
			if err := r.downloadSSTable(gctx, b, sst, loc, rate, have); err != nil {
				return err
			}
			dl := prometheus.Labels{"cluster": r.clusterID.String(), "location": sst.Location, "host": b.Host}
			r.s.m.downloaded.With(dl).Add(float64(sst.Size))
			r.s.m.downloadDur.With(dl).Add(time.Since(start).Seconds())
			r.hostStats(b.Host, func(h *hostStats) {
				h.DownloadedBytes += sst.Size
				h.DownloadDuration += time.Since(start).Milliseconds()
			})
			return record(j)
		})
	}
	return g.Wait()
}

// downloadSSTable copies one sstable's components into the upload dir:
// the files stored under their own name with one copypaths job, versioned
// copies one copyfile job each under the name they are loaded as. Both
// are agent jobs, so a resumed run's identical call joins the job an
// interrupted run left running; a versioned copy already complete in the
// upload directory (present) is not asked for again. The plain files'
// call is always the same, whole, call: the agent joins it to a running
// job or skips the files already there by the deduplication rule.
func (r *run) downloadSSTable(ctx context.Context, b *batch, sst *sstable, loc backupspec.Location, rate string, present map[string]int64) error {
	up := uploadDir(b)
	var plain []string
	for k, f := range sst.Files {
		rn := sst.remoteName(k)
		if rn == f {
			plain = append(plain, f)
			continue
		}
		if _, ok := present[f]; ok {
			continue
		}
		src := loc.RemotePath(path.Join(sst.Dir, rn))
		id, err := r.c.CopyFileAsync(ctx, b.Host, "data:", path.Join(up, f), loc.RemoteName(), path.Join(sst.Dir, rn))
		if err != nil {
			return fmt.Errorf("download %s to %s: %w", src, b.Host, err)
		}
		jp, err := r.waitJob(ctx, b.Host, id)
		if err != nil {
			return fmt.Errorf("download %s to %s: %w", src, b.Host, err)
		}
		if jp.Status != agentclient.JobSuccess {
			return fmt.Errorf("download %s to %s: job %d %s: %s", src, b.Host, id, jp.Status, jp.Error)
		}
	}
	if len(plain) == 0 {
		return nil
	}
	id, err := r.c.CopyPaths(ctx, b.Host, agentclient.CopyPathsOptions{SrcFs: loc.RemoteName(), SrcRemote: sst.Dir,
		DstFs: "data:", DstRemote: up, Paths: plain, BandwidthRate: rate, Transfers: 1})
	if err != nil {
		return fmt.Errorf("download sstable %s of %s to %s: %w", sst.ID, loc.RemotePath(sst.Dir), b.Host, err)
	}
	jp, err := r.waitJob(ctx, b.Host, id)
	if err != nil {
		return fmt.Errorf("download sstable %s of %s to %s: %w", sst.ID, loc.RemotePath(sst.Dir), b.Host, err)
	}
	if jp.Status != agentclient.JobSuccess {
		return fmt.Errorf("download sstable %s of %s to %s: job %d %s: %s", sst.ID, loc.RemotePath(sst.Dir), b.Host, id, jp.Status, jp.Error)
	}
	return nil
}

// waitJob long-polls agent job id on host until it is no longer running
// and deletes its stats group. A canceled ctx stops the job.
func (r *run) waitJob(ctx context.Context, host string, id int64) (*agentclient.JobProgress, error) {
	defer func() { _ = r.c.StatsDelete(context.WithoutCancel(ctx), host, agentclient.JobGroup(id)) }()
	for {
		jp, err := r.c.JobProgress(ctx, host, id, r.s.opts.LongPoll)
		if err != nil {
			if ctx.Err() != nil {
				_ = r.c.JobStop(context.WithoutCancel(ctx), host, id)
			}
			return nil, err
		}
		if jp.Status != agentclient.JobRunning {
			return jp, nil
		}
	}
}

func (r *run) markLoaded(ctx context.Context, i int) error {
	r.mu.Lock()
	b := r.batches[i]
	b.Loaded = true
	b.Error = ""
	for j := range b.Downloaded {
		b.Downloaded[j] = true
	}
	r.mu.Unlock()
	return r.saveBatch(ctx, i)
}

func (r *run) batchFailed(ctx context.Context, i int, err error) error {
	r.mu.Lock()
	r.batches[i].Error = err.Error()
	r.mu.Unlock()
	_ = r.saveBatch(context.WithoutCancel(ctx), i)
	return fmt.Errorf("restore: %w", err)
}
