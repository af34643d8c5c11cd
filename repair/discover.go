package repair

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/topology"
)

// discoverParallelism bounds the per-node calls of Discover.
const discoverParallelism = 8

// Discover builds the planner's View of the cluster that contact belongs
// to: nodes from topology.Discover, each node's memory (Prometheus
// scylla_memory_total_memory), the non-local keyspaces with their ring
// (describe_ring) and tables with their size summed over the up nodes.
// The replication of a keyspace is read off its ring (replicas per DC).
//
// This adapter stands in until the topology package carries the ring per
// keyspace; then it becomes a conversion of that view.
func Discover(ctx context.Context, client *agentclient.Client, contact string) (*View, error) {
	topo, err := topology.Discover(ctx, client, contact)
	if err != nil {
		return nil, fmt.Errorf("repair: %w", err)
	}
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
	if !slices.Contains(up, contact) {
		contact = up[0]
	}
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
	for i, ks := range kss {
		k := &v.Keyspaces[i]
		k.Name = ks
		for _, tn := range names {
			if tn.Keyspace == ks {
				k.Tables = append(k.Tables, Table{Name: tn.Table})
			}
		}
		g.Go(func() error {
			rs, err := client.DescribeRing(gctx, contact, ks, "")
			if err != nil {
				return fmt.Errorf("repair: describe_ring %s: %w", ks, err)
			}
			for _, r := range rs {
				s, err1 := strconv.ParseInt(r.StartToken, 10, 64)
				e, err2 := strconv.ParseInt(r.EndToken, 10, 64)
				if err1 != nil || err2 != nil {
					return fmt.Errorf("repair: describe_ring %s: bad range %s:%s", ks, r.StartToken, r.EndToken)
				}
				k.Ranges = append(k.Ranges, TokenRange{Start: s, End: e, Replicas: slices.Clone(r.Endpoints)})
			}
			k.Strategy, k.DCRF = NetworkTopologyStrategy, map[string]int{}
			if len(k.Ranges) > 0 {
				for _, h := range k.Ranges[0].Replicas {
					k.DCRF[dcOf[h]]++
				}
			}
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
