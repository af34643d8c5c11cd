package repair

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/topology"
)

// discoverParallelism bounds the per-node calls of ViewOf.
const discoverParallelism = 8

// Topologies is implemented by a ClusterResolver that keeps each
// cluster's topology view (the Manager's, through NewAPI): the repair
// plans on the fresh view it returns (discovered now, hedged over the
// cluster's known hosts, its changes recorded) instead of discovering the
// cluster from the resolver's contact host.
type Topologies interface {
	// Topology returns a view of the cluster discovered now.
	Topology(ctx context.Context, clusterID uuid.UUID) (*topology.Cluster, error)
}

// view returns the planner's View of the cluster: its topology from the
// resolver when it keeps one (Topologies), else discovered from contact.
func (s *Service) view(ctx context.Context, clusterID uuid.UUID, client *agentclient.Client, contact string) (*View, error) {
	var (
		topo *topology.Cluster
		err  error
	)
	if t, ok := s.cluster.(Topologies); ok {
		topo, err = t.Topology(ctx, clusterID)
	} else {
		topo, err = topology.Discover(ctx, client, contact)
	}
	if err != nil {
		return nil, fmt.Errorf("repair: %w", err)
	}
	return ViewOf(ctx, client, topo)
}

// Discover builds the planner's View of the cluster that contact belongs
// to: topology.Discover, then ViewOf.
func Discover(ctx context.Context, client *agentclient.Client, contact string) (*View, error) {
	topo, err := topology.Discover(ctx, client, contact)
	if err != nil {
		return nil, fmt.Errorf("repair: %w", err)
	}
	return ViewOf(ctx, client, topo)
}

// ViewOf builds the planner's View on a topology view: its nodes (DC,
// status, shards), each up node's memory (Prometheus
// scylla_memory_total_memory, the memory Scylla manages), the non-local
// keyspaces with their ring (topology.RingAny over the up nodes,
// converted by KeyspaceOf) and tables with their size summed over the up
// nodes. Only the sizes and memory are read here; the cluster's shape
// comes from package topology.
func ViewOf(ctx context.Context, client *agentclient.Client, topo *topology.Cluster) (*View, error) {
	v := &View{}
	var up []string
	for _, n := range topo.Nodes() {
		v.Nodes = append(v.Nodes, Node{IP: n.IP, DC: n.DC, Up: n.Status == topology.StatusUp, Shards: n.Shards})
		if n.Status == topology.StatusUp {
			up = append(up, n.IP)
		}
		if !slices.Contains(v.DCOrder, n.DC) {
			v.DCOrder = append(v.DCOrder, n.DC)
		}
	}
	if len(up) == 0 {
		return nil, fmt.Errorf("repair: no node of the cluster is up")
	}
	dcOf := map[string]string{}
	for _, n := range v.Nodes {
		dcOf[n.IP] = n.DC
	}
	contact := topo.ContactHost
	if !slices.Contains(up, contact) {
		contact = up[0]
	}
	contacts := topology.Contacts(append([]string{contact}, up...)...)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(discoverParallelism)
	for i := range v.Nodes {
		n := &v.Nodes[i]
		if !n.Up {
			continue
		}
		g.Go(func() error {
			m, err := client.Metrics(gctx, n.IP, "scylla_memory_total_memory")
			if err == nil {
				n.Memory = int64(sumSeries(m, "scylla_memory_total_memory"))
			}
			return nil
		})
	}
	kss, err := client.Keyspaces(ctx, contact, "non_local_strategy", "")
	if err != nil {
		return nil, fmt.Errorf("repair: keyspaces: %w", err)
	}
	names, err := client.TableNames(ctx, contact)
	if err != nil {
		return nil, fmt.Errorf("repair: tables: %w", err)
	}
	slices.Sort(kss)
	v.Keyspaces = make([]Keyspace, len(kss))
	var mu sync.Mutex
	// describe_ring may take minutes on a large cluster: a contact is
	// given the client's describe_ring time before another is asked.
	ho := topology.HedgeOptions{ContactTimeout: agentclient.DescribeRingTimeout}
	for i, ks := range kss {
		k := &v.Keyspaces[i]
		k.Name = ks
		for _, tn := range names {
			if tn.Keyspace == ks {
				k.Tables = append(k.Tables, Table{Name: tn.Table})
			}
		}
		g.Go(func() error {
			kr, err := topology.RingAny(gctx, client, contacts, ks, ho)
			if err != nil {
				return fmt.Errorf("repair: ring of %s: %w", ks, err)
			}
			r := KeyspaceOf(kr, dcOf)
			k.Strategy, k.DCRF, k.Ranges = r.Strategy, r.DCRF, r.Ranges
			return nil
		})
		for j := range k.Tables {
			tb := &k.Tables[j]
			for _, h := range up {
				g.Go(func() error {
					sz, err := client.TableDiskSize(gctx, h, ks, tb.Name)
					if err != nil {
						return fmt.Errorf("repair: size of %s.%s on %s: %w", ks, tb.Name, h, err)
					}
					mu.Lock()
					tb.Size += sz
					mu.Unlock()
					return nil
				})
			}
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return v, nil
}

// KeyspaceOf converts a keyspace's ring from package topology into the
// planner's Keyspace (without tables): its ranges with their replicas
// (the wrap-around range comes split at the token bounds) and its
// replication as NetworkTopologyStrategy factors per DC. The factors are
// topology's (replicas per DC read off the ring's endpoint details); when
// the ring has no endpoint details they are counted on the first range
// with dcOf (address → DC).
func KeyspaceOf(kr *topology.KeyspaceRing, dcOf map[string]string) Keyspace {
	k := Keyspace{Name: kr.Keyspace, Strategy: NetworkTopologyStrategy, DCRF: map[string]int{}}
	if kr.Replication.Strategy == topology.LocalStrategy {
		k.Strategy = LocalStrategy
	}
	k.Ranges = make([]TokenRange, 0, len(kr.Ranges))
	for _, r := range kr.Ranges {
		k.Ranges = append(k.Ranges, TokenRange{Start: r.Start, End: r.End, Replicas: slices.Clone(r.Replicas)})
	}
	maps.Copy(k.DCRF, kr.Replication.DCReplicas)
	if len(k.DCRF) == 0 && len(k.Ranges) > 0 {
		for _, h := range k.Ranges[0].Replicas {
			k.DCRF[dcOf[h]]++
		}
	}
	return k
}

// sumSeries sums the samples of metric family name in Prometheus text.
func sumSeries(text []byte, name string) float64 {
	var sum float64
	sc := bufio.NewScanner(bytes.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || strings.HasPrefix(line, "#") || (!strings.HasPrefix(rest, "{") && !strings.HasPrefix(rest, " ")) {
			continue
		}
		f := strings.Fields(rest[strings.LastIndex(rest, "}")+1:])
		if len(f) == 0 {
			continue
		}
		if x, err := strconv.ParseFloat(f[0], 64); err == nil {
			sum += x
		}
	}
	return sum
}

// ViewInfo is one materialized view (or secondary-index view) of a
// cluster: CQL's system_schema.views row.
type ViewInfo struct {
	Keyspace  string
	View      string
	BaseTable string
}

// ViewLister lists the views of a cluster (over CQL, so it needs the
// cluster's CQL credentials when auth is on). A ClusterResolver that also
// implements it lets the planner tell views from tables: Scylla's REST
// API lists both as column families.
type ViewLister interface {
	Views(ctx context.Context, clusterID uuid.UUID) ([]ViewInfo, error)
}

// ViewsQuery is the CQL statement a ViewLister runs; its rows are
// keyspace, view and base table.
const ViewsQuery = "SELECT keyspace_name, view_name, base_table_name FROM system_schema.views"

// MarkViews sets Table.BaseTable of every table of v that views names.
func MarkViews(v *View, views []ViewInfo) {
	base := map[[2]string]string{}
	for _, x := range views {
		base[[2]string{x.Keyspace, x.View}] = x.BaseTable
	}
	for i := range v.Keyspaces {
		k := &v.Keyspaces[i]
		for j := range k.Tables {
			if b, ok := base[[2]string{k.Name, k.Tables[j].Name}]; ok {
				k.Tables[j].BaseTable = b
			}
		}
	}
}
