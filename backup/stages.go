package backup

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/internal/backupspec"
	"github.com/scyllaops/scyllaops/topology"
)

// dataFs is the agent's remote for the node's Scylla data directory.
const dataFs = "data:"

func snapshotDir(ks, table, version, tag string) string {
	return ks + "/" + table + "-" + version + "/snapshots/" + tag
}

// snapshot deletes stale sm_* snapshots and checks the free disk space on
// every host, then snapshots every unit on every host, system_schema last.
// The check passes on all hosts before any snapshot is taken, so a node
// with a nearly full disk fails the run with no partial snapshot to clean
// up (and pins no sstables on the other nodes either).
func (r *run) snapshot(ctx context.Context) error {
	pl, tag := r.row.Plan, r.row.SnapshotTag
	err := forEachHost(ctx, pl.Hosts, pl.SnapshotParallel, func(ctx context.Context, h Host) error {
		snaps, err := r.c.Snapshots(ctx, h.IP)
		if err != nil {
			return fmt.Errorf("backup: snapshot on node %s: %w", h.IP, err)
		}
		for _, sn := range snaps {
			if sn.Key != tag && backupspec.IsSnapshotTag(sn.Key) {
				if err := r.c.DeleteSnapshot(ctx, h.IP, sn.Key, ""); err != nil {
					return fmt.Errorf("backup: delete old snapshot %s on node %s: %w", sn.Key, h.IP, err)
				}
			}
		}
		return r.checkDiskSpace(ctx, h.IP)
	})
	if err != nil {
		return err
	}
	return forEachHost(ctx, pl.Hosts, pl.SnapshotParallel, func(ctx context.Context, h Host) error {
		for _, u := range pl.Units {
			var tables []string
			if !u.AllTables {
				tables = u.Tables
			}
			if err := r.c.TakeSnapshot(ctx, h.IP, tag, u.Keyspace, tables...); err != nil {
				return fmt.Errorf("backup: snapshot %s on node %s: %w", u.Keyspace, h.IP, err)
			}
			r.s.m.snapshot.WithLabelValues(r.clusterID.String(), u.Keyspace, h.IP).Set(1)
		}
		return nil
	})
}

// checkDiskSpace fails when the data: filesystem of host has less free
// space than Options.DiskSpaceFreeMinPercent. Free is what an unprivileged
// writer may use (statfs f_bavail, as Scylla sees it), out of Total.
func (r *run) checkDiskSpace(ctx context.Context, host string) error {
	minPct := int64(r.s.opts.DiskSpaceFreeMinPercent)
	if minPct < 0 {
		return nil
	}
	du, err := r.c.About(ctx, host, dataFs, "")
	if err != nil {
		return fmt.Errorf("backup: host %s: disk space of %s: %w", host, dataFs, err)
	}
	if du.Total <= 0 {
		// Nothing to compare with (a filesystem that reports no size).
		r.s.log.Warn("backup: disk space not checked: the filesystem reports no size", "host", host, "fs", dataFs)
		return nil
	}
	free, total := max(du.Free, 0), du.Total
	if total > math.MaxInt64/100 {
		free, total = free>>20, total>>20 // MiB: keeps free*100 in range
	}
	// Exact comparison in integers (free/total < min/100); the message
	// shows the percentage rounded down.
	if free*100 < minPct*total {
		return fmt.Errorf("backup: host %s: %d%% free on %s, below disk_space_free_min_percent %d",
			host, free*100/total, dataFs, minPct)
	}
	return nil
}

func isNotFound(err error) bool { return errors.Is(err, agentclient.ErrNotFound) }

// listNames lists the names (and sizes) of fs:remote, files or dirs only.
// A missing directory lists as empty.
func (r *run) listNames(ctx context.Context, host, fs, remote string, dirs bool) ([]agentclient.ListItem, error) {
	var out []agentclient.ListItem
	opt := &agentclient.ListOpt{NoModTime: true, NoMimeType: true, FilesOnly: !dirs, DirsOnly: dirs}
	err := r.c.List(ctx, host, agentclient.ListOptions{Fs: fs, Remote: remote, Opt: opt}, func(it agentclient.ListItem) error {
		out = append(out, it)
		return nil
	})
	if err != nil && isNotFound(err) {
		return nil, nil
	}
	return out, err
}

// index lists every snapshot directory and creates the table rows.
func (r *run) index(ctx context.Context) error {
	pl, tag := r.row.Plan, r.row.SnapshotTag
	return forEachHost(ctx, pl.Hosts, nil, func(ctx context.Context, h Host) error {
		for _, u := range pl.Units {
			want := map[string]bool{}
			for _, t := range u.Tables {
				want[t] = true
			}
			dirs, err := r.listNames(ctx, h.IP, dataFs, u.Keyspace, true)
			if err != nil {
				return fmt.Errorf("backup: index %s on node %s: %w", u.Keyspace, h.IP, err)
			}
			found := map[string]bool{}
			for _, d := range dirs {
				table, version, ok := backupspec.ParseTableDir(d.Name)
				if !ok || !want[table] {
					continue
				}
				dir := snapshotDir(u.Keyspace, table, version, tag)
				files, err := r.listNames(ctx, h.IP, dataFs, dir, false)
				if err != nil {
					return fmt.Errorf("backup: index %s.%s on node %s: %w", u.Keyspace, table, h.IP, err)
				}
				if len(files) == 0 {
					continue // no snapshot in this (older) table directory
				}
				found[table] = true
				t := &tableRow{Host: h.IP, Keyspace: u.Keyspace, Table: table, Version: version}
				var drop []string
				for _, f := range files {
					switch {
					case f.Name == "schema.cql":
						drop = append(drop, f.Name)
					case strings.HasSuffix(f.Name, "manifest.json"):
						t.ScyllaManifests = append(t.ScyllaManifests, f.Name)
					default:
						t.Files = append(t.Files, backupspec.File{Name: f.Name, Size: f.Size})
						t.Size += f.Size
					}
				}
				if len(drop) > 0 {
					if _, err := r.c.DeletePaths(ctx, h.IP, dataFs, dir, drop); err != nil {
						return fmt.Errorf("backup: index %s.%s on node %s: %w", u.Keyspace, table, h.IP, err)
					}
				}
				r.mu.Lock()
				r.tables[tableKey(h.IP, u.Keyspace, table)] = t
				r.mu.Unlock()
				if err := r.saveTable(ctx, t); err != nil {
					return err
				}
			}
			if err := r.checkIndexed(ctx, h.IP, u, found); err != nil {
				return err
			}
		}
		return nil
	})
}

// checkIndexed fails when a table of unit u that still exists on host has
// no snapshot there: Scylla writes a snapshot directory (at least its
// manifest.json) for every table it snapshots, so the snapshot was
// cleared since SNAPSHOT (`nodetool clearsnapshot`), and a run that went
// on would end DONE without that table. A table dropped since the plan
// is left out with a warning.
func (r *run) checkIndexed(ctx context.Context, host string, u Unit, found map[string]bool) error {
	var missing []string
	for _, t := range u.Tables {
		if !found[t] {
			missing = append(missing, t)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	names, err := r.c.TableNames(ctx, host)
	if err != nil {
		return fmt.Errorf("backup: index %s on node %s: %w", u.Keyspace, host, err)
	}
	exists := map[string]bool{}
	for _, n := range names {
		if n.Keyspace == u.Keyspace {
			exists[n.Table] = true
		}
	}
	var gone, dropped []string
	for _, t := range missing {
		if exists[t] {
			gone = append(gone, u.Keyspace+"."+t)
		} else {
			dropped = append(dropped, u.Keyspace+"."+t)
		}
	}
	if len(dropped) > 0 {
		r.s.log.Warn("backup: tables dropped since the run was planned are not backed up", "host", host, "tables", dropped)
	}
	if len(gone) > 0 {
		what := strings.Join(gone[:min(len(gone), 5)], ", ")
		if len(gone) > 5 {
			what += fmt.Sprintf(" and %d more tables", len(gone)-5)
		}
		return fmt.Errorf("backup: snapshot %s of %s on node %s is gone (cleared while the backup ran?); "+
			"the run cannot back it up: run the backup again", r.row.SnapshotTag, what, host)
	}
	return nil
}

func (r *run) schemaPath() string {
	if r.s.opts.Schema == nil || r.row.Plan.SkipSchema {
		return ""
	}
	return backupspec.SchemaPath(r.clusterID, r.taskID, r.row.SnapshotTag)
}

// manifests moves Scylla's snapshot manifests to the bucket and uploads
// each node's manifest as .tmp.
func (r *run) manifests(ctx context.Context) error {
	pl, tag := r.row.Plan, r.row.SnapshotTag
	par := []backupspec.DCLimit{{Limit: DefaultManifestPar}}
	return forEachHost(ctx, pl.Hosts, par, func(ctx context.Context, h Host) error {
		loc := pl.location(h.DC)
		m := &backupspec.ManifestWithIndex{Manifest: backupspec.Manifest{
			Version: backupspec.ManifestVersion, ClusterName: pl.ClusterName, IP: h.IP, Schema: r.schemaPath(),
			Rack: h.Rack, DC: h.DC, ClusterID: r.clusterID, NodeID: h.HostID, TaskID: r.taskID, SnapshotTag: tag,
		}}
		ni, err := r.c.NodeInfo(ctx, h.IP)
		if err != nil {
			return fmt.Errorf("backup: manifest of node %s: %w", h.IP, err)
		}
		m.ScyllaVersion, m.CPUCount, m.StorageSize = ni.ScyllaVersion, int(ni.CPUCount), ni.StorageSize
		if m.Tokens, err = topology.NodeTokens(ctx, r.c, h.IP, h.IP); err != nil {
			return fmt.Errorf("backup: manifest of node %s: %w", h.IP, err)
		}
		m.ShardCount = r.shardCount(ctx, h.IP)
		for _, t := range r.hostTables(h.IP) {
			dst := backupspec.SSTVersionDir(r.clusterID, h.DC, h.HostID, t.Keyspace, t.Table, t.Version)
			fm := backupspec.FilesMeta{Keyspace: t.Keyspace, Table: t.Table, ReplicationType: backupspec.ReplicationVnodes,
				Version: t.Version, Size: t.Size, Files: make([]string, 0, len(t.Files)), ScyllaManifests: []string{}}
			for _, f := range t.Files {
				fm.Files = append(fm.Files, f.Name)
			}
			for _, name := range t.ScyllaManifests {
				fm.ScyllaManifests = append(fm.ScyllaManifests, backupspec.ScyllaManifestName(tag, h.HostID, name))
			}
			m.Index = append(m.Index, fm)
			m.Size += t.Size
			if t.ManifestMoved {
				continue
			}
			src := snapshotDir(t.Keyspace, t.Table, t.Version, tag)
			for _, name := range t.ScyllaManifests {
				err := r.c.MoveFile(ctx, h.IP, loc.RemoteName(), path.Join(dst, backupspec.ScyllaManifestName(tag, h.HostID, name)), dataFs, path.Join(src, name))
				if err != nil && !isNotFound(err) {
					return fmt.Errorf("backup: move %s of %s.%s on node %s: %w", name, t.Keyspace, t.Table, h.IP, err)
				}
			}
			r.mu.Lock()
			t.ManifestMoved = true
			r.mu.Unlock()
			// A hint: a redo finds the manifests moved.
			if err := r.saveTableAs(ctx, t, writeLazy); err != nil {
				return err
			}
		}
		var buf bytes.Buffer
		if err := backupspec.WriteManifest(&buf, m); err != nil {
			return err
		}
		p := backupspec.ManifestPath(r.clusterID, h.DC, h.HostID, r.taskID, tag) + backupspec.TempSuffix
		if err := r.c.Put(ctx, h.IP, loc.RemoteName(), p, bytes.NewReader(buf.Bytes())); err != nil {
			return fmt.Errorf("backup: upload manifest of node %s: %w", h.IP, err)
		}
		return nil
	})
}

// shardCount counts the shards in the node's per-shard metrics; 0 if
// unknown.
func (r *run) shardCount(ctx context.Context, host string) int {
	b, err := r.c.Metrics(ctx, host, "scylla_database_total_writes")
	if err != nil {
		return 0
	}
	n := 0
	for line := range strings.Lines(string(b)) {
		if strings.HasPrefix(line, "scylla_database_total_writes{") && strings.Contains(line, "shard=") {
			n++
		}
	}
	return n
}

// schema uploads the CQL schema once per location.
func (r *run) schema(ctx context.Context) error {
	p := r.schemaPath()
	if p == "" {
		return nil
	}
	rows, err := r.s.opts.Schema.DescribeSchema(ctx, r.clusterID)
	if err != nil {
		return fmt.Errorf("backup: describe schema: %w", err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(rows); err != nil {
		return fmt.Errorf("backup: encode schema: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("backup: encode schema: %w", err)
	}
	done := map[string]bool{}
	for _, h := range r.row.Plan.Hosts {
		loc := r.row.Plan.location(h.DC)
		if done[loc.RemoteName()] {
			continue
		}
		if err := r.c.Put(ctx, h.IP, loc.RemoteName(), p, bytes.NewReader(buf.Bytes())); err != nil {
			return fmt.Errorf("backup: upload schema to %s from node %s: %w", loc, h.IP, err)
		}
		done[loc.RemoteName()] = true
	}
	return nil
}

// uploadPhase runs DEDUPLICATE, UPLOAD and MOVE_MANIFEST holding the
// cluster's upload lease, so no purge deletes a file this run relies on.
func (r *run) uploadPhase(ctx context.Context) error {
	owner := r.s.opts.LeaseOwner + "/" + r.runID.String()
	return r.s.withLease(ctx, uploadLeasePrefix+r.clusterID.String(), owner, func(ctx context.Context) error {
		if r.snapshotRow().Stage.index() <= StageDeduplicate.index() {
			begin := time.Now()
			defer func() { r.s.log.Debug("upload phase", "took", time.Since(begin)) }()
			if err := r.deduplicate(ctx); err != nil {
				return err
			}
			r.s.log.Debug("deduplicate done", "took", time.Since(begin))
			if err := r.setStage(ctx, StageUpload); err != nil {
				return err
			}
		}
		if r.snapshotRow().Stage.index() <= StageUpload.index() {
			if err := r.upload(ctx); err != nil {
				return err
			}
			if err := r.setStage(ctx, StageMoveManifest); err != nil {
				return err
			}
		}
		return r.moveManifests(ctx)
	})
}

// deduplicate drops from the local snapshot the files already in the
// bucket (§5.5 rules) and counts them as skipped.
func (r *run) deduplicate(ctx context.Context) error {
	pl, tag := r.row.Plan, r.row.SnapshotTag
	return forEachHost(ctx, pl.Hosts, nil, func(ctx context.Context, h Host) error {
		loc := pl.location(h.DC)
		for _, t := range r.hostTables(h.IP) {
			if t.Deduplicated || t.Done {
				continue
			}
			dst := backupspec.SSTVersionDir(r.clusterID, h.DC, h.HostID, t.Keyspace, t.Table, t.Version)
			src := snapshotDir(t.Keyspace, t.Table, t.Version, tag)
			items, err := r.listNames(ctx, h.IP, loc.RemoteName(), dst, false)
			if err != nil {
				return fmt.Errorf("backup: list %s on node %s: %w", dst, h.IP, err)
			}
			remote := make([]backupspec.File, 0, len(items))
			for _, it := range items {
				remote = append(remote, backupspec.File{Name: it.Name, Size: it.Size})
			}
			d, err := backupspec.Deduplicate(t.Files, remote, func(name string, rem bool) ([]byte, error) {
				if rem {
					return r.c.Cat(ctx, h.IP, loc.RemoteName(), path.Join(dst, name))
				}
				return r.c.Cat(ctx, h.IP, dataFs, path.Join(src, name))
			})
			if err != nil {
				return fmt.Errorf("backup: deduplicate %s.%s on node %s: %w", t.Keyspace, t.Table, h.IP, err)
			}
			r.mu.Lock()
			t.Skipped, t.SkippedCount, t.Deduplicated = d.SkippedBytes, len(d.Skip), true
			r.mu.Unlock()
			// The row is stored before the skipped files are deleted
			// locally: a redo could not compare their digests any more
			// (and would fail the run each time). If the run stops in
			// between, the upload moves the undeleted ones again, which
			// the bucket already has. With nothing skipped the row is a
			// hint (a redo decides the same, the upload reads nothing of
			// it): it goes out with the table's next row.
			mode := writeNow
			if len(d.Skip) == 0 {
				mode = writeLazy
			}
			if err := r.saveTableAs(ctx, t, mode); err != nil {
				return err
			}
			names := make([]string, 0, len(d.Skip))
			for _, f := range d.Skip {
				names = append(names, f.Name)
			}
			for len(names) > 0 {
				n := min(len(names), DefaultDeleteBatch)
				if _, err := r.c.DeletePaths(ctx, h.IP, dataFs, src, names[:n]); err != nil {
					return fmt.Errorf("backup: deduplicate %s.%s on node %s: %w", t.Keyspace, t.Table, h.IP, err)
				}
				names = names[n:]
			}
		}
		return nil
	})
}

// rateString is a bandwidth_rate of mib MiB/s shared by n jobs.
func rateString(mib, n int) string {
	if mib <= 0 {
		return "off"
	}
	if n <= 1 {
		return strconv.Itoa(mib) + "M"
	}
	return strconv.Itoa(max(1, mib*1024/n)) + "k"
}

// Small tables are uploaded a few at a time per host: for them the
// per-job latency, not bandwidth, dominates. Each of those jobs gets an
// equal share of the host's rate limit, so the limit still holds.
const (
	smallTableBytes    = 16 << 20
	smallTableParallel = 4
)

// isSmallTable tells whether left bytes of a table are uploaded in the
// parallel pool of small tables with a rate limit of mib MiB/s per host
// (0 = unlimited). A pooled job gets only 1/smallTableParallel of the
// limit for its whole life, even when it ends up running alone, so only
// tables that need at most about a second at that share are pooled;
// bigger ones are uploaded one at a time at the full rate. (A 4 MiB table
// at 1 MiB/s took 16s in the pool instead of 4s.)
func isSmallTable(left int64, mib int) bool {
	if left > smallTableBytes {
		return false
	}
	return mib <= 0 || left <= int64(mib)<<20/smallTableParallel
}

// upload moves each table's remaining snapshot files to the bucket: large
// tables one at a time per host, small ones smallTableParallel at a time;
// hosts limited by upload_parallel.
func (r *run) upload(ctx context.Context) error {
	pl := r.row.Plan
	return forEachHost(ctx, pl.Hosts, pl.UploadParallel, func(ctx context.Context, h Host) error {
		mib := backupspec.LimitFor(pl.RateLimit, h.DC, DefaultRateLimit)
		var small []*tableRow
		for _, t := range r.hostTables(h.IP) {
			if t.Done {
				continue
			}
			if isSmallTable(t.Size-t.Skipped, mib) {
				small = append(small, t)
				continue
			}
			if err := r.uploadTable(ctx, h, t, rateString(mib, 1)); err != nil {
				return err
			}
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			errs []error
		)
		sem := make(chan struct{}, smallTableParallel)
		for _, t := range small {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
			}
			if ctx.Err() != nil {
				break
			}
			wg.Go(func() {
				defer func() { <-sem }()
				if err := r.uploadTable(ctx, h, t, rateString(mib, smallTableParallel)); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					cancel()
				}
			})
		}
		wg.Wait()
		if len(errs) == 0 && ctx.Err() != nil {
			errs = append(errs, context.Cause(ctx))
		}
		return errors.Join(errs...)
	})
}

const maxJobNotFound = 10

func (r *run) uploadTable(ctx context.Context, h Host, t *tableRow, rate string) error {
	pl, tag := r.row.Plan, r.row.SnapshotTag
	loc := pl.location(h.DC)
	src := snapshotDir(t.Keyspace, t.Table, t.Version, tag)
	dst := backupspec.SSTVersionDir(r.clusterID, h.DC, h.HostID, t.Keyspace, t.Table, t.Version)
	now := r.s.opts.Now().UTC()
	r.mu.Lock()
	touched := t.StartedAt != nil // an earlier run worked on this table
	if t.StartedAt == nil {
		t.StartedAt = &now
	}
	r.mu.Unlock()
	fail := func(err error) error {
		r.mu.Lock()
		t.Error = err.Error()
		r.mu.Unlock()
		_ = r.saveTable(context.WithoutCancel(ctx), t)
		return fmt.Errorf("backup: upload %s.%s on node %s: %w", t.Keyspace, t.Table, h.IP, err)
	}
	if t.SkippedCount < len(t.Files) {
		transfers := pl.Transfers
		if transfers < 0 {
			transfers = 0
		}
		opts := agentclient.SyncOptions{SrcFs: dataFs, SrcRemote: src, DstFs: loc.RemoteName(), DstRemote: dst,
			Suffix: "." + tag, BandwidthRate: rate, Transfers: transfers}
		jobID := t.JobID
		retry := jobID != 0 || touched
		attached := false
		if jobID != 0 { // re-attach to the previous run's job when it still runs or succeeded
			jp, err := r.c.JobProgress(ctx, h.IP, jobID, 0)
			if err == nil && (jp.Status == agentclient.JobRunning || jp.Status == agentclient.JobSuccess) {
				attached = true
			} else {
				jobID = 0
			}
		}
		notFound := 0
		for {
			if jobID == 0 {
				base := t.Uploaded
				if retry {
					// An earlier job moved some files: what is left
					// locally tells exactly how much.
					left, err := r.listNames(ctx, h.IP, dataFs, src, false)
					if err != nil {
						return fail(err)
					}
					base = t.Size - t.Skipped
					for _, f := range left {
						base -= f.Size
					}
				}
				id, err := r.c.MoveDir(ctx, h.IP, opts)
				if err != nil {
					return fail(err)
				}
				jobID, retry = id, true
				r.mu.Lock()
				t.JobID, t.Error, t.UploadedBase, t.Uploaded = id, "", base, base
				r.mu.Unlock()
				// The job runs now: record it even if ctx just ended, so
				// the next run finds it. A small table's job ends within
				// about a second (isSmallTable), long before another
				// manager could take the run over, so its ID goes out
				// with the table's next row (done, or still running after
				// a long poll): a crash before that makes the next run
				// start a new job, which moves what the first one left.
				mode := writeNow
				if isSmallTable(t.Size-t.Skipped, backupspec.LimitFor(pl.RateLimit, h.DC, DefaultRateLimit)) {
					mode = writeLazy
				}
				if err := r.saveTableAs(context.WithoutCancel(ctx), t, mode); err != nil {
					_ = r.c.JobStop(context.WithoutCancel(ctx), h.IP, id)
					return err
				}
			}
			jp, err := r.c.JobProgress(ctx, h.IP, jobID, r.s.opts.LongPoll)
			if err != nil {
				if ctx.Err() != nil {
					_ = r.c.JobStop(context.WithoutCancel(ctx), h.IP, jobID)
				}
				return fail(err)
			}
			r.mu.Lock()
			t.Uploaded, t.Failed = t.UploadedBase+jp.Uploaded, jp.Failed
			r.mu.Unlock()
			switch jp.Status {
			case agentclient.JobRunning:
				if err := r.saveTable(ctx, t); err != nil {
					return err
				}
				continue
			case agentclient.JobSuccess:
				// A job over a snapshot directory deleted on the node
				// moves nothing and succeeds: the files must be in the
				// bucket before the table is done (see resume.go).
				if err := r.checkUploaded(ctx, h, t); err != nil {
					_ = r.c.StatsDelete(context.WithoutCancel(ctx), h.IP, agentclient.JobGroup(jobID))
					return fail(err)
				}
				// Every file that was not deduplicated is in the bucket
				// now, whichever job (of this run or an interrupted one)
				// moved it.
				r.mu.Lock()
				t.Uploaded = t.Size - t.Skipped
				r.mu.Unlock()
			case agentclient.JobNotFound:
				notFound++
				if notFound > maxJobNotFound {
					return fail(fmt.Errorf("job %d not found %d times", jobID, notFound))
				}
				jobID = 0
				continue
			default:
				if attached {
					// The interrupted run's job ended badly (e.g. it was
					// stopped): start a fresh one.
					attached, jobID = false, 0
					continue
				}
				_ = r.c.JobStop(context.WithoutCancel(ctx), h.IP, jobID)
				_ = r.c.StatsDelete(context.WithoutCancel(ctx), h.IP, agentclient.JobGroup(jobID))
				return fail(fmt.Errorf("job %d: %s", jobID, jp.Error))
			}
			_ = r.c.StatsDelete(ctx, h.IP, agentclient.JobGroup(jobID))
			break
		}
	}
	end := r.s.opts.Now().UTC()
	r.mu.Lock()
	t.Done, t.CompletedAt, t.Error, t.Failed = true, &end, "", 0
	r.mu.Unlock()
	// The table is stored done before its snapshot is deleted: a run taken
	// over after a crash between the two must find the table done, not a
	// table whose snapshot is gone (resume.go would start the whole backup
	// over). A snapshot left by such a crash goes with the PURGE stage,
	// which deletes what is left of the run's tag on every node.
	if err := r.saveTableAs(ctx, t, writeNow); err != nil {
		return err
	}
	if err := r.c.DeleteSnapshot(ctx, h.IP, tag, t.Keyspace, t.Table); err != nil && !isNotFound(err) {
		r.s.log.Warn("backup: delete the uploaded table's snapshot (the PURGE stage retries)", "host", h.IP,
			"keyspace", t.Keyspace, "table", t.Table, "tag", tag, "err", err)
	}
	return nil
}

// moveManifests renames every node's .tmp manifest to its final name;
// on failure the already moved ones are moved back.
func (r *run) moveManifests(ctx context.Context) error {
	pl, tag := r.row.Plan, r.row.SnapshotTag
	var moved []Host
	for _, h := range pl.Hosts {
		loc := pl.location(h.DC)
		p := backupspec.ManifestPath(r.clusterID, h.DC, h.HostID, r.taskID, tag)
		err := r.c.MoveFile(ctx, h.IP, loc.RemoteName(), p, loc.RemoteName(), p+backupspec.TempSuffix)
		if err != nil && isNotFound(err) {
			if _, ferr := r.c.FileInfo(ctx, h.IP, loc.RemoteName(), p); ferr == nil {
				err = nil // moved by the interrupted run
			}
		}
		if err != nil {
			for _, m := range moved {
				l := pl.location(m.DC)
				mp := backupspec.ManifestPath(r.clusterID, m.DC, m.HostID, r.taskID, tag)
				if rerr := r.c.MoveFile(context.WithoutCancel(ctx), m.IP, l.RemoteName(), mp+backupspec.TempSuffix, l.RemoteName(), mp); rerr != nil {
					r.s.log.Warn("roll back manifest", "host", m.IP, "error", rerr)
				}
			}
			return fmt.Errorf("backup: move manifest of node %s: %w", h.IP, err)
		}
		moved = append(moved, h)
	}
	return nil
}
