package healthcheck

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/topology"
)

// Clusters is what the health check's call surface needs from the
// Manager: clusters by ID or name, their records and their secrets.
type Clusters interface {
	// ResolveCluster returns the ID of the cluster with the given ID or
	// name (store.ErrNotFound wrapped if there is none).
	ResolveCluster(ctx context.Context, idOrName string) (uuid.UUID, error)
	// StoredCluster returns the cluster's record (store.ErrNotFound
	// wrapped once it is deleted).
	StoredCluster(ctx context.Context, clusterID uuid.UUID) (*store.Cluster, error)
	// CQLCredentials returns the CQL username and password ("" when none
	// are set).
	CQLCredentials(ctx context.Context, clusterID uuid.UUID) (user, password string, err error)
	// TLSIdentity returns the client TLS identity (nil when none is set).
	TLSIdentity(ctx context.Context, clusterID uuid.UUID) (*tls.Certificate, error)
	// PingClient returns the agent client of the cluster's agents without
	// retries (a REST ping is one attempt, as Scylla Manager's): the
	// Manager's, which verifies each agent's key as every other call to
	// the cluster does, and keeps its connections from round to round.
	PingClient(ctx context.Context, clusterID uuid.UUID) (*agentclient.Client, error)
}

// APIOptions tune NewAPI.
type APIOptions struct {
	// Service tunes the health-check service; its Logger defaults to
	// Logger.
	Service Options
	// Logger logs. Required.
	Logger *slog.Logger
}

// ClusterStatusItem is the health of one node, as Scylla Manager's
// GET /cluster/{id}/status reports it (an item of swagger "ClusterStatus").
type ClusterStatusItem struct {
	// DC is the node's datacenter.
	DC string `json:"dc"`
	// HostID is the node's host ID.
	HostID string `json:"host_id"`
	// Host is the node's address.
	Host string `json:"host"`
	// Status is the gossip state U (up) or D (down) followed by the ring
	// state N (normal), L (leaving) or J (joining): "UN", "DN", "UJ"….
	Status string `json:"status"`
	// SSL tells whether CQL is reached over TLS.
	SSL bool `json:"ssl"`
	// AlternatorStatus, AlternatorRttMs and AlternatorCause are the
	// Alternator ping's; empty where Alternator is disabled.
	AlternatorStatus string  `json:"alternator_status,omitempty"`
	AlternatorRttMs  float32 `json:"alternator_rtt_ms,omitempty"`
	AlternatorCause  string  `json:"alternator_cause,omitempty"`
	// CQLStatus is UP, DOWN, TIMEOUT, UNAUTHORIZED or ERROR; empty for a
	// node that was not pinged (only UN nodes are).
	CQLStatus string  `json:"cql_status"`
	CQLRttMs  float32 `json:"cql_rtt_ms"`
	CQLCause  string  `json:"cql_cause,omitempty"`
	// RESTStatus is UP, DOWN, TIMEOUT, UNAUTHORIZED or "HTTP <code>".
	RESTStatus string  `json:"rest_status"`
	RESTRttMs  float32 `json:"rest_rtt_ms"`
	RESTCause  string  `json:"rest_cause,omitempty"`
	// TotalRAM (bytes), Uptime (seconds), CPUCount, ScyllaVersion and
	// AgentVersion come from the node's cached node_info.
	TotalRAM      int64  `json:"total_ram"`
	Uptime        int64  `json:"uptime"`
	CPUCount      int64  `json:"cpu_count"`
	ScyllaVersion string `json:"scylla_version"`
	AgentVersion  string `json:"agent_version"`
}

// ClusterStatus returns the health of every node of the cluster with the
// given ID or name, sorted by DC and then by address. The node list, host
// IDs and gossip/ring states come from the first agent that answers; the
// three pings (CQL, REST, Alternator) run in parallel on every UN node,
// each within the health-check timeout. A failed ping is a status, not an
// error; ClusterStatus fails when the cluster is unknown (store.ErrNotFound)
// or no agent of the cluster answers. It shares one node_info cache with
// the scheduled checks.
func (h *API) ClusterStatus(ctx context.Context, idOrName string) ([]ClusterStatusItem, error) {
	id, err := h.clusters.ResolveCluster(ctx, idOrName)
	if err != nil {
		return nil, err
	}
	sc, err := h.clusters.StoredCluster(ctx, id)
	if err != nil {
		return nil, err
	}
	c, view, err := h.cluster(ctx, sc, true)
	if err != nil {
		return nil, err
	}
	if view.err != nil {
		return nil, fmt.Errorf("healthcheck: status of cluster %s: %w", sc.ID, view.err)
	}
	c.Nodes = nil
	for _, n := range view.nodes {
		if n.live && n.state == 'N' {
			c.Nodes = append(c.Nodes, Node{Host: n.host, DC: n.dc, Rack: n.rack})
		}
	}
	pinged, err := h.svc.PingCluster(ctx, sc.ID, c, AllModes()...)
	if err != nil {
		return nil, err
	}
	byHost := make(map[string]*NodeStatus, len(pinged))
	for i := range pinged {
		byHost[pinged[i].Host] = &pinged[i]
	}
	out := make([]ClusterStatusItem, 0, len(view.nodes))
	for _, n := range view.nodes {
		ns := ClusterStatusItem{DC: n.dc, HostID: n.hostID, Host: n.host, Status: "D" + string(n.state)}
		if n.live {
			ns.Status = "U" + string(n.state)
		}
		if p, ok := byHost[n.host]; ok {
			ns.SSL = p.SSL
			ns.CQLStatus, ns.CQLRttMs, ns.CQLCause = resultFields(p.CQL)
			ns.RESTStatus, ns.RESTRttMs, ns.RESTCause = resultFields(p.REST)
			ns.AlternatorStatus, ns.AlternatorRttMs, ns.AlternatorCause = resultFields(p.Alternator)
		}
		if ni := h.svc.CachedNodeInfo(sc.ID, n.host); ni != nil {
			ns.TotalRAM, ns.Uptime, ns.CPUCount = ni.MemoryTotal, ni.Uptime, ni.CPUCount
			ns.ScyllaVersion, ns.AgentVersion = ni.ScyllaVersion, ni.AgentVersion
		}
		out = append(out, ns)
	}
	slices.SortFunc(out, func(a, b ClusterStatusItem) int {
		if c := cmp.Compare(a.DC, b.DC); c != 0 {
			return c
		}
		return compareAddr(a.Host, b.Host)
	})
	return out, nil
}

func resultFields(r Result) (status string, rttMs float32, cause string) {
	if r.Status == "" {
		return "", 0, ""
	}
	if r.Err != nil {
		cause = r.Err.Error()
	}
	return r.Status, float32(r.RTT.Microseconds()) / 1000, cause
}

// compareAddr orders IP addresses numerically (IPv4 before IPv6), and
// anything else after them by string.
func compareAddr(a, b string) int {
	pa, ea := netip.ParseAddr(a)
	pb, eb := netip.ParseAddr(b)
	switch {
	case ea == nil && eb == nil:
		return pa.Compare(pb)
	case ea == nil:
		return -1
	case eb == nil:
		return 1
	}
	return cmp.Compare(a, b)
}

// API is the health check's call surface for the Manager and the REST
// API: the Service the scheduler runs for TaskType, with the Manager's
// clusters as its ClusterSource, and the on-demand ClusterStatus. It
// reaches the agents through the Manager's clients (Clusters.PingClient)
// and keeps per cluster the DC and rack of every node seen and the last
// agent that answered.
// scyllaops.Manager.Healthcheck returns the Manager's.
type API struct {
	clusters Clusters
	svc      *Service
	opts     APIOptions
	// contactTimeout bounds the discovery calls to one agent: the
	// health-check timeout.
	contactTimeout time.Duration
	// placesTimeout bounds the DC/rack calls of the nodes whose place is
	// not known yet: the node_info timeout.
	placesTimeout time.Duration

	mu   sync.Mutex
	topo map[uuid.UUID]*clusterTopo
}

// clusterTopo is what the API remembers of a cluster.
type clusterTopo struct {
	contact string
	places  *topology.Places
	// placesMu makes one run at a time ask the places of new nodes (the
	// three modes' runs start together), so the others find them known.
	placesMu sync.Mutex
}

// NewAPI returns the health check's call surface over clusters; its
// Service (API.Service) is the scheduler's Runner of TaskType.
func NewAPI(clusters Clusters, opts APIOptions) (*API, error) {
	if opts.Logger == nil {
		return nil, errors.New("healthcheck: APIOptions.Logger is required")
	}
	if opts.Service.Logger == nil {
		opts.Service.Logger = opts.Logger
	}
	h := &API{
		clusters: clusters, opts: opts, contactTimeout: cmp.Or(opts.Service.Timeout, DefaultTimeout),
		placesTimeout: cmp.Or(opts.Service.NodeInfoTimeout, DefaultNodeInfoTimeout),
		topo:          map[uuid.UUID]*clusterTopo{},
	}
	svc, err := New(h, opts.Service)
	if err != nil {
		return nil, err
	}
	h.svc = svc
	return h, nil
}

// Service returns the health-check service.
func (h *API) Service() *Service { return h.svc }

// Forget drops what the API keeps about a deleted cluster, its gauges
// included.
func (h *API) Forget(clusterID uuid.UUID) {
	h.mu.Lock()
	delete(h.topo, clusterID)
	h.mu.Unlock()
	h.svc.ForgetCluster(clusterID)
}

// HealthcheckCluster implements ClusterSource. When no agent of the
// cluster answers, the nodes are the cluster's known hosts, so the
// scheduled checks report them down rather than failing.
func (h *API) HealthcheckCluster(ctx context.Context, clusterID uuid.UUID) (Cluster, error) {
	sc, err := h.clusters.StoredCluster(ctx, clusterID)
	if errors.Is(err, store.ErrNotFound) {
		// A deleted cluster: drop its gauges and what is remembered of it.
		h.Forget(clusterID)
	}
	if err != nil {
		return Cluster{}, err
	}
	c, view, err := h.cluster(ctx, sc, false)
	if err != nil {
		return Cluster{}, err
	}
	for _, n := range view.nodes {
		c.Nodes = append(c.Nodes, Node{Host: n.host, DC: n.dc, Rack: n.rack})
	}
	return c, nil
}

// cluster returns the Cluster of sc (without Nodes) and its current nodes
// (with gossip and ring states when full).
func (h *API) cluster(ctx context.Context, sc *store.Cluster, full bool) (Cluster, topoView, error) {
	cl, err := h.clusters.PingClient(ctx, sc.ID)
	if err != nil {
		return Cluster{}, topoView{}, fmt.Errorf("healthcheck: agent client: %w", err)
	}
	user, pass, err := h.clusters.CQLCredentials(ctx, sc.ID)
	if err != nil {
		return Cluster{}, topoView{}, err
	}
	c := Cluster{
		Agent: cl, CQLUsername: user, CQLPassword: pass,
		ForceTLSDisabled: sc.ForceTLSDisabled, ForceNonSSLSessionPort: sc.ForceNonSSLSessionPort,
	}
	if c.TLSIdentity, err = h.clusters.TLSIdentity(ctx, sc.ID); err != nil {
		return Cluster{}, topoView{}, err
	}
	return c, h.discover(ctx, sc, cl, full), nil
}

// topoView is a cluster's nodes as one agent sees them.
type topoView struct {
	nodes []nodeView
	// err is set when no agent answered; nodes are then the known hosts.
	err error
}

type nodeView struct {
	host, dc, rack, hostID string
	live                   bool
	state                  byte // 'N', 'L' or 'J'
}

// Discovery limits.
const maxContacts = 3

// discover asks up to maxContacts agents (the one that answered last
// first, then the cluster's host and known hosts) for the nodes and their
// host IDs and, when full, gossip and ring states (topology.ListNodesAny:
// hedged, so a hung contact point costs a quarter of the contact
// timeout, not all of it). DC and rack are asked once per node of the
// agent that answered, and remembered: under a deadline of their own
// (placesTimeout), since the two calls per node of a new cluster would
// not fit in the contact timeout, and every call cut short there would
// cost its connection (and a TLS handshake at the next round).
func (h *API) discover(ctx context.Context, sc *store.Cluster, cl *agentclient.Client, full bool) topoView {
	h.mu.Lock()
	t := h.topo[sc.ID]
	if t == nil {
		t = &clusterTopo{places: topology.NewPlaces()}
		h.topo[sc.ID] = t
	}
	candidates := append([]string{t.contact, sc.Host}, sc.KnownHosts...)
	h.mu.Unlock()

	nodes, contact, err := topology.ListNodesAny(ctx, cl, candidates,
		topology.ListOptions{Gossip: full, Places: t.places, KnownPlacesOnly: true},
		topology.HedgeOptions{ContactTimeout: h.contactTimeout, MaxContacts: maxContacts})
	if err == nil {
		h.mu.Lock()
		t.contact = contact
		h.mu.Unlock()
		if slices.ContainsFunc(nodes, func(n topology.Node) bool { return n.DC == "" }) {
			t.placesMu.Lock()
			pctx, cancel := context.WithTimeout(ctx, h.placesTimeout)
			topology.FillPlaces(pctx, cl, contact, nodes, t.places)
			cancel()
			t.placesMu.Unlock()
		}
		v := topoView{nodes: make([]nodeView, 0, len(nodes))}
		for _, n := range nodes {
			v.nodes = append(v.nodes, nodeView{
				host: n.IP, dc: n.DC, rack: n.Rack, hostID: n.HostID,
				live: n.Status == topology.StatusUp, state: n.State[0],
			})
		}
		slices.SortFunc(v.nodes, func(a, b nodeView) int { return compareAddr(a.host, b.host) })
		return v
	}

	v := topoView{err: err}
	hosts := sc.KnownHosts
	if len(hosts) == 0 {
		hosts = []string{sc.Host}
	}
	for _, host := range hosts {
		dc, rack, _ := t.places.Get(host)
		v.nodes = append(v.nodes, nodeView{host: host, dc: dc, rack: rack, state: 'N'})
	}
	return v
}
