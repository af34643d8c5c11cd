package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"strings"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/internal/backupspec"
)

// remoteManifest is a manifest read from a bucket.
type remoteManifest struct {
	Info   backupspec.ManifestInfo
	Header *backupspec.Manifest
	Index  []backupspec.FilesMeta
}

// files returns the bucket paths the manifest references.
func (m *remoteManifest) files() []string {
	var out []string
	for _, fm := range m.Index {
		dir := backupspec.SSTVersionDir(m.Info.ClusterID, m.Info.DC, m.Info.NodeID, fm.Keyspace, fm.Table, fm.Version)
		for _, f := range fm.Files {
			out = append(out, path.Join(dir, f))
		}
		for _, f := range fm.ScyllaManifests {
			out = append(out, path.Join(dir, f))
		}
	}
	return out
}

// readManifests lists and reads the manifests of a cluster (uuid.Nil:
// of every cluster) in loc through host. Names that are not manifest paths
// are skipped, counted and logged at warn with a few examples (a listing
// whose paths are all unparseable, e.g. joined wrongly, is not silent).
func (s *Service) readManifests(ctx context.Context, c *agentclient.Client, host string, loc backupspec.Location, clusterID uuid.UUID) ([]*remoteManifest, error) {
	root := backupspec.MetaDir
	if clusterID != uuid.Nil {
		root = backupspec.MetaClusterDir(clusterID)
	}
	var (
		infos    []backupspec.ManifestInfo
		skipped  int
		examples []string
	)
	opt := &agentclient.ListOpt{Recurse: true, FilesOnly: true, NoModTime: true, NoMimeType: true}
	err := c.List(ctx, host, agentclient.ListOptions{Fs: loc.RemoteName(), Remote: root, Opt: opt}, func(it agentclient.ListItem) error {
		p := path.Join(root, it.Path)
		info, err := backupspec.ParseManifestPath(p)
		if err != nil {
			skipped++
			if len(examples) < 3 {
				examples = append(examples, p)
			}
			return nil
		}
		infos = append(infos, info)
		return nil
	})
	if err != nil && !isNotFound(err) {
		return nil, fmt.Errorf("backup: list manifests in %s from node %s: %w", loc, host, err)
	}
	if skipped > 0 {
		s.log.WarnContext(ctx, "backup: files under the manifest directory that are not manifests were skipped",
			"location", loc.String(), "host", host, "skipped", skipped, "manifests", len(infos), "examples", examples)
	}
	out := make([]*remoteManifest, 0, len(infos))
	for _, info := range infos {
		b, err := c.Cat(ctx, host, loc.RemoteName(), info.Path())
		if err != nil {
			if isNotFound(err) {
				continue // moved or purged meanwhile
			}
			return nil, fmt.Errorf("backup: read manifest %s from node %s: %w", info.Path(), host, err)
		}
		m := &remoteManifest{Info: info}
		m.Header, err = backupspec.ReadManifest(bytes.NewReader(b), func(fm backupspec.FilesMeta) error {
			m.Index = append(m.Index, fm)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("backup: manifest %s in %s: %w", info.Path(), loc, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// locationHosts picks for every location a host that uses it.
func locationHosts(hosts []Host, locs []backupspec.Location) map[backupspec.Location]string {
	out := map[backupspec.Location]string{}
	for _, h := range hosts {
		l, ok := backupspec.LocationFor(locs, h.DC)
		if ok {
			if _, seen := out[l]; !seen {
				out[l] = h.IP
			}
		}
	}
	for _, l := range locs {
		if _, ok := out[l]; !ok && len(hosts) > 0 {
			out[l] = hosts[0].IP
		}
	}
	return out
}

// PurgeReport says what a purge deleted in one location.
type PurgeReport struct {
	Location     string   `json:"location"`
	StaleTags    []string `json:"stale_tags"`
	KeptTags     []string `json:"kept_tags"`
	DeletedFiles int64    `json:"deleted_files"`
	Manifests    int      `json:"manifests"`
	// NodesDown are the nodes ("ip (dc)") that were down: the purge ran
	// through the live ones.
	NodesDown []string `json:"nodes_down,omitempty"`
}

type purgeSpec struct {
	policies   map[uuid.UUID]backupspec.RetentionPolicy
	forceStale []string
	keepOthers bool // keep every snapshot not in forceStale
}

// purgeCluster applies retention in every location, holding the
// cluster's upload lease so it never runs while a backup uploads.
func (s *Service) purgeCluster(ctx context.Context, c *agentclient.Client, clusterID uuid.UUID, hosts []Host, locs []backupspec.Location, spec purgeSpec, owner string) ([]PurgeReport, error) {
	var reports []PurgeReport
	err := s.withLease(ctx, uploadLeasePrefix+clusterID.String(), owner, func(ctx context.Context) error {
		for loc, host := range locationHosts(hosts, locs) {
			rep, err := s.purgeLocation(ctx, c, clusterID, host, loc, spec)
			if err != nil {
				return err
			}
			reports = append(reports, rep)
		}
		return nil
	})
	return reports, err
}

func (s *Service) purgeLocation(ctx context.Context, c *agentclient.Client, clusterID uuid.UUID, host string, loc backupspec.Location, spec purgeSpec) (PurgeReport, error) {
	rep := PurgeReport{Location: loc.String()}
	ms, err := s.readManifests(ctx, c, host, loc, clusterID)
	if err != nil {
		return rep, err
	}
	in := backupspec.PurgeInput{Now: s.opts.Now(), TempGrace: s.opts.TempGrace, ForceStale: spec.forceStale,
		Policies: maps.Clone(spec.policies), Listing: map[string][]string{}}
	if in.Policies == nil {
		in.Policies = map[uuid.UUID]backupspec.RetentionPolicy{}
	}
	nodeDirs := map[string]bool{}
	for _, m := range ms {
		in.Manifests = append(in.Manifests, backupspec.ManifestFiles{Info: m.Info, Files: m.files()})
		nodeDirs[m.Info.SSTNodeDir()] = true
		if spec.keepOthers {
			in.Policies[m.Info.TaskID] = backupspec.RetentionPolicy{}
		}
	}
	for dir := range nodeDirs {
		opt := &agentclient.ListOpt{Recurse: true, FilesOnly: true, NoModTime: true, NoMimeType: true}
		err := c.List(ctx, host, agentclient.ListOptions{Fs: loc.RemoteName(), Remote: dir, Opt: opt, VersionedOnly: true}, func(it agentclient.ListItem) error {
			if _, _, ok := backupspec.SplitVersioned(it.Name); ok {
				in.Listing[dir] = append(in.Listing[dir], path.Join(dir, it.Path))
			}
			return nil
		})
		if err != nil && !isNotFound(err) {
			return rep, fmt.Errorf("backup: list versioned files in %s/%s from node %s: %w", loc, dir, host, err)
		}
	}
	p := backupspec.PlanPurge(in)
	rep.StaleTags, rep.KeptTags, rep.Manifests = p.StaleTags, p.KeptTags, len(p.Manifests)
	var all []string
	for _, files := range p.Files {
		all = append(all, files...)
	}
	s.m.purgeFiles.WithLabelValues(clusterID.String(), host).Set(float64(len(all)))
	// Data first, then schema files, manifests last: an interrupted purge
	// leaves manifests that the next purge finds stale again.
	all = append(all, p.Schemas...)
	all = append(all, p.Manifests...)
	for len(all) > 0 {
		n := min(len(all), DefaultDeleteBatch)
		d, err := c.DeletePaths(ctx, host, loc.RemoteName(), "", all[:n])
		if err != nil {
			return rep, fmt.Errorf("backup: purge %s from node %s: %w", loc, host, err)
		}
		rep.DeletedFiles += d
		s.m.purgeDeleted.WithLabelValues(clusterID.String(), host).Set(float64(rep.DeletedFiles))
		all = all[n:]
	}
	return rep, nil
}

// purge deletes what is left of this run's snapshots on the nodes, then
// applies retention.
func (r *run) purge(ctx context.Context) error {
	pl, tag := r.row.Plan, r.row.SnapshotTag
	if !pl.PurgeOnly {
		err := forEachHost(ctx, pl.Hosts, nil, func(ctx context.Context, h Host) error {
			if err := r.c.DeleteSnapshot(ctx, h.IP, tag, ""); err != nil && !isNotFound(err) {
				return fmt.Errorf("backup: delete snapshot %s on node %s: %w", tag, h.IP, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	policies := maps.Clone(r.props.RetentionMap)
	if policies == nil {
		policies = map[uuid.UUID]backupspec.RetentionPolicy{}
	}
	policies[r.taskID] = pl.Policy
	_, err := r.s.purgeCluster(ctx, r.c, r.clusterID, pl.Hosts, pl.Locations, purgeSpec{policies: policies}, r.s.opts.LeaseOwner+"/"+r.runID.String())
	return err
}

// target resolves the hosts and locations of a direct call.
func (s *Service) direct(ctx context.Context, clusterID uuid.UUID, locations []string) (*agentclient.Client, []Host, []backupspec.Location, []string, error) {
	locs, err := Properties{Location: locations}.Locations()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	c, contact, err := s.client(ctx, clusterID)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	// One live node per location is enough: nodes down are left out
	// (and reported), the call goes on with the others.
	hosts, down, err := s.nodes(ctx, c, contact, nil)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if len(hosts) == 0 {
		return nil, nil, nil, nil, fmt.Errorf("backup: every node is down: %s", strings.Join(down, ", "))
	}
	if len(down) > 0 {
		s.log.WarnContext(ctx, "nodes down: using the live ones", "cluster", clusterID, "down", down)
	}
	return c, hosts, locs, down, nil
}

// Purge applies retention now (a purge-only run outside the scheduler):
// properties give the locations and the task's policy, with
// retention_map for the other tasks.
func (s *Service) Purge(ctx context.Context, clusterID, taskID uuid.UUID, properties json.RawMessage) ([]PurgeReport, error) {
	p, err := ParseProperties(properties)
	if err != nil {
		return nil, err
	}
	c, hosts, locs, down, err := s.direct(ctx, clusterID, p.Location)
	if err != nil {
		return nil, err
	}
	policies := maps.Clone(p.RetentionMap)
	if policies == nil {
		policies = map[uuid.UUID]backupspec.RetentionPolicy{}
	}
	policies[taskID] = p.Policy()
	reps, err := s.purgeCluster(ctx, c, clusterID, hosts, locs, purgeSpec{policies: policies}, s.opts.LeaseOwner+"/purge/"+taskID.String())
	for i := range reps {
		reps[i].NodesDown = down
	}
	return reps, err
}

// DeleteSnapshot deletes the given snapshots from the locations, with
// their files unless another kept snapshot references them.
func (s *Service) DeleteSnapshot(ctx context.Context, clusterID uuid.UUID, locations, tags []string) error {
	for _, t := range tags {
		if !backupspec.IsSnapshotTag(t) {
			return fmt.Errorf("backup: %w", &backupspec.InvalidError{Field: "snapshot_tags", Want: "sm_YYYYMMDDhhmmssUTC tags", Got: t})
		}
	}
	c, hosts, locs, _, err := s.direct(ctx, clusterID, locations)
	if err != nil {
		return err
	}
	reps, err := s.purgeCluster(ctx, c, clusterID, hosts, locs, purgeSpec{forceStale: tags, keepOthers: true}, s.opts.LeaseOwner+"/delete/"+strings.Join(tags, ","))
	if err != nil {
		return err
	}
	for _, r := range reps {
		if r.Manifests > 0 {
			return nil
		}
	}
	return fmt.Errorf("backup: snapshots %v: %w", tags, ErrSnapshotNotFound)
}
