package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/internal/backupspec"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/topology"
)

// Host is a node taking part in a backup.
type Host struct {
	IP     string `json:"ip"`
	HostID string `json:"host_id"`
	DC     string `json:"dc"`
	Rack   string `json:"rack"`
}

// Unit is one keyspace of a backup and its selected tables.
type Unit struct {
	Keyspace  string   `json:"keyspace"`
	Tables    []string `json:"tables,omitempty"`
	AllTables bool     `json:"all_tables"`
}

// Target is the result of the dry run, shaped as Scylla Manager's
// BackupTarget.
type Target struct {
	ClusterID        uuid.UUID `json:"cluster_id"`
	DC               []string  `json:"dc"`
	WithHosts        []string  `json:"with_hosts"`
	Location         []string  `json:"location"`
	Retention        int       `json:"retention"`
	RetentionDays    int       `json:"retention_days"`
	RateLimit        []string  `json:"rate_limit,omitempty"`
	SnapshotParallel []string  `json:"snapshot_parallel,omitempty"`
	UploadParallel   []string  `json:"upload_parallel,omitempty"`
	Units            []Unit    `json:"units"`
	Size             int64     `json:"size"`
	Transfers        int       `json:"transfers"`
	PurgeOnly        bool      `json:"purge_only"`
	SkipSchema       bool      `json:"skip_schema"`
	Method           string    `json:"method,omitempty"`
	// Warnings name what this backup does not wholly cover: keyspaces
	// with token ranges that have no replica among the backed-up nodes
	// (a --dc backup of a SimpleStrategy keyspace spanning DCs).
	Warnings []string `json:"warnings,omitempty"`
}

// plan is everything a run needs, computed once at INIT and persisted in
// the run row so a resumed run uses the same hosts and units.
type plan struct {
	ClusterName      string                     `json:"cluster_name"`
	Hosts            []Host                     `json:"hosts"`
	Units            []Unit                     `json:"units"`
	Locations        []backupspec.Location      `json:"locations"`
	RateLimit        []backupspec.DCLimit       `json:"rate_limit"`
	SnapshotParallel []backupspec.DCLimit       `json:"snapshot_parallel"`
	UploadParallel   []backupspec.DCLimit       `json:"upload_parallel"`
	Transfers        int                        `json:"transfers"`
	Policy           backupspec.RetentionPolicy `json:"policy"`
	SkipSchema       bool                       `json:"skip_schema"`
	PurgeOnly        bool                       `json:"purge_only"`
	Size             int64                      `json:"size"`
	Warnings         []string                   `json:"warnings,omitempty"`
}

func (p *plan) dcs() []string {
	var out []string
	for _, h := range p.Hosts {
		if !slices.Contains(out, h.DC) {
			out = append(out, h.DC)
		}
	}
	sort.Strings(out)
	return out
}

func (p *plan) location(dc string) backupspec.Location {
	l, _ := backupspec.LocationFor(p.Locations, dc)
	return l
}

// GetTarget is the dry run of a backup: it validates the properties,
// discovers the hosts and tables, and checks that every node can write to
// its location. Nothing is snapshotted or uploaded.
func (s *Service) GetTarget(ctx context.Context, clusterID uuid.UUID, properties json.RawMessage) (*Target, error) {
	p, err := ParseProperties(properties)
	if err != nil {
		return nil, err
	}
	c, contact, err := s.client(ctx, clusterID)
	if err != nil {
		return nil, err
	}
	pl, err := s.makePlan(ctx, clusterID, c, contact, p, true)
	if err != nil {
		return nil, err
	}
	if err := s.checkLocations(ctx, c, pl); err != nil {
		return nil, err
	}
	return pl.target(clusterID, p), nil
}

func (p *plan) target(clusterID uuid.UUID, props Properties) *Target {
	t := &Target{ClusterID: clusterID, DC: p.dcs(), Units: p.Units, Size: p.Size, Transfers: p.Transfers,
		Retention: p.Policy.Retention, RetentionDays: p.Policy.RetentionDays, PurgeOnly: p.PurgeOnly,
		SkipSchema: p.SkipSchema, Method: MethodRclone, RateLimit: props.RateLimit, SnapshotParallel: props.SnapshotParallel,
		UploadParallel: props.UploadParallel, Warnings: p.Warnings}
	for _, h := range p.Hosts {
		t.WithHosts = append(t.WithHosts, h.IP)
	}
	for _, l := range p.Locations {
		t.Location = append(t.Location, l.String())
	}
	if t.RateLimit == nil {
		t.RateLimit = []string{fmt.Sprint(DefaultRateLimit)}
	}
	return t
}

// makePlan discovers hosts and tables and applies the filters. It never
// changes anything on the cluster.
func (s *Service) makePlan(ctx context.Context, clusterID uuid.UUID, c *agentclient.Client, contact string, p Properties, withSize bool) (*plan, error) {
	pl := &plan{Policy: p.Policy(), SkipSchema: p.SkipSchema, PurgeOnly: p.PurgeOnly, Transfers: p.TransfersValue()}
	var err error
	if pl.Locations, err = p.Locations(); err != nil {
		return nil, err
	}
	if pl.RateLimit, err = parseLimits("rate_limit", p.RateLimit); err != nil {
		return nil, err
	}
	if pl.SnapshotParallel, err = parseLimits("snapshot_parallel", p.SnapshotParallel); err != nil {
		return nil, err
	}
	if pl.UploadParallel, err = parseLimits("upload_parallel", p.UploadParallel); err != nil {
		return nil, err
	}
	if pl.ClusterName, err = c.ClusterName(ctx, contact); err != nil {
		return nil, fmt.Errorf("backup: discover cluster: %w", err)
	}
	if pl.Hosts, err = s.discoverHosts(ctx, c, contact, p.DC); err != nil {
		return nil, err
	}
	for _, dc := range pl.dcs() {
		if _, ok := backupspec.LocationFor(pl.Locations, dc); !ok {
			return nil, store.Invalid("location", "a location for every backed-up DC, e.g. \""+dc+":s3:bucket\" or one without DC", strings.Join(p.Location, ","))
		}
	}
	if pl.Units, err = s.units(ctx, clusterID, c, contact, p); err != nil {
		return nil, err
	}
	if pl.Warnings, err = s.checkRing(ctx, c, contact, pl, p.DC); err != nil {
		return nil, err
	}
	if withSize {
		if pl.Size, err = s.size(ctx, c, pl); err != nil {
			return nil, err
		}
	}
	return pl, nil
}

// discoverHosts returns the nodes of the DCs matching dcPatterns (the
// cluster's view from contact, package topology); a node down is an
// error naming it.
func (s *Service) discoverHosts(ctx context.Context, c *agentclient.Client, contact string, dcPatterns []string) ([]Host, error) {
	hosts, down, err := s.nodes(ctx, c, contact, dcPatterns)
	if err != nil {
		return nil, err
	}
	if len(down) > 0 {
		return nil, fmt.Errorf("backup: nodes down: %s", strings.Join(down, ", "))
	}
	return hosts, nil
}

// nodes returns the live nodes of the DCs matching dcPatterns and the
// down ones ("ip (dc)"), as contact sees them.
func (s *Service) nodes(ctx context.Context, c *agentclient.Client, contact string, dcPatterns []string) (hosts []Host, down []string, err error) {
	ns, err := topology.ListNodes(ctx, c, contact, topology.ListOptions{Gossip: true})
	if err != nil {
		return nil, nil, fmt.Errorf("backup: discover hosts: %w", err)
	}
	allDCs := map[string]bool{}
	for _, n := range ns {
		if n.DC == "" {
			return nil, nil, fmt.Errorf("backup: discover hosts: the DC of node %s could not be read from %s", n.IP, contact)
		}
		allDCs[n.DC] = true
		if !dcMatch(dcPatterns, n.DC) {
			continue
		}
		if n.Status != topology.StatusUp {
			down = append(down, n.IP+" ("+n.DC+")")
			continue
		}
		hosts = append(hosts, Host{IP: n.IP, HostID: n.HostID, DC: n.DC, Rack: n.Rack})
	}
	if len(hosts) == 0 && len(down) == 0 {
		return nil, nil, store.Invalid("dc", "patterns matching at least one DC of "+strings.Join(sortedMapKeys(allDCs), ", "), strings.Join(dcPatterns, ","))
	}
	return hosts, down, nil
}

func unitRank(ks string) int {
	switch {
	case ks == "system_schema":
		return 2
	case strings.HasPrefix(ks, "system"):
		return 0
	}
	return 1
}

func (s *Service) units(ctx context.Context, clusterID uuid.UUID, c *agentclient.Client, contact string, p Properties) ([]Unit, error) {
	f, err := newTableFilter(p.Keyspace)
	if err != nil {
		return nil, err
	}
	views, err := s.views(ctx, clusterID)
	if err != nil {
		return nil, err
	}
	nonLocal, err := c.Keyspaces(ctx, contact, "non_local_strategy", "")
	if err != nil {
		return nil, fmt.Errorf("backup: list keyspaces: %w", err)
	}
	names, err := c.TableNames(ctx, contact)
	if err != nil {
		return nil, fmt.Errorf("backup: list tables: %w", err)
	}
	all := map[string][]string{}
	for _, n := range names {
		all[n.Keyspace] = append(all[n.Keyspace], n.Table)
	}
	if err := f.checkLiteral(all); err != nil {
		return nil, err
	}
	var units []Unit
	for _, ks := range sortedMapKeys(all) {
		schema := ks == "system_schema"
		if schema && p.SkipSchema || !schema && !slices.Contains(nonLocal, ks) {
			continue
		}
		tables := slices.Clone(all[ks])
		sort.Strings(tables)
		var sel []string
		allSel := true
		for _, t := range tables {
			if skipTable(ks, t) || views[ks+"."+t] || (!schema && !f.match(ks, t)) {
				allSel = false
				continue
			}
			sel = append(sel, t)
		}
		if len(sel) == 0 {
			continue
		}
		u := Unit{Keyspace: ks, Tables: sel, AllTables: allSel}
		units = append(units, u)
	}
	sort.SliceStable(units, func(i, j int) bool {
		ri, rj := unitRank(units[i].Keyspace), unitRank(units[j].Keyspace)
		if ri != rj {
			return ri < rj
		}
		return units[i].Keyspace < units[j].Keyspace
	})
	hasData := false
	for _, u := range units {
		hasData = hasData || u.Keyspace != "system_schema"
	}
	if !hasData {
		return nil, store.Invalid("keyspace", "patterns matching at least one table ("+keyspaceForm+")", strings.Join(p.Keyspace, ","))
	}
	return units, nil
}

// checkRing verifies that every token range of every backed-up keyspace
// has a replica among the backed-up hosts. When a DC filter left nodes out,
// a keyspace whose replicas are not all in the chosen DCs (SimpleStrategy
// spanning DCs, or NetworkTopologyStrategy with replicas only elsewhere) is
// backed up as far as the chosen DCs hold it, as Scylla Manager does, and
// named in the returned warnings; without a filter an uncovered range is an
// error (it would mean a node is missing from the plan).
func (s *Service) checkRing(ctx context.Context, c *agentclient.Client, contact string, pl *plan, dcPatterns []string) ([]string, error) {
	in := map[string]bool{}
	for _, h := range pl.Hosts {
		in[h.IP] = true
	}
	filtered := len(dcPatterns) > 0 && !slices.Equal(dcPatterns, []string{"*"})
	var warnings []string
	for _, u := range pl.Units {
		if u.Keyspace == "system_schema" {
			continue
		}
		ring, err := topology.Ring(ctx, c, contact, u.Keyspace)
		if err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
		uncovered := 0
		var first topology.TokenRange
		for _, r := range ring.Ranges {
			if !slices.ContainsFunc(r.Replicas, func(e string) bool { return in[e] }) {
				if uncovered == 0 {
					first = r
				}
				uncovered++
			}
		}
		switch {
		case uncovered == 0:
		case filtered:
			warnings = append(warnings, fmt.Sprintf("keyspace %s is not wholly covered by DC %s: %d of %d token ranges have no replica there (its replicas are in DCs %s); back it up from all its DCs for a complete copy",
				u.Keyspace, strings.Join(pl.dcs(), ", "), uncovered, len(ring.Ranges), strings.Join(sortedMapKeys(ring.Replication.DCReplicas), ", ")))
		default:
			return nil, fmt.Errorf("backup: keyspace %s: token range (%d, %d] has no replica among the backed-up nodes (replicas %v)",
				u.Keyspace, first.Start, first.End, first.Replicas)
		}
	}
	return warnings, nil
}

func (s *Service) size(ctx context.Context, c *agentclient.Client, pl *plan) (int64, error) {
	var mu sync.Mutex
	var total int64
	g, gctx := errgroup.WithContext(ctx)
	for _, h := range pl.Hosts {
		g.Go(func() error {
			for _, u := range pl.Units {
				for _, t := range u.Tables {
					n, err := c.TableDiskSize(gctx, h.IP, u.Keyspace, t)
					if err != nil {
						return fmt.Errorf("backup: size of %s.%s on %s: %w", u.Keyspace, t, h.IP, err)
					}
					mu.Lock()
					total += n
					mu.Unlock()
				}
			}
			return nil
		})
	}
	err := g.Wait()
	return total, err
}

// checkLocations checks from every host that it can write, list, read
// and delete in its DC's location.
func (s *Service) checkLocations(ctx context.Context, c *agentclient.Client, pl *plan) error {
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, h := range pl.Hosts {
		wg.Go(func() {
			l := pl.location(h.DC)
			if err := c.CheckPermissions(ctx, h.IP, l.RemoteName(), ""); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("backup: location %s is not usable from node %s: %w", l, h.IP, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// views returns the materialized views and secondary-index tables of the
// cluster ("ks.name"), from its CQL schema: they are rebuilt from their
// base tables, never backed up. Without a schema source (no CQL access)
// none are known, as in Scylla Manager without CQL credentials.
func (s *Service) views(ctx context.Context, clusterID uuid.UUID) (map[string]bool, error) {
	out := map[string]bool{}
	if s.opts.Schema == nil {
		return out, nil
	}
	rows, err := s.opts.Schema.DescribeSchema(ctx, clusterID)
	if err != nil {
		return nil, fmt.Errorf("backup: list views: %w", err)
	}
	for _, r := range rows {
		switch r.Type {
		case "view", "materialized_view":
			out[r.Keyspace+"."+r.Name] = true
		case "index":
			// A secondary index is kept in the table <index>_index.
			out[r.Keyspace+"."+r.Name+"_index"] = true
		}
	}
	return out, nil
}
