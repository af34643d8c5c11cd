package backup

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/scyllaops/scyllaops/internal/backupspec"
)

// Continuing a run whose snapshot is gone.
//
// A run continues the snapshot of an earlier run of its task (or its own,
// re-executed after a takeover) only if that snapshot is still complete on
// the nodes: `nodetool clearsnapshot`, a node rebuilt with an empty data
// directory or Service.Clean may have deleted it. Uploading from a missing
// snapshot directory moves nothing and succeeds, so without this check
// the run ended DONE with manifests naming files that were never uploaded
// (or, before INDEX, with nodes that have no tables at all).
//
// The rule: if any table the run still has to read from a node's snapshot
// is gone, the snapshot is abandoned as a whole and the run starts over
// with a new plan and a new snapshot tag: the same run ID keeps its ID but
// its progress rows are replaced. Re-snapshotting only the hosts that lost
// it under the same tag was rejected: the new snapshot holds other
// SSTables than the rows the earlier run indexed, deduplicated and wrote
// into the .tmp manifests, so every stage from INDEX on would have to be
// redone for those hosts while the others continue, and Scylla refuses a
// snapshot under an existing tag. Starting over is always consistent (one
// snapshot, one index, manifests listing only what this snapshot
// uploads), and it costs little: files the abandoned run uploaded are in
// the bucket already and are deduplicated by the new run.
//
// What the run still has to read, by the stage it stopped at:
//   - SNAPSHOT: the snapshot may be partial by definition (and re-taking
//     a tag that exists fails), so the run starts over.
//   - AWAIT_SCHEMA, INDEX: every planned table on every host.
//   - MANIFEST and later: every table row not done. A row whose snapshot
//     is gone but whose files are all in the bucket (the run stopped
//     between the end of its upload and marking it done, after the
//     snapshot was deleted) is not missing anything, provided Scylla's
//     manifests of the table were moved to the bucket already.

// snapshotLost tells why the snapshot of rr, with its table rows, cannot
// be continued; "" when it can. An error means a node could not be asked.
func (r *run) snapshotLost(ctx context.Context, rr runRow, tables map[string]*tableRow) (string, error) {
	tag := rr.SnapshotTag
	if rr.Stage.index() <= StageSnapshot.index() {
		return fmt.Sprintf("its stage %s did not end, the snapshot may be partial", rr.Stage), nil
	}
	// need[host] are the tables of host that must still be in the snapshot.
	need := map[string][]*tableRow{}
	if rr.Stage.index() < StageManifest.index() {
		for _, h := range rr.Plan.Hosts {
			for _, u := range rr.Plan.Units {
				for _, t := range u.Tables {
					need[h.IP] = append(need[h.IP], &tableRow{Host: h.IP, Keyspace: u.Keyspace, Table: t})
				}
			}
		}
	} else {
		for _, t := range tables {
			if !t.Done {
				need[t.Host] = append(need[t.Host], t)
			}
		}
	}
	var hosts []Host
	for _, h := range rr.Plan.Hosts {
		if len(need[h.IP]) > 0 {
			hosts = append(hosts, h)
		}
	}
	var (
		mu   sync.Mutex
		gone []string // "host ks.table"
	)
	err := forEachHost(ctx, hosts, nil, func(ctx context.Context, h Host) error {
		snaps, err := r.c.Snapshots(ctx, h.IP)
		if err != nil {
			return fmt.Errorf("backup: snapshots on node %s: %w", h.IP, err)
		}
		have := map[string]bool{}
		for _, s := range snaps {
			if s.Key == tag {
				for _, d := range s.Value {
					have[d.Keyspace+"."+d.Table] = true
				}
			}
		}
		for _, t := range need[h.IP] {
			if have[t.Keyspace+"."+t.Table] {
				continue
			}
			if t.ManifestMoved {
				ok, err := r.inBucket(ctx, rr.Plan, h, t)
				if err != nil {
					return fmt.Errorf("backup: node %s: %w", h.IP, err)
				}
				if ok {
					continue
				}
			}
			mu.Lock()
			gone = append(gone, h.IP+" "+t.Keyspace+"."+t.Table)
			mu.Unlock()
		}
		return nil
	})
	if err != nil || len(gone) == 0 {
		return "", err
	}
	sort.Strings(gone)
	more := ""
	if len(gone) > 3 {
		more = fmt.Sprintf(" and %d more", len(gone)-3)
		gone = gone[:3]
	}
	return fmt.Sprintf("snapshot %s is gone from nodes: %s%s", tag, strings.Join(gone, ", "), more), nil
}

// inBucket tells whether every file of t is in its table directory of the
// bucket with its size.
func (r *run) inBucket(ctx context.Context, pl *plan, h Host, t *tableRow) (bool, error) {
	loc := pl.location(h.DC)
	dst := backupspec.SSTVersionDir(r.clusterID, h.DC, h.HostID, t.Keyspace, t.Table, t.Version)
	items, err := r.listNames(ctx, h.IP, loc.RemoteName(), dst, false)
	if err != nil {
		return false, fmt.Errorf("list %s: %w", dst, err)
	}
	size := make(map[string]int64, len(items))
	for _, it := range items {
		size[it.Name] = it.Size
	}
	for _, f := range t.Files {
		if s, ok := size[f.Name]; !ok || s != f.Size {
			return false, nil
		}
	}
	return true, nil
}

// checkUploaded fails unless every file of t is in the bucket after its
// upload job succeeded.
func (r *run) checkUploaded(ctx context.Context, h Host, t *tableRow) error {
	ok, err := r.inBucket(ctx, r.row.Plan, h, t)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("files missing in the bucket after the upload: snapshot %s deleted from the node?", r.row.SnapshotTag)
	}
	return nil
}

// abandon stops the upload jobs the abandoned run may have left running
// on the agents (best effort: a job of a dead manager would otherwise go
// on moving files of the old snapshot). When the abandoned run is this
// run, its progress rows are deleted, so that only the new snapshot's
// rows remain.
func (r *run) abandon(ctx context.Context, own bool, tables map[string]*tableRow) error {
	for _, t := range tables {
		if t.JobID != 0 && !t.Done {
			_ = r.c.JobStop(ctx, t.Host, t.JobID)
		}
	}
	if !own {
		return nil
	}
	if err := r.s.st.DeleteProgress(ctx, r.runID); err != nil {
		return fmt.Errorf("backup: delete progress of abandoned snapshot: %w", err)
	}
	return nil
}
