package restore

import (
	"context"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/internal/backupspec"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/topology"
)

// EstimateRate is the per-host restore throughput the dry run assumes
// for its estimated duration: 50 MiB/s.
const EstimateRate = 50 << 20

// Host is a target node that restores batches.
type Host struct {
	IP     string `json:"host"`
	DC     string `json:"dc"`
	Shards int    `json:"shard_cnt"`
}

// Table is one restored table of the target.
type Table struct {
	Table string `json:"table"`
	// TombstoneGC is the table's mode before the restore ("" = not read yet).
	TombstoneGC string `json:"tombstone_gc,omitempty"`
	Size        int64  `json:"size"`
	// Version is the table's directory version on the target cluster.
	Version string `json:"version,omitempty"`
	// SSTables is the number of sstables restored into it.
	SSTables int `json:"sstables"`
}

// Unit is one keyspace of the target.
type Unit struct {
	Keyspace string  `json:"keyspace"`
	Size     int64   `json:"size"`
	Tables   []Table `json:"tables"`
}

// Target is what a restore run restores (the dry run's answer), shaped as
// Scylla Manager's RestoreTarget plus the source and target nodes and an
// estimated duration.
type Target struct {
	ClusterID       uuid.UUID         `json:"cluster_id"`
	Location        []string          `json:"location"`
	SnapshotTag     string            `json:"snapshot_tag"`
	Units           []Unit            `json:"units"`
	Size            int64             `json:"size"`
	BatchSize       int               `json:"batch_size"`
	Parallel        int               `json:"parallel"`
	Transfers       int               `json:"transfers"`
	RateLimit       []string          `json:"rate_limit,omitempty"`
	AllowCompaction bool              `json:"allow_compaction"`
	UnpinAgentCPU   bool              `json:"unpin_agent_cpu"`
	RestoreSchema   bool              `json:"restore_schema,omitempty"`
	DCMapping       map[string]string `json:"dc_mapping,omitempty"`
	// SourceNodes are the snapshot's nodes ("dc/host_id"), TargetHosts
	// the hosts that download and load.
	SourceNodes []string `json:"source_nodes"`
	TargetHosts []Host   `json:"target_hosts"`
	// Batches is the number of batches of the data stage.
	Batches int `json:"batches"`
	// EstimatedDuration assumes EstimateRate per target host.
	EstimatedDuration string `json:"estimated_duration"`
	// OneToOne: a 1-1 restore (nodes_mapping), loaded without streaming.
	OneToOne bool `json:"one_to_one,omitempty"`
}

// batch is a set of sstables of one table that one host downloads into
// its upload/ directory and then loads with one call. IDs are unique
// within a batch.
type batch struct {
	Host     string     `json:"host"`
	Keyspace string     `json:"keyspace"`
	Table    string     `json:"table"`
	Version  string     `json:"version"`
	SSTables []*sstable `json:"sstables"`
	// Downloaded[i] and Loaded say what is done (persisted).
	Downloaded []bool `json:"downloaded"`
	Loaded     bool   `json:"loaded"`
	Size       int64  `json:"size"`
	// Restored is the bytes downloaded and loaded; Failed those of a
	// failed attempt.
	Error string `json:"error,omitempty"`
}

// plan is the target with its batches.
type plan struct {
	target  *Target
	batches []*batch
	index   *snapshotIndex
}

// GetTarget is the dry run: it validates the properties against the
// snapshot and the cluster and returns what a run would restore. Nothing
// is downloaded or stored. Bad input is a *store.InvalidError.
func (s *Service) GetTarget(ctx context.Context, clusterID uuid.UUID, properties []byte) (*Target, error) {
	p, err := ParseProperties(properties)
	if err != nil {
		return nil, err
	}
	c, contact, err := s.client(ctx, clusterID)
	if err != nil {
		return nil, err
	}
	pl, err := s.makePlan(ctx, clusterID, c, contact, p)
	if err != nil {
		return nil, err
	}
	return pl.target, nil
}

func (s *Service) client(ctx context.Context, clusterID uuid.UUID) (*agentclient.Client, string, error) {
	c, host, err := s.cluster.Client(ctx, clusterID)
	if err != nil {
		return nil, "", fmt.Errorf("restore: cluster %s: %w", clusterID, err)
	}
	return c, host, nil
}

// makePlan indexes the snapshot, checks it against the target cluster and
// builds the batches.
func (s *Service) makePlan(ctx context.Context, clusterID uuid.UUID, c *agentclient.Client, contact string, p Properties) (*plan, error) {
	topo, err := s.topology(ctx, clusterID, c, contact)
	if err != nil {
		return nil, fmt.Errorf("restore: topology of cluster %s: %w", clusterID, err)
	}
	live := topo.LiveHosts()
	if len(live) == 0 {
		return nil, fmt.Errorf("restore: cluster %s has no live node", clusterID)
	}
	locs, err := p.Locations()
	if err != nil {
		return nil, err
	}
	ms, err := s.findManifests(ctx, c, live[0], locs, p.SnapshotTag)
	if err != nil {
		return nil, err
	}
	f := newFilter(p.Keyspace)
	idx, err := s.indexSnapshot(ctx, c, live[0], p.SnapshotTag, ms, f)
	if err != nil {
		return nil, err
	}
	t := &Target{ClusterID: clusterID, Location: p.Location, SnapshotTag: p.SnapshotTag, BatchSize: p.batchSize(),
		Parallel: p.Parallel, Transfers: p.Transfers, RateLimit: p.RateLimit, AllowCompaction: p.AllowCompaction,
		UnpinAgentCPU: p.UnpinAgentCPU, RestoreSchema: p.RestoreSchema}
	for _, m := range ms {
		t.SourceNodes = append(t.SourceNodes, m.m.DC+"/"+m.m.NodeID)
	}
	sort.Strings(t.SourceNodes)
	pl := &plan{target: t, index: idx}
	if p.RestoreSchema {
		if idx.schemaPath == "" {
			return nil, store.Invalid("restore_schema", "a snapshot with a schema file (the backup had CQL access)", p.SnapshotTag)
		}
		t.EstimatedDuration = "0s"
		return pl, nil
	}
	if len(idx.tables) == 0 {
		return nil, store.Invalid("keyspace", "patterns matching tables of snapshot "+p.SnapshotTag+" (it has "+strings.Join(snapshotTables(ms), ", ")+")", strings.Join(p.Keyspace, ","))
	}
	var mapping map[string]string
	var nodeMap map[string]string // source node ID -> target IP (1-1)
	if p.oneToOne() {
		if nodeMap, err = checkOneToOne(p.NodesMapping, ms, topo); err != nil {
			return nil, err
		}
		mapping = map[string]string{}
		for _, dc := range idx.dcs {
			mapping[dc] = dc
		}
		t.OneToOne = true
	} else if mapping, err = dcMapping(p.DCMapping, idx.dcs, topo); err != nil {
		return nil, err
	}
	t.DCMapping = mapping
	versions, err := s.targetVersions(ctx, clusterID, c, live[0], idx)
	if err != nil {
		return nil, err
	}
	hosts, err := s.eligibleHosts(ctx, c, topo, mapping)
	if err != nil {
		return nil, err
	}
	t.TargetHosts = hosts
	for _, ip := range nodeMap {
		if !slices.ContainsFunc(hosts, func(h Host) bool { return h.IP == ip }) {
			return nil, fmt.Errorf("restore: target node %s of the nodes mapping is down or has less than %d%% free disk", ip, s.opts.DiskSpaceFreeMinPercent)
		}
	}
	pl.batches = makeBatches(idx, versions, mapping, nodeMap, hosts, p.batchSize())
	t.Batches = len(pl.batches)
	units := map[string]*Unit{}
	for _, key := range sortedKeys(idx.tables) {
		ks, tbl, _ := strings.Cut(key, ".")
		u := units[ks]
		if u == nil {
			u = &Unit{Keyspace: ks}
			units[ks] = u
		}
		tb := Table{Table: tbl, Version: versions[key]}
		for _, sst := range idx.tables[key] {
			if _, ok := mapping[sst.SrcDC]; ok {
				tb.Size += sst.Size
				tb.SSTables++
			}
		}
		u.Tables = append(u.Tables, tb)
		u.Size += tb.Size
		t.Size += tb.Size
	}
	for _, ks := range sortedKeys(units) {
		t.Units = append(t.Units, *units[ks])
	}
	par := len(hosts)
	if p.Parallel > 0 && p.Parallel < par {
		par = p.Parallel
	}
	t.EstimatedDuration = (time.Duration(math.Ceil(float64(t.Size)/float64(EstimateRate*par))) * time.Second).String()
	return pl, nil
}

func snapshotTables(ms []srcManifest) []string {
	set := map[string]bool{}
	for _, m := range ms {
		for _, fm := range m.m.Index {
			if !isSystemKeyspace(fm.Keyspace) {
				set[fm.Keyspace+"."+fm.Table] = true
			}
		}
	}
	return sortedKeys(set)
}

// dcMapping resolves the source → target DC map. Given: every source DC
// must be in the snapshot and every target DC in the cluster; only the
// mapped DCs are restored. Empty: each snapshot DC maps to the target DC
// of its name, or to the only target DC.
func dcMapping(given map[string]string, srcDCs []string, topo *topology.Cluster) (map[string]string, error) {
	var dst []string
	for _, dc := range topo.DCs {
		dst = append(dst, dc.Name)
	}
	out := map[string]string{}
	if len(given) > 0 {
		for src, d := range given {
			if !slices.Contains(srcDCs, src) {
				return nil, store.Invalid("dc_mapping", "source DCs of the snapshot ("+strings.Join(srcDCs, ", ")+")", src)
			}
			if !slices.Contains(dst, d) {
				return nil, store.Invalid("dc_mapping", "target DCs of the cluster ("+strings.Join(dst, ", ")+")", d)
			}
			out[src] = d
		}
		return out, nil
	}
	for _, src := range srcDCs {
		switch {
		case slices.Contains(dst, src):
			out[src] = src
		case len(dst) == 1:
			out[src] = dst[0]
		default:
			return nil, store.Invalid("dc_mapping", "a mapping for snapshot DC "+src+" (the cluster has DCs "+strings.Join(dst, ", ")+")", "")
		}
	}
	return out, nil
}

// targetVersions finds the directory version of every restored table on
// the target; a table missing there is invalid input.
func (s *Service) targetVersions(ctx context.Context, clusterID uuid.UUID, c *agentclient.Client, host string, idx *snapshotIndex) (map[string]string, error) {
	byKS := map[string]map[string]string{}
	out := map[string]string{}
	var missing []string
	for _, key := range sortedKeys(idx.tables) {
		ks, tbl, _ := strings.Cut(key, ".")
		dirs, ok := byKS[ks]
		if !ok {
			dirs = map[string]string{}
			err := c.List(ctx, host, agentclient.ListOptions{Fs: "data:", Remote: ks, Opt: &agentclient.ListOpt{DirsOnly: true, NoModTime: true, NoMimeType: true}},
				func(it agentclient.ListItem) error {
					if t, v, ok := backupspec.ParseTableDir(it.Name); ok {
						dirs[t] = v
					}
					return nil
				})
			if err != nil && !strings.Contains(err.Error(), "not found") && !strings.Contains(err.Error(), "no such") {
				return nil, fmt.Errorf("restore: list tables of keyspace %s on %s: %w", ks, host, err)
			}
			byKS[ks] = dirs
		}
		v, ok := dirs[tbl]
		if !ok {
			// An empty table directory may not be listed: ask the schema.
			if v, ok = s.tableID(ctx, clusterID, ks, tbl); !ok {
				missing = append(missing, key)
				continue
			}
		}
		out[key] = v
	}
	if len(missing) > 0 {
		return nil, store.Invalid("restore_tables", "tables that exist in the target cluster's schema (restore the schema first with restore_schema); missing", strings.Join(missing, ", "))
	}
	return out, nil
}

// eligibleHosts are the live nodes of the mapped target DCs with enough
// free disk.
func (s *Service) eligibleHosts(ctx context.Context, c *agentclient.Client, topo *topology.Cluster, mapping map[string]string) ([]Host, error) {
	want := map[string]bool{}
	for _, d := range mapping {
		want[d] = true
	}
	var out []Host
	var low []string
	for _, n := range topo.Nodes() {
		if !want[n.DC] || n.Status != topology.StatusUp {
			continue
		}
		if s.opts.DiskSpaceFreeMinPercent > 0 {
			fs, err := c.About(ctx, n.IP, "data:", "")
			if err != nil {
				return nil, fmt.Errorf("restore: disk of %s: %w", n.IP, err)
			}
			if fs.Total > 0 && fs.Free*100 < int64(s.opts.DiskSpaceFreeMinPercent)*fs.Total {
				low = append(low, fmt.Sprintf("%s (%d%% free)", n.IP, fs.Free*100/fs.Total))
				continue
			}
		}
		out = append(out, Host{IP: n.IP, DC: n.DC, Shards: max(1, n.Shards)})
	}
	for d := range want {
		if !slices.ContainsFunc(out, func(h Host) bool { return h.DC == d }) {
			return nil, fmt.Errorf("restore: no live node of DC %s with at least %d%% free disk (low: %s)", d, s.opts.DiskSpaceFreeMinPercent, strings.Join(low, ", "))
		}
	}
	return out, nil
}

// makeBatches groups the sstables of every table, per target DC, into
// batches of batchSize × shards sstables of similar size (largest first),
// each assigned to the DC's host with the fewest bytes so far. batchSize
// 0 = one batch per host and table. Two sstables with one ID never share
// a batch (they would collide in the upload directory).
func makeBatches(idx *snapshotIndex, versions, mapping, nodeMap map[string]string, hosts []Host, batchSize int) []*batch {
	load := map[string]int64{}
	var out []*batch
	for _, key := range sortedKeys(idx.tables) {
		ks, tbl, _ := strings.Cut(key, ".")
		byDC := map[string][]*sstable{}
		for _, sst := range idx.tables[key] {
			if ip, ok := nodeMap[sst.SrcNode]; ok {
				// 1-1: the group of a target host, which alone gets it.
				byDC["\x00"+ip] = append(byDC["\x00"+ip], sst)
			} else if d, ok := mapping[sst.SrcDC]; ok && nodeMap == nil {
				byDC[d] = append(byDC[d], sst)
			}
		}
		for _, dc := range sortedKeys(byDC) {
			ssts := byDC[dc]
			slices.SortStableFunc(ssts, func(a, b *sstable) int { return int(b.Size - a.Size) })
			var dh []Host
			shards := math.MaxInt
			for _, h := range hosts {
				if h.DC == dc || "\x00"+h.IP == dc {
					dh = append(dh, h)
					shards = min(shards, h.Shards)
				}
			}
			n := batchSize * shards
			if batchSize == 0 {
				n = (len(ssts) + len(dh) - 1) / len(dh)
			}
			n = max(n, 1)
			var open []*batch
			for _, sst := range ssts {
				var b *batch
				for _, o := range open {
					if len(o.SSTables) < n && !slices.ContainsFunc(o.SSTables, func(x *sstable) bool { return x.ID == sst.ID }) {
						b = o
						break
					}
				}
				if b == nil {
					b = &batch{Keyspace: ks, Table: tbl, Version: versions[key]}
					open = append(open, b)
				}
				b.SSTables = append(b.SSTables, sst)
				b.Downloaded = append(b.Downloaded, false)
				b.Size += sst.Size
				if len(b.SSTables) == n {
					open = slices.DeleteFunc(open, func(o *batch) bool { return o == b })
					out = append(out, assign(b, dh, load))
				}
			}
			for _, b := range open {
				out = append(out, assign(b, dh, load))
			}
		}
	}
	return out
}

func assign(b *batch, hosts []Host, load map[string]int64) *batch {
	best := hosts[0].IP
	for _, h := range hosts[1:] {
		if load[h.IP] < load[best] {
			best = h.IP
		}
	}
	b.Host = best
	load[best] += b.Size
	return b
}

// tableID reads the id of ks.tbl from system_schema.tables: the version
// of its directory (32 hex digits).
func (s *Service) tableID(ctx context.Context, clusterID uuid.UUID, ks, tbl string) (string, bool) {
	if s.opts.CQL == nil {
		return "", false
	}
	rows, err := s.opts.CQL.Query(ctx, clusterID, fmt.Sprintf("SELECT id FROM system_schema.tables WHERE keyspace_name = '%s' AND table_name = '%s'",
		strings.ReplaceAll(ks, "'", "''"), strings.ReplaceAll(tbl, "'", "''")))
	if err != nil || len(rows) == 0 || len(rows[0]) == 0 {
		return "", false
	}
	v := rows[0][0]
	if len(v) == 16 {
		return hex.EncodeToString([]byte(v)), true
	}
	v = strings.ReplaceAll(v, "-", "")
	return v, len(v) == 32
}

// checkOneToOne verifies a 1-1 nodes mapping against the snapshot's
// manifests and the target topology: every source node mapped once to a
// distinct target node of the same DC and rack names with the same
// tokens. It returns source node ID -> target IP.
func checkOneToOne(nm []NodeMapping, ms []srcManifest, topo *topology.Cluster) (map[string]string, error) {
	bad := func(i int, want, got string) error {
		return store.Invalid(fmt.Sprintf("nodes_mapping[%d]", i), want, got)
	}
	src := map[string]*srcManifest{}
	for i := range ms {
		src[ms[i].m.NodeID] = &ms[i]
	}
	out := map[string]string{}
	used := map[string]bool{}
	for i, m := range nm {
		sm, ok := src[m.Source.HostID]
		if !ok {
			return nil, bad(i, "a source host_id of the snapshot ("+strings.Join(sortedKeys(src), ", ")+")", m.Source.HostID)
		}
		if sm.m.DC != m.Source.DC || sm.m.Rack != m.Source.Rack {
			return nil, bad(i, "the source node's dc:rack "+sm.m.DC+":"+sm.m.Rack, m.Source.DC+":"+m.Source.Rack)
		}
		var tn *topology.Node
		for _, n := range topo.Nodes() {
			if n.HostID == m.Target.HostID {
				tn = &n
				break
			}
		}
		if tn == nil {
			return nil, bad(i, "a target host_id of the cluster", m.Target.HostID)
		}
		if tn.DC != m.Target.DC || tn.Rack != m.Target.Rack || tn.DC != sm.m.DC || tn.Rack != sm.m.Rack {
			return nil, bad(i, "a target node in the source node's dc:rack "+sm.m.DC+":"+sm.m.Rack+" (identical topology)", tn.DC+":"+tn.Rack)
		}
		st, tt := slices.Clone(sm.m.Tokens), slices.Clone(tn.Tokens)
		slices.Sort(st)
		slices.Sort(tt)
		if !slices.Equal(st, tt) {
			return nil, bad(i, "a target node with the source node's tokens (identical topology)", m.Target.HostID)
		}
		if used[tn.IP] || out[m.Source.HostID] != "" {
			return nil, bad(i, "each source and target node mapped once", m.Source.HostID+"="+m.Target.HostID)
		}
		used[tn.IP] = true
		out[m.Source.HostID] = tn.IP
	}
	if len(out) != len(ms) || len(out) != len(topo.Nodes()) {
		return nil, store.Invalid("nodes_mapping", fmt.Sprintf("every one of the snapshot's %d nodes mapped to one of the cluster's %d nodes", len(ms), len(topo.Nodes())), fmt.Sprintf("%d mappings", len(out)))
	}
	return out, nil
}
