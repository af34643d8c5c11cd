package restore

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/internal/backupspec"
	"github.com/scyllaops/scyllaops/store"
)

// srcManifest is one node's manifest of the snapshot, with the location
// it was found in.
type srcManifest struct {
	loc backupspec.Location
	m   *backupspec.ManifestWithIndex
}

// sstable is one sstable (all its components) of the snapshot.
type sstable struct {
	Location string `json:"location"`
	SrcDC    string `json:"src_dc"`
	SrcNode  string `json:"src_node"`
	// Dir is the remote directory (relative to the bucket).
	Dir string `json:"dir"`
	// ID is the sstable's generation.
	ID string `json:"id"`
	// Files are the component names as loaded; Remote the names to
	// download them from (a versioned copy when the file changed since).
	Files  []string `json:"files"`
	Remote []string `json:"remote,omitempty"`
	Size   int64    `json:"size"`
}

// remoteName is the name to download Files[i] from.
func (s *sstable) remoteName(i int) string {
	if len(s.Remote) > i && s.Remote[i] != "" {
		return s.Remote[i]
	}
	return s.Files[i]
}

// snapshotIndex is what the snapshot holds, by keyspace.table.
type snapshotIndex struct {
	manifests []srcManifest
	// tables maps "ks.table" to its sstables in all locations.
	tables map[string][]*sstable
	// dcs are the snapshot's DCs, sorted.
	dcs []string
	// schema is the location and path of the schema file ("" if none).
	schemaLoc  backupspec.Location
	schemaPath string
}

// findManifests lists the manifests of tag in every location, through
// host, and reads the finished ones. An unknown tag is an invalid
// snapshot_tag; a snapshot with unfinished manifests or token rings with
// holes is refused, naming what is missing.
func (s *Service) findManifests(ctx context.Context, c *agentclient.Client, host string, locs []backupspec.Location, tag string) ([]srcManifest, error) {
	var (
		out   []srcManifest
		tmp   []backupspec.ManifestInfo
		final = map[string]bool{}
	)
	for _, l := range locs {
		var infos []backupspec.ManifestInfo
		err := c.List(ctx, host, agentclient.ListOptions{Fs: l.RemoteName(), Remote: "backup/meta",
			Opt: &agentclient.ListOpt{Recurse: true, FilesOnly: true, NoModTime: true, NoMimeType: true}}, func(it agentclient.ListItem) error {
			mi, err := backupspec.ParseManifestPath(path.Join("backup/meta", it.Path))
			if err == nil && mi.SnapshotTag == tag {
				infos = append(infos, mi)
			}
			return nil
		})
		if err != nil {
			return nil, store.Invalid("location", "a location the cluster's nodes can list ("+err.Error()+")", l.String())
		}
		for _, mi := range infos {
			if mi.Temporary {
				tmp = append(tmp, mi)
				continue
			}
			b, err := c.Cat(ctx, host, l.RemoteName(), mi.Path())
			if err != nil {
				return nil, fmt.Errorf("restore: read manifest %s: %w", l.RemotePath(mi.Path()), err)
			}
			m, err := backupspec.ReadManifestAll(bytes.NewReader(b))
			if err != nil {
				return nil, fmt.Errorf("restore: manifest %s: %w", l.RemotePath(mi.Path()), err)
			}
			final[mi.DC+"/"+mi.NodeID] = true
			out = append(out, srcManifest{loc: l, m: m})
		}
	}
	if len(out) == 0 && len(tmp) == 0 {
		return nil, store.Invalid("snapshot_tag", "a snapshot tag of a backup in the locations "+locString(locs), tag)
	}
	clusters := map[string]bool{}
	for _, m := range out {
		clusters[m.m.ClusterID.String()+" task "+m.m.TaskID.String()] = true
	}
	if len(clusters) > 1 {
		return nil, store.Invalid("snapshot_tag", "a tag that one backup task wrote in these locations (found "+strings.Join(sortedKeys(clusters), ", ")+")", tag)
	}
	return out, checkComplete(tag, out, tmp, final)
}

// checkComplete verifies that the snapshot's manifests cover the whole
// token ring of each DC they name: a node with only a .tmp manifest (its
// backup never finished) leaves its ranges uncovered, and so does a
// manifest without tokens.
func checkComplete(tag string, ms []srcManifest, tmp []backupspec.ManifestInfo, final map[string]bool) error {
	var missing []string
	for _, t := range tmp {
		if !final[t.DC+"/"+t.NodeID] {
			missing = append(missing, fmt.Sprintf("DC %s node %s (only an unfinished .tmp manifest: the ranges of its tokens are not covered)", t.DC, t.NodeID))
		}
	}
	owner := map[string]map[int64]string{}
	for _, m := range ms {
		if len(m.m.Tokens) == 0 {
			missing = append(missing, fmt.Sprintf("DC %s node %s (its manifest carries no tokens)", m.m.DC, m.m.NodeID))
			continue
		}
		if owner[m.m.DC] == nil {
			owner[m.m.DC] = map[int64]string{}
		}
		for _, tk := range m.m.Tokens {
			if o, dup := owner[m.m.DC][tk]; dup && o != m.m.NodeID {
				missing = append(missing, fmt.Sprintf("DC %s token %d claimed by nodes %s and %s (manifests of different rings)", m.m.DC, tk, o, m.m.NodeID))
			}
			owner[m.m.DC][tk] = m.m.NodeID
		}
	}
	if len(missing) == 0 {
		return nil
	}
	sort.Strings(missing)
	return fmt.Errorf("restore: snapshot %s is incomplete, refusing to restore it: %s: %w", tag, strings.Join(missing, "; "), ErrIncompleteSnapshot)
}

// indexSnapshot lists the sstable directories of every selected table of
// the manifests and resolves versioned files to the copy tag needs.
func (s *Service) indexSnapshot(ctx context.Context, c *agentclient.Client, host, tag string, ms []srcManifest, f filter) (*snapshotIndex, error) {
	idx := &snapshotIndex{manifests: ms, tables: map[string][]*sstable{}}
	dcs := map[string]bool{}
	type job struct {
		loc backupspec.Location
		m   *backupspec.ManifestWithIndex
		fm  backupspec.FilesMeta
	}
	var jobs []job
	for _, m := range ms {
		dcs[m.m.DC] = true
		if idx.schemaPath == "" && m.m.Schema != "" {
			idx.schemaLoc, idx.schemaPath = m.loc, m.m.Schema
		}
		for _, fm := range m.m.Index {
			if f.match(fm.Keyspace, fm.Table) {
				jobs = append(jobs, job{m.loc, m.m, fm})
			}
		}
	}
	idx.dcs = sortedKeys(dcs)
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, j := range jobs {
		g.Go(func() error {
			dir := backupspec.SSTVersionDir(j.m.ClusterID, j.m.DC, j.m.NodeID, j.fm.Keyspace, j.fm.Table, j.fm.Version)
			size := map[string]int64{}
			var names []string
			err := c.List(gctx, host, agentclient.ListOptions{Fs: j.loc.RemoteName(), Remote: dir,
				Opt: &agentclient.ListOpt{FilesOnly: true, NoModTime: true, NoMimeType: true}}, func(it agentclient.ListItem) error {
				size[it.Name] = it.Size
				names = append(names, it.Name)
				return nil
			})
			if err != nil {
				return fmt.Errorf("restore: list %s: %w", j.loc.RemotePath(dir), err)
			}
			vers := backupspec.IndexVersions(names)
			byID := map[string]*sstable{}
			var order []string
			for _, name := range j.fm.Files {
				sst, err := backupspec.ParseSSTable(name)
				if err != nil {
					continue // not an sstable component
				}
				remote := vers.Resolve(name, tag)
				sz, ok := size[remote]
				if !ok {
					return fmt.Errorf("restore: file %s of snapshot %s is missing from the bucket: %w", j.loc.RemotePath(path.Join(dir, remote)), tag, ErrMissingFile)
				}
				b := byID[sst.ID]
				if b == nil {
					b = &sstable{Location: j.loc.String(), SrcDC: j.m.DC, SrcNode: j.m.NodeID, Dir: dir, ID: sst.ID}
					byID[sst.ID] = b
					order = append(order, sst.ID)
				}
				b.Files = append(b.Files, name)
				if remote != name {
					if b.Remote == nil {
						b.Remote = make([]string, len(b.Files)-1, len(j.fm.Files))
					}
					b.Remote = append(b.Remote, remote)
				} else if b.Remote != nil {
					b.Remote = append(b.Remote, "")
				}
				b.Size += sz
			}
			key := j.fm.Keyspace + "." + j.fm.Table
			mu.Lock()
			defer mu.Unlock()
			for _, id := range order {
				idx.tables[key] = append(idx.tables[key], byID[id])
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for k := range idx.tables {
		slices.SortFunc(idx.tables[k], func(a, b *sstable) int {
			return strings.Compare(a.SrcDC+"/"+a.SrcNode+"/"+a.ID, b.SrcDC+"/"+b.SrcNode+"/"+b.ID)
		})
	}
	return idx, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func locString(locs []backupspec.Location) string {
	s := make([]string, len(locs))
	for i, l := range locs {
		s[i] = l.String()
	}
	return strings.Join(s, ", ")
}
