package backup

import (
	"context"
	"fmt"
	"path"
	"slices"
	"sort"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/internal/backupspec"
)

// ListItem is one backup task's snapshots in the locations, shaped as
// Scylla Manager's BackupListItem.
type ListItem struct {
	ClusterID    uuid.UUID      `json:"cluster_id"`
	TaskID       uuid.UUID      `json:"task_id"`
	Units        []Unit         `json:"units"`
	SnapshotInfo []SnapshotInfo `json:"snapshot_info"`
	// NodesDown are the nodes ("ip (dc)") that were down: the listing
	// was read through the live ones. Not in Scylla Manager's shape
	// (clients that do not know it ignore it).
	NodesDown []string `json:"nodes_down,omitempty"`
}

// SnapshotInfo is one snapshot of a ListItem.
type SnapshotInfo struct {
	SnapshotTag string `json:"snapshot_tag"`
	Nodes       int    `json:"nodes"`
	Size        int64  `json:"size"`
	// Incomplete marks a snapshot with nodes whose backup never finished
	// (only a .tmp manifest, e.g. a manager killed during MOVE_MANIFEST
	// and never restarted): a restore refuses it. UnfinishedNodes are
	// those nodes' IDs.
	Incomplete      bool     `json:"incomplete,omitempty"`
	UnfinishedNodes []string `json:"unfinished_nodes,omitempty"`
}

// ListFilter selects snapshots in List and ListFiles. Zero fields match
// everything.
type ListFilter struct {
	// ClusterID: uuid.Nil lists every cluster's backups (AllClusters).
	ClusterID uuid.UUID
	// Keyspace patterns as in the backup properties.
	Keyspace []string
	// SnapshotTag selects one snapshot.
	SnapshotTag string
	// MinDate, MaxDate bound the snapshot time (inclusive).
	MinDate, MaxDate time.Time
}

func (f ListFilter) matchTag(tag string) bool {
	if f.SnapshotTag != "" && tag != f.SnapshotTag {
		return false
	}
	t, err := backupspec.ParseSnapshotTag(tag)
	if err != nil {
		return false
	}
	return (f.MinDate.IsZero() || !t.Before(f.MinDate)) && (f.MaxDate.IsZero() || !t.After(f.MaxDate))
}

// manifestsAt reads the final manifests of every location of the
// cluster's hosts, the nodes that were down, and unfinished: "<cluster>/<task>/<tag>"
// mapped to the nodes of that snapshot that have only a .tmp manifest.
func (s *Service) manifestsAt(ctx context.Context, clusterID uuid.UUID, locations []string, f ListFilter) (out map[backupspec.Location][]*remoteManifest, unfinished map[string][]string, down []string, err error) {
	c, hosts, locs, down, err := s.direct(ctx, clusterID, locations)
	if err != nil {
		return nil, nil, nil, err
	}
	out = map[backupspec.Location][]*remoteManifest{}
	final := map[string]bool{}
	var tmp []backupspec.ManifestInfo
	for loc, host := range locationHosts(hosts, locs) {
		ms, err := s.readManifests(ctx, c, host, loc, f.ClusterID)
		if err != nil {
			return nil, nil, nil, err
		}
		for _, m := range ms {
			if !f.matchTag(m.Info.SnapshotTag) {
				continue
			}
			if m.Info.Temporary {
				tmp = append(tmp, m.Info)
				continue
			}
			final[m.Info.Path()] = true
			out[loc] = append(out[loc], m)
		}
	}
	unfinished = map[string][]string{}
	for _, t := range tmp {
		fin := t
		fin.Temporary = false
		if !final[fin.Path()] {
			k := t.ClusterID.String() + "/" + t.TaskID.String() + "/" + t.SnapshotTag
			unfinished[k] = append(unfinished[k], t.NodeID)
		}
	}
	return out, unfinished, down, nil
}

// List lists the snapshots in the locations, seen from clusterID's nodes.
func (s *Service) List(ctx context.Context, clusterID uuid.UUID, locations []string, f ListFilter) ([]ListItem, error) {
	tf, err := newTableFilter(f.Keyspace)
	if err != nil {
		return nil, err
	}
	byLoc, unfinished, down, err := s.manifestsAt(ctx, clusterID, locations, f)
	if err != nil {
		return nil, err
	}
	type key struct{ c, t uuid.UUID }
	items := map[key]*ListItem{}
	units := map[key]map[string]map[string]bool{}
	snaps := map[key]map[string]*SnapshotInfo{}
	for _, ms := range byLoc {
		for _, m := range ms {
			k := key{m.Info.ClusterID, m.Info.TaskID}
			match := false
			var size int64
			for _, fm := range m.Index {
				if !tf.match(fm.Keyspace, fm.Table) {
					continue
				}
				match = true
				size += fm.Size
				if units[k] == nil {
					units[k] = map[string]map[string]bool{}
				}
				if units[k][fm.Keyspace] == nil {
					units[k][fm.Keyspace] = map[string]bool{}
				}
				units[k][fm.Keyspace][fm.Table] = true
			}
			if !match {
				continue
			}
			if items[k] == nil {
				items[k] = &ListItem{ClusterID: k.c, TaskID: k.t}
				snaps[k] = map[string]*SnapshotInfo{}
			}
			si := snaps[k][m.Info.SnapshotTag]
			if si == nil {
				si = &SnapshotInfo{SnapshotTag: m.Info.SnapshotTag}
				if un := unfinished[k.c.String()+"/"+k.t.String()+"/"+m.Info.SnapshotTag]; len(un) > 0 {
					si.Incomplete = true
					si.UnfinishedNodes = slices.Sorted(slices.Values(un))
				}
				snaps[k][m.Info.SnapshotTag] = si
			}
			si.Nodes++
			si.Size += size
		}
	}
	out := make([]ListItem, 0, len(items))
	for k, it := range items {
		for _, ks := range sortedMapKeys(units[k]) {
			it.Units = append(it.Units, Unit{Keyspace: ks, Tables: sortedMapKeys(units[k][ks])})
		}
		for _, tag := range sortedMapKeys(snaps[k]) {
			it.SnapshotInfo = append(it.SnapshotInfo, *snaps[k][tag])
		}
		slices.Reverse(it.SnapshotInfo) // newest first
		it.NodesDown = down
		out = append(out, *it)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ClusterID != out[j].ClusterID {
			return out[i].ClusterID.String() < out[j].ClusterID.String()
		}
		return out[i].TaskID.String() < out[j].TaskID.String()
	})
	return out, nil
}

// FilesInfo is the file listing of one node's snapshot, shaped as Scylla
// Manager's BackupFilesInfo.
type FilesInfo struct {
	Location string      `json:"location"`
	Schema   string      `json:"schema"`
	Files    []FilesMeta `json:"files"`
	// NodesDown: see ListItem.NodesDown.
	NodesDown []string `json:"nodes_down,omitempty"`
}

// FilesMeta is one table of FilesInfo; Path is the table's directory
// relative to the bucket.
type FilesMeta struct {
	backupspec.FilesMeta
}

// ListFiles returns the files of a snapshot (f.SnapshotTag required) per
// node and location.
func (s *Service) ListFiles(ctx context.Context, clusterID uuid.UUID, locations []string, f ListFilter) ([]FilesInfo, error) {
	if !backupspec.IsSnapshotTag(f.SnapshotTag) {
		return nil, fmt.Errorf("backup: %w", &backupspec.InvalidError{Field: "snapshot_tag", Want: "sm_YYYYMMDDhhmmssUTC", Got: f.SnapshotTag})
	}
	tf, err := newTableFilter(f.Keyspace)
	if err != nil {
		return nil, err
	}
	byLoc, _, down, err := s.manifestsAt(ctx, clusterID, locations, f)
	if err != nil {
		return nil, err
	}
	var out []FilesInfo
	for loc, ms := range byLoc {
		for _, m := range ms {
			fi := FilesInfo{Location: loc.String(), Schema: m.Header.Schema, NodesDown: down}
			for _, fm := range m.Index {
				if !tf.match(fm.Keyspace, fm.Table) {
					continue
				}
				fm.Path = backupspec.SSTVersionDir(m.Info.ClusterID, m.Info.DC, m.Info.NodeID, fm.Keyspace, fm.Table, fm.Version)
				fi.Files = append(fi.Files, FilesMeta{fm})
			}
			out = append(out, fi)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Location < out[j].Location })
	return out, nil
}

// ValidateReport is the result of Validate for one node directory, shaped
// as Scylla Manager's validate_backup progress.
type ValidateReport struct {
	DC              string    `json:"dc"`
	Host            string    `json:"host"`
	NodeID          string    `json:"node_id"`
	Location        string    `json:"location"`
	Manifests       int       `json:"manifests"`
	ScannedFiles    int       `json:"scanned_files"`
	BrokenSnapshots []string  `json:"broken_snapshots"`
	MissingFiles    int       `json:"missing_files"`
	OrphanedFiles   int       `json:"orphaned_files"`
	OrphanedBytes   int64     `json:"orphaned_bytes"`
	DeletedFiles    int       `json:"deleted_files"`
	StartedAt       time.Time `json:"started_at"`
	CompletedAt     time.Time `json:"completed_at"`
	// Missing lists the missing paths (first 100).
	Missing []string `json:"missing,omitempty"`
	// ContentChecked is the number of Data.db files re-read and compared
	// with their Digest.crc32; ContentErrors lists the mismatches.
	ContentChecked int      `json:"content_checked"`
	ContentErrors  []string `json:"content_errors,omitempty"`
	// NodesDown are the cluster's nodes ("ip (dc)") that were down: the
	// validation read their directories through a live node.
	NodesDown []string `json:"nodes_down,omitempty"`
	// IncompleteSnapshots are the snapshots other nodes finished but
	// this node did not (only its .tmp manifest is there): the ranges of
	// its tokens are not covered, so a restore refuses them. List marks
	// them Incomplete too.
	IncompleteSnapshots []string `json:"incomplete_snapshots,omitempty"`
}

// ValidateOptions tune Validate.
type ValidateOptions struct {
	// DeleteOrphanedFiles deletes files no manifest references (under the
	// cluster's upload lease).
	DeleteOrphanedFiles bool
	// ContentSample is the number of SSTables per node whose Data.db is
	// re-read and checked against its Digest.crc32 (files up to
	// MaxContentCheckBytes). 0 = no content check.
	ContentSample int
}

// Validate checks every node directory of the cluster in the locations:
// files referenced by a manifest but absent (missing, with the broken
// snapshots) and files no manifest references (orphaned). Versioned names
// are resolved as a restore would. Unfinished (.tmp) manifests protect
// their files from being called orphans but are not checked; a snapshot
// other nodes finished is reported incomplete on a node that did not.
func (s *Service) Validate(ctx context.Context, clusterID uuid.UUID, locations []string, o ValidateOptions) ([]ValidateReport, error) {
	c, hosts, locs, down, err := s.direct(ctx, clusterID, locations)
	if err != nil {
		return nil, err
	}
	ipOf := map[string]string{}
	for _, h := range hosts {
		ipOf[h.HostID] = h.IP
	}
	var out []ValidateReport
	run := func(ctx context.Context) error {
		for loc, host := range locationHosts(hosts, locs) {
			ms, err := s.readManifests(ctx, c, host, loc, clusterID)
			if err != nil {
				return err
			}
			byNode := map[string][]*remoteManifest{}
			finished := map[string]bool{} // "<cluster>/<task>/<tag>" and that + "/<node>"
			for _, m := range ms {
				byNode[m.Info.SSTNodeDir()] = append(byNode[m.Info.SSTNodeDir()], m)
				if !m.Info.Temporary {
					k := m.Info.ClusterID.String() + "/" + m.Info.TaskID.String() + "/" + m.Info.SnapshotTag
					finished[k], finished[k+"/"+m.Info.NodeID] = true, true
				}
			}
			for _, dir := range sortedMapKeys(byNode) {
				rep, err := s.validateNode(ctx, c, host, loc, dir, byNode[dir], o)
				if err != nil {
					return err
				}
				for _, m := range byNode[dir] {
					k := m.Info.ClusterID.String() + "/" + m.Info.TaskID.String() + "/" + m.Info.SnapshotTag
					if m.Info.Temporary && finished[k] && !finished[k+"/"+m.Info.NodeID] {
						rep.IncompleteSnapshots = append(rep.IncompleteSnapshots, m.Info.SnapshotTag)
					}
				}
				slices.Sort(rep.IncompleteSnapshots)
				rep.Host = ipOf[rep.NodeID]
				rep.NodesDown = down
				out = append(out, rep)
			}
		}
		return nil
	}
	if o.DeleteOrphanedFiles {
		err = s.withLease(ctx, uploadLeasePrefix+clusterID.String(), s.opts.LeaseOwner+"/validate", run)
	} else {
		err = run(ctx)
	}
	return out, err
}

func (s *Service) validateNode(ctx context.Context, c *agentclient.Client, host string, loc backupspec.Location, dir string, ms []*remoteManifest, o ValidateOptions) (ValidateReport, error) {
	rep := ValidateReport{Location: loc.String(), StartedAt: s.opts.Now(), DC: ms[0].Info.DC, NodeID: ms[0].Info.NodeID}
	present := map[string]int64{}
	byDir := map[string][]string{}
	opt := &agentclient.ListOpt{Recurse: true, FilesOnly: true, NoModTime: true, NoMimeType: true}
	err := c.List(ctx, host, agentclient.ListOptions{Fs: loc.RemoteName(), Remote: dir, Opt: opt}, func(it agentclient.ListItem) error {
		p := path.Join(dir, it.Path)
		present[p] = it.Size
		byDir[path.Dir(p)] = append(byDir[path.Dir(p)], path.Base(p))
		return nil
	})
	if err != nil && !isNotFound(err) {
		return rep, fmt.Errorf("backup: validate: list %s in %s from node %s: %w", dir, loc, host, err)
	}
	rep.ScannedFiles = len(present)
	versions := map[string]backupspec.Versions{}
	needed := map[string]bool{}
	broken := map[string]bool{}
	for _, m := range ms {
		if !m.Info.Temporary {
			rep.Manifests++
		}
		for _, f := range m.files() {
			d := path.Dir(f)
			v, ok := versions[d]
			if !ok {
				v = backupspec.IndexVersions(byDir[d])
				versions[d] = v
			}
			p := path.Join(d, v.Resolve(path.Base(f), m.Info.SnapshotTag))
			needed[p] = true
			if _, ok := present[p]; !ok && !m.Info.Temporary {
				rep.MissingFiles++
				broken[m.Info.SnapshotTag] = true
				if len(rep.Missing) < 100 {
					rep.Missing = append(rep.Missing, p)
				}
			}
		}
	}
	rep.BrokenSnapshots = sortedMapKeys(broken)
	if o.ContentSample > 0 {
		if err := s.checkContent(ctx, c, host, loc, ms, byDir, present, o.ContentSample, &rep); err != nil {
			return rep, err
		}
	}
	var orphans []string
	for p, size := range present {
		if !needed[p] {
			orphans = append(orphans, p)
			rep.OrphanedBytes += size
		}
	}
	sort.Strings(orphans)
	rep.OrphanedFiles = len(orphans)
	if o.DeleteOrphanedFiles {
		for len(orphans) > 0 {
			n := min(len(orphans), DefaultDeleteBatch)
			d, err := c.DeletePaths(ctx, host, loc.RemoteName(), "", orphans[:n])
			if err != nil {
				return rep, fmt.Errorf("backup: validate: delete orphans in %s from node %s: %w", loc, host, err)
			}
			rep.DeletedFiles += int(d)
			orphans = orphans[n:]
		}
	}
	rep.CompletedAt = s.opts.Now()
	return rep, nil
}
