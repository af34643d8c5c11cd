package healthcheck

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/internal/agentapi"
	"github.com/scyllaops/scyllaops/store"
)

// Service pings the nodes of clusters. Create it with New.
type Service struct {
	src     ClusterSource
	opts    Options
	log     *slog.Logger
	cache   *nodeInfoCache
	metrics *metrics
	// kept holds the CQL connections of the OPTIONS pings between rounds.
	kept *cqlKeeper
	// alt are the Alternator pings' transports, one per cluster.
	alt altTransports
}

// New returns a Service that learns about clusters from src. It registers
// the scylla_manager_healthcheck_* gauges on opts.Registerer (an error if
// they are registered there already).
func New(src ClusterSource, opts Options) (*Service, error) {
	if src == nil {
		return nil, fmt.Errorf("healthcheck: %w", store.Invalid("cluster source", "a non-nil healthcheck.ClusterSource, e.g. the Manager's", ""))
	}
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("healthcheck: %w", err)
	}
	opts = opts.withDefaults()
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	return &Service{
		src:     src,
		opts:    opts,
		log:     opts.Logger.With("component", "healthcheck"),
		cache:   newNodeInfoCache(opts.NodeInfoTTL),
		metrics: m,
		kept:    newCQLKeeper(),
	}, nil
}

// Check runs the ping of mode on every node of the cluster and returns one
// NodeStatus per node, in the ClusterSource's order, with only that mode's
// Result set. It does not touch the metrics (Run does).
func (s *Service) Check(ctx context.Context, clusterID uuid.UUID, mode Mode) ([]NodeStatus, error) {
	return s.check(ctx, clusterID, mode, false)
}

// check is Check; round spreads the pings as a scheduled round does.
func (s *Service) check(ctx context.Context, clusterID uuid.UUID, mode Mode, round bool) ([]NodeStatus, error) {
	if err := checkMode(mode); err != nil {
		return nil, err
	}
	c, err := s.cluster(ctx, clusterID)
	if err != nil {
		return nil, err
	}
	if round {
		return s.ping(ctx, clusterID, &c, c.Nodes, []Mode{mode}, s.roundPlan(len(c.Nodes)))
	}
	return s.ping(ctx, clusterID, &c, c.Nodes, []Mode{mode}, plan{parallel: s.opts.Parallel})
}

// Status runs the three pings at once on the nodes of the cluster whose
// Host is in hosts (nil: every node), and returns one NodeStatus per node
// of the ClusterSource in its order. Nodes not pinged keep empty Results
// but carry their cached NodeInfo when there is one.
func (s *Service) Status(ctx context.Context, clusterID uuid.UUID, hosts []string) ([]NodeStatus, error) {
	c, err := s.cluster(ctx, clusterID)
	if err != nil {
		return nil, err
	}
	nodes := c.Nodes
	if hosts != nil {
		want := make(map[string]bool, len(hosts))
		for _, h := range hosts {
			want[h] = true
		}
		nodes = nil
		for _, n := range c.Nodes {
			if want[n.Host] {
				nodes = append(nodes, n)
			}
		}
	}
	pinged, err := s.ping(ctx, clusterID, &c, nodes, AllModes(), plan{parallel: s.opts.Parallel})
	if err != nil {
		return nil, err
	}
	byHost := make(map[string]NodeStatus, len(pinged))
	for _, ns := range pinged {
		byHost[ns.Host] = ns
	}
	out := make([]NodeStatus, len(c.Nodes))
	for i, n := range c.Nodes {
		if ns, ok := byHost[n.Host]; ok {
			out[i] = ns
			continue
		}
		out[i] = NodeStatus{Node: n}
		s.fillNodeInfo(clusterID, &c, &out[i])
	}
	return out, nil
}

// PingCluster runs the pings of modes on every node of c, a cluster the
// caller describes itself (clusterID keys the node_info cache), and
// returns one NodeStatus per node of c.Nodes, in that order. It does not
// touch the metrics.
func (s *Service) PingCluster(ctx context.Context, clusterID uuid.UUID, c Cluster, modes ...Mode) ([]NodeStatus, error) {
	if c.Agent == nil {
		return nil, fmt.Errorf("healthcheck: %w", store.Invalid("cluster.agent", "a non-nil healthcheck.Agent, e.g. an *agentclient.Client", ""))
	}
	for _, mode := range modes {
		if err := checkMode(mode); err != nil {
			return nil, err
		}
	}
	return s.ping(ctx, clusterID, &c, c.Nodes, modes, plan{parallel: s.opts.Parallel})
}

// CachedNodeInfo returns the cached node_info of host in the cluster, or
// nil if there is none (never asked, failed or expired). Do not modify it.
func (s *Service) CachedNodeInfo(clusterID uuid.UUID, host string) *agentapi.NodeInfo {
	return s.cache.cached(clusterID, host)
}

// InvalidateNodeInfo forgets the cached node_info of every node of a
// cluster, and closes the CQL connections kept for its nodes (call it
// when the cluster's nodes, ports or TLS identity change).
func (s *Service) InvalidateNodeInfo(clusterID uuid.UUID) {
	s.cache.invalidate(clusterID)
	s.kept.forget(clusterID)
	s.alt.forget(clusterID)
}

// Close closes the connections kept between the pings (the CQL OPTIONS
// ping keeps one per node, as a driver's heartbeat does, and so does the
// Alternator ping). Pings after Close still work, on connections of
// their own.
func (s *Service) Close() {
	s.kept.close()
	s.alt.close()
}

func (s *Service) cluster(ctx context.Context, clusterID uuid.UUID) (Cluster, error) {
	if clusterID == uuid.Nil {
		return Cluster{}, fmt.Errorf("healthcheck: %w", store.Invalid("cluster_id", "a cluster UUID", ""))
	}
	c, err := s.src.HealthcheckCluster(ctx, clusterID)
	if err != nil {
		return Cluster{}, fmt.Errorf("healthcheck: cluster %s: %w", clusterID, err)
	}
	if c.Agent == nil {
		return Cluster{}, fmt.Errorf("healthcheck: cluster %s: the cluster source gave no agent client", clusterID)
	}
	return c, nil
}

func checkMode(mode Mode) error {
	switch mode {
	case ModeCQL, ModeREST, ModeAlternator:
		return nil
	}
	return fmt.Errorf("healthcheck: %w", store.Invalid("properties.mode", `one of "cql", "rest", "alternator"`, string(mode)))
}

// ping runs the pings of modes on nodes, every (node, mode) pair on its
// own goroutine with its own deadline, started as p says, and waits for
// all of them.
func (s *Service) ping(ctx context.Context, clusterID uuid.UUID, c *Cluster, nodes []Node, modes []Mode, p plan) ([]NodeStatus, error) {
	out := make([]NodeStatus, len(nodes))
	var g errgroup.Group
	if p.parallel > 0 {
		g.SetLimit(p.parallel)
	}
	start := time.Now()
	for i, n := range nodes {
		if p.window > 0 {
			// Wait for the node's moment outside the errgroup, so that
			// waiting holds no slot of the parallelism limit. The nodes
			// of one step's batch find their moment passed.
			if !sleepCtx(ctx, time.Until(p.due(start, i, len(nodes)))) {
				break
			}
		}
		out[i].Node = n
		for _, mode := range modes {
			// Each goroutine writes only its own Result of out[i].
			var r *Result
			switch mode {
			case ModeCQL:
				r = &out[i].CQL
			case ModeREST:
				r = &out[i].REST
			case ModeAlternator:
				r = &out[i].Alternator
			}
			g.Go(func() error {
				*r = s.pingOne(ctx, clusterID, c, n.Host, mode)
				return nil
			})
		}
	}
	_ = g.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("healthcheck: %w", context.Cause(ctx))
	}
	if !p.round {
		for i := range out {
			s.fillNodeInfo(clusterID, c, &out[i])
		}
	}
	return out, nil
}

// fillNodeInfo sets the NodeInfo-derived fields of ns from the cache.
func (s *Service) fillNodeInfo(clusterID uuid.UUID, c *Cluster, ns *NodeStatus) {
	ni := s.cache.cached(clusterID, ns.Host)
	if ni == nil {
		return
	}
	ep := nodeEndpoints(ni, ns.Host, c)
	ns.NodeInfo = ni
	ns.SSL = ep.cqlTLS
	ns.AlternatorEnabled = ep.alternatorURL != ""
}

// pingOne runs one ping of one node within Options.Timeout. The CQL and
// Alternator pings first need the node's node_info: from the cache, or
// fetched within Options.NodeInfoTimeout; the ping's own deadline starts
// after that.
func (s *Service) pingOne(ctx context.Context, clusterID uuid.UUID, c *Cluster, host string, mode Mode) Result {
	if mode == ModeREST {
		ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
		defer cancel()
		start := time.Now()
		_, err := c.Agent.ScyllaReleaseVersion(ctx, host)
		return restResult(ctx, err, time.Since(start))
	}

	ni, err := s.nodeInfo(ctx, clusterID, host, c.Agent)
	if err != nil {
		return nodeInfoResult(host, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	ep := nodeEndpoints(ni, host, c)
	start := time.Now()
	switch mode {
	case ModeCQL:
		if c.CQLUsername != "" {
			var tlsConf *tls.Config
			if ep.cqlTLS {
				tlsConf = clientTLS(c)
			}
			err = cqlQueryPing(ctx, s.opts.Dialer, ep.cqlAddr, tlsConf, c.CQLUsername, c.CQLPassword)
		} else {
			err = s.cqlKeptPing(ctx, cqlKey{cluster: clusterID, addr: ep.cqlAddr, tls: ep.cqlTLS}, c)
		}
	case ModeAlternator:
		if ep.alternatorURL == "" {
			return Result{}
		}
		err = alternatorPing(ctx, s.alt.get(clusterID, c, s.opts.Dialer), ep)
	}
	return pingResult(err, time.Since(start))
}

// clientTLS is the TLS configuration of CQL and Alternator pings. Like
// Scylla Manager, it does not verify the node's certificate (nodes
// commonly use self-signed ones); it presents the cluster's identity.
func clientTLS(c *Cluster) *tls.Config {
	conf := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // as Scylla Manager: node certificates are self-signed
	if c.TLSIdentity != nil {
		conf.Certificates = []tls.Certificate{*c.TLSIdentity}
	}
	return conf
}

// pingResult classifies the error of a CQL or Alternator ping.
func pingResult(err error, rtt time.Duration) Result {
	switch {
	case err == nil:
		return Result{Status: StatusUp, RTT: rtt}
	case errors.Is(err, errUnauthorized):
		return Result{Status: StatusUnauthorized, RTT: rtt, Err: err}
	case isTimeout(err):
		return Result{Status: StatusTimeout, RTT: rtt, Err: err}
	default:
		return Result{Status: StatusDown, RTT: rtt, Err: err}
	}
}

// restResult classifies the error of a REST ping.
func restResult(ctx context.Context, err error, rtt time.Duration) Result {
	if err == nil {
		return Result{Status: StatusUp, RTT: rtt}
	}
	r := Result{RTT: rtt, Err: err}
	switch code := agentclient.StatusCode(err); {
	case errors.Is(err, agentclient.ErrUnauthorized):
		r.Status, r.AgentDown = StatusUnauthorized, true
	case code != 0:
		r.Status = StatusHTTP(code)
	case isTimeout(err) || ctx.Err() != nil:
		r.Status = StatusTimeout
	case errors.Is(err, agentclient.ErrUnreachable):
		r.Status, r.AgentDown = StatusDown, true
	default:
		r.Status = StatusDown
	}
	return r
}
