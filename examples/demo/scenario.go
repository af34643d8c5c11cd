package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/scyllaops/scyllaops/restapi"
	"github.com/scyllaops/scyllaops/scyllatest"
)

const (
	clusterName = "demo"
	location    = "localstorage:demo-bucket"
)

// backupResult is one backup run for the summary.
type backupResult struct {
	name                    string
	tag                     string
	size, uploaded, skipped int64
	files                   int
	took                    time.Duration
	status                  string
}

func (e *env) scenario(ctx context.Context, out io.Writer, bucketRoot string) error {
	c := e.client
	step(out, 3, "Adding the cluster through the API (POST /api/v1/clusters)")
	id, err := c.CreateCluster(ctx, restapi.Cluster{
		Name: clusterName, Host: e.cluster.ContactHost(), Port: scyllatest.PortAgent, AuthToken: e.cluster.AuthToken(),
	})
	if err != nil {
		return fmt.Errorf("add cluster: %w", err)
	}
	fmt.Fprintf(out, "Cluster %s added: %s\n", clusterName, id)

	step(out, 4, "Cluster status (GET /api/v1/cluster/%s/status)", clusterName)
	ns, err := c.ClusterStatus(ctx, clusterName)
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	fmt.Fprint(out, statusTable(ns))

	step(out, 5, "Backing up to %s (bucket directory %s)", location, bucketRoot)
	first, taskID, err := e.firstBackup(ctx, out)
	if err != nil {
		return err
	}

	step(out, 6, "Listing backups")
	items, err := c.ListBackups(ctx, clusterName, restapi.ListBackupsOptions{Locations: []string{location}})
	if err != nil {
		return fmt.Errorf("backup list: %w", err)
	}
	for _, it := range items {
		fmt.Fprintf(out, "backup/%s\n", it.TaskID)
		for _, s := range it.SnapshotInfo {
			fmt.Fprintf(out, "  - %s (%s, %d nodes)\n", s.SnapshotTag, size(s.Size), s.Nodes)
		}
		for _, u := range it.Units {
			fmt.Fprintf(out, "  keyspace %s (%d tables)\n", u.Keyspace, len(u.Tables))
		}
	}

	step(out, 7, "Validating the backup (validate_backup task)")
	if err := e.validate(ctx, out); err != nil {
		return err
	}

	step(out, 8, "Changing data: new sstables on every node of dc1 in shop.orders")
	written := 0
	for _, n := range e.cluster.Nodes() {
		if n.DC != "dc1" {
			continue
		}
		files, err := e.cluster.WriteData(n, "shop", "orders", 2)
		if err != nil {
			return fmt.Errorf("write data: %w", err)
		}
		written += len(files)
	}
	fmt.Fprintf(out, "Wrote %d new files.\n", written)

	step(out, 9, "Second backup: only new files are uploaded, the rest is deduplicated")
	second, err := e.backupRun(ctx, out, taskID, "second", true)
	if err != nil {
		return err
	}

	step(out, 10, "Repair of the cluster")
	rep, err := e.repair(ctx, out)
	if err != nil {
		return err
	}

	step(out, 11, "Restore of the first snapshot into a second cluster of another topology")
	res, err := e.restore(ctx, out, first.tag, bucketRoot)
	if err != nil {
		return err
	}

	step(out, 12, "Summary")
	fmt.Fprint(out, summaryTable([]backupResult{first, second}))
	fmt.Fprint(out, opTable([]opResult{rep, res}))
	if second.skipped == 0 {
		return errors.New("the second backup deduplicated nothing")
	}
	fmt.Fprintf(out, "Second backup uploaded %s and deduplicated %s (%.1f%% of its data).\n",
		size(second.uploaded), size(second.skipped), 100*float64(second.skipped)/float64(max(second.size, 1)))
	return nil
}

func (e *env) firstBackup(ctx context.Context, out io.Writer) (backupResult, string, error) {
	props, _ := json.Marshal(map[string]any{"location": []string{location}, "retention": 3})
	now := time.Now().UTC()
	id, err := e.client.CreateTask(ctx, clusterName, restapi.TaskUpdate{
		Type: "backup", Name: "demo-backup", Enabled: true, Properties: props,
		Schedule: &restapi.Schedule{StartDate: &now, NumRetries: 0},
	})
	if err != nil {
		return backupResult{}, "", fmt.Errorf("create backup task: %w", err)
	}
	fmt.Fprintf(out, "Task backup/%s created (starts now).\n", id)
	r, err := e.backupRun(ctx, out, id, "first", false)
	return r, id, err
}

// backupRun waits for (or, with start, starts) a run of the backup task
// and follows it with a progress bar.
func (e *env) backupRun(ctx context.Context, out io.Writer, taskID, name string, start bool) (backupResult, error) {
	c := e.client
	var prevRun string
	if start {
		p, err := c.RunProgress(ctx, clusterName, "backup", taskID, "latest")
		if err != nil {
			return backupResult{}, err
		}
		prevRun = p.Run.ID
		if err := c.StartTask(ctx, clusterName, "backup", taskID, false); err != nil {
			return backupResult{}, fmt.Errorf("start backup: %w", err)
		}
	}
	begin := time.Now()
	p, bp, err := followAs(ctx, e, out, clusterName, "backup", taskID, prevRun, func(bp restapi.BackupProgress) (int64, int64) {
		return bp.Uploaded + bp.Skipped, bp.Size
	})
	if err != nil {
		return backupResult{}, err
	}
	r := backupResult{name: name, tag: bp.SnapshotTag, size: bp.Size, uploaded: bp.Uploaded, skipped: bp.Skipped, status: p.Run.Status, took: time.Since(begin)}
	if p.Run.StartTime != nil && p.Run.EndTime != nil {
		r.took = p.Run.EndTime.Sub(*p.Run.StartTime)
	}
	if p.Run.Status != "DONE" {
		return r, fmt.Errorf("backup run %s ended %s: %s", p.Run.ID, p.Run.Status, p.Run.Cause)
	}
	fmt.Fprint(out, hostTable(bp))
	files, err := e.client.BackupFiles(ctx, clusterName, restapi.ListBackupsOptions{Locations: []string{location}, SnapshotTag: bp.SnapshotTag})
	if err != nil {
		return r, fmt.Errorf("backup files: %w", err)
	}
	for _, fi := range files {
		for _, t := range fi.Files {
			r.files += len(t.Files)
		}
	}
	return r, nil
}

// follow waits for a run other than prevRun to appear and end, drawing a
// progress bar; it returns the final progress.
func (e *env) follow(ctx context.Context, out io.Writer, typ, taskID, prevRun string, frac func(json.RawMessage) (int64, int64)) (restapi.TaskRunProgress, error) {
	return e.followOn(ctx, out, clusterName, typ, taskID, prevRun, frac)
}

// followOn is follow for a task of the cluster named cluster.
// followAs is followOn for a run whose progress is a T: frac gives the
// bar's done and total of a T, and the run's final progress is returned
// decoded.
func followAs[T any](ctx context.Context, e *env, out io.Writer, cluster, typ, taskID, prevRun string, frac func(T) (int64, int64)) (restapi.TaskRunProgress, T, error) {
	var last T
	p, err := e.followOn(ctx, out, cluster, typ, taskID, prevRun, func(raw json.RawMessage) (int64, int64) {
		var v T
		_ = json.Unmarshal(raw, &v)
		return frac(v)
	})
	if err != nil {
		return p, last, err
	}
	if err := json.Unmarshal(p.Progress, &last); err != nil {
		return p, last, fmt.Errorf("%s progress: %w", typ, err)
	}
	return p, last, nil
}

func (e *env) followOn(ctx context.Context, out io.Writer, cluster, typ, taskID, prevRun string, frac func(json.RawMessage) (int64, int64)) (restapi.TaskRunProgress, error) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(90 * time.Second)
	drawn := false
	live := isTerminal(out)
	lastQuarter := -1
	for {
		p, err := e.client.RunProgress(ctx, cluster, typ, taskID, "latest")
		if err != nil {
			return p, err
		}
		if p.Run.ID != prevRun && p.Run.Status != "NEW" {
			final := false
			switch p.Run.Status {
			case "DONE", "ERROR", "STOPPED", "ABORTED":
				final = true
			}
			if frac != nil {
				d, t := frac(p.Progress)
				b := bar(d, t, 40)
				if typ == "repair" { // token ranges, not bytes
					b = barOf(d, t, 40, func(n int64) string { return fmt.Sprint(n) })
				}
				line := fmt.Sprintf("%s %-8s", b, p.Run.Status)
				switch {
				case live:
					// Redraw in place on a terminal.
					fmt.Fprintf(out, "\r%s", line)
					drawn = true
				default:
					// Elsewhere (a log, CI): a line per quarter done.
					q := 0
					if t > 0 {
						q = int(4 * d / t)
					}
					if q != lastQuarter || final {
						fmt.Fprintln(out, line)
						lastQuarter = q
					}
				}
			}
			if final {
				if drawn {
					fmt.Fprintln(out)
				}
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			return p, fmt.Errorf("%s/%s: no finished run after 90s (last status %s)", typ, taskID, p.Run.Status)
		}
		select {
		case <-ctx.Done():
			return p, ctx.Err()
		case <-tick.C:
		}
	}
}

func (e *env) validate(ctx context.Context, out io.Writer) error {
	props, _ := json.Marshal(map[string]any{"location": []string{location}})
	now := time.Now().UTC()
	id, err := e.client.CreateTask(ctx, clusterName, restapi.TaskUpdate{
		Type: "validate_backup", Enabled: true, Properties: props, Schedule: &restapi.Schedule{StartDate: &now},
	})
	if err != nil {
		return fmt.Errorf("create validate_backup task: %w", err)
	}
	p, err := e.follow(ctx, out, "validate_backup", id, "", nil)
	if err != nil {
		return err
	}
	if p.Run.Status != "DONE" {
		return fmt.Errorf("validate_backup ended %s: %s", p.Run.Status, p.Run.Cause)
	}
	var vs []restapi.ValidateBackupProgress
	if err := json.Unmarshal(p.Progress, &vs); err != nil {
		return fmt.Errorf("validate_backup progress: %w", err)
	}
	t := newTable("Host", "Manifests", "Scanned files", "Missing files", "Orphaned files", "Broken snapshots")
	var missing int64
	sort.Slice(vs, func(i, j int) bool { return vs[i].Host < vs[j].Host })
	for _, v := range vs {
		t.add(v.Host, v.Manifests, v.ScannedFiles, v.MissingFiles, v.OrphanedFiles, strings.Join(v.BrokenSnapshots, ","))
		missing += v.MissingFiles
	}
	fmt.Fprint(out, t)
	fmt.Fprintf(out, "Missing files: %d\n", missing)
	if missing != 0 {
		return fmt.Errorf("validation found %d missing files", missing)
	}
	return nil
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
