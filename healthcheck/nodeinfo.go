package healthcheck

import (
	"context"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/internal/agentapi"
)

// Default ports used when node_info leaves one empty.
const (
	defaultCQLPort = "9042"
)

// endpoints are the node's addresses derived from its node_info.
type endpoints struct {
	// cqlAddr is host:port of the CQL ping.
	cqlAddr string
	// cqlTLS tells whether CQL is pinged over TLS.
	cqlTLS bool
	// alternatorURL is the base URL of Alternator; empty when disabled.
	alternatorURL string
	// alternatorEnforceAuth makes the ping a plain GET /.
	alternatorEnforceAuth bool
}

// isWildcard reports an address that says "every interface" (or nothing),
// for which the host the cluster knows is used instead.
func isWildcard(addr string) bool {
	if addr == "" {
		return true
	}
	ip := net.ParseIP(addr)
	return ip != nil && ip.IsUnspecified()
}

// setPort reports whether a node_info port is set (non-empty, not "0").
func setPort(p string) bool {
	if p == "" {
		return false
	}
	n, err := strconv.Atoi(p)
	return err != nil || n != 0
}

// nodeEndpoints derives the CQL and Alternator addresses of host from its
// node_info, as Scylla Manager does: the CQL address is the first of
// broadcast_rpc_address, rpc_address, listen_address that is set (a
// wildcard falls back to host); TLS is used when client encryption is on
// unless the cluster forces it off; the TLS port is
// native_transport_port_ssl unless the cluster forces the non-SSL port (or
// no SSL port is configured, in which case the native port serves TLS).
// Alternator is enabled when either of its ports is set; HTTPS is
// preferred.
func nodeEndpoints(ni *agentapi.NodeInfo, host string, c *Cluster) endpoints {
	var ep endpoints
	addr := host
	for _, a := range []string{ni.BroadcastRPCAddress, ni.RPCAddress, ni.ListenAddress} {
		if a != "" {
			if !isWildcard(a) {
				addr = a
			}
			break
		}
	}
	ep.cqlTLS = ni.ClientEncryptionEnabled && !c.ForceTLSDisabled
	port := ni.NativeTransportPort
	if ep.cqlTLS && !c.ForceNonSSLSessionPort && setPort(ni.NativeTransportPortSsl) {
		port = ni.NativeTransportPortSsl
	}
	if !setPort(port) {
		port = defaultCQLPort
	}
	ep.cqlAddr = net.JoinHostPort(addr, port)

	altAddr := host
	if !isWildcard(ni.AlternatorAddress) {
		altAddr = ni.AlternatorAddress
	}
	switch {
	case setPort(ni.AlternatorHTTPSPort):
		ep.alternatorURL = "https://" + net.JoinHostPort(altAddr, ni.AlternatorHTTPSPort)
	case setPort(ni.AlternatorPort):
		ep.alternatorURL = "http://" + net.JoinHostPort(altAddr, ni.AlternatorPort)
	}
	ep.alternatorEnforceAuth = ni.AlternatorEnforceAuthorization
	return ep
}

type cacheKey struct {
	cluster uuid.UUID
	host    string
}

type cacheEntry struct {
	ni      *agentapi.NodeInfo
	expires time.Time
	fetched time.Time
}

// current returns the entry's node_info as of now: a copy whose uptime
// counts the time since it was fetched (a cached value must not show the
// uptime of minutes ago).
func (e cacheEntry) current() *agentapi.NodeInfo {
	ni := *e.ni
	if ni.Uptime > 0 {
		ni.Uptime += int64(time.Since(e.fetched) / time.Second)
	}
	return &ni
}

// nodeInfoCache keeps node_info per (cluster, host) for a TTL. Values are
// shared read-only.
type nodeInfoCache struct {
	ttl time.Duration

	mu       sync.Mutex
	entries  map[cacheKey]cacheEntry
	inflight map[cacheKey]*fetch
	puts     int
}

// fetch is one node_info call that concurrent misses of a key share.
type fetch struct {
	done chan struct{}
	ni   *agentapi.NodeInfo
	err  error
}

func newNodeInfoCache(ttl time.Duration) *nodeInfoCache {
	return &nodeInfoCache{ttl: ttl, entries: make(map[cacheKey]cacheEntry), inflight: make(map[cacheKey]*fetch)}
}

// get returns the cached node_info of host, or asks agent for it.
// Concurrent misses of one key share one call (made with the first
// caller's ctx); a waiter whose ctx ends first returns ctx's error.
func (c *nodeInfoCache) get(ctx context.Context, clusterID uuid.UUID, host string, agent Agent) (*agentapi.NodeInfo, error) {
	k := cacheKey{clusterID, host}
	c.mu.Lock()
	if e, ok := c.entries[k]; ok && time.Now().Before(e.expires) {
		c.mu.Unlock()
		return e.current(), nil
	}
	if f, ok := c.inflight[k]; ok {
		c.mu.Unlock()
		select {
		case <-f.done:
			return f.ni, f.err
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
	f := &fetch{done: make(chan struct{})}
	c.inflight[k] = f
	c.mu.Unlock()

	f.ni, f.err = agent.NodeInfo(ctx, host)
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.inflight, k)
	close(f.done)
	if f.err != nil {
		return nil, f.err
	}
	ni := f.ni
	now := time.Now()
	c.entries[k] = cacheEntry{ni: ni, expires: now.Add(c.ttl), fetched: now}
	c.puts++
	if c.puts%1024 == 0 {
		// Sweep expired entries now and then so clusters and hosts that
		// are gone do not stay forever.
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			}
		}
	}
	return ni, nil
}

// cached returns the cached node_info of host without asking the agent.
func (c *nodeInfoCache) cached(clusterID uuid.UUID, host string) *agentapi.NodeInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[cacheKey{clusterID, host}]
	if !ok || !time.Now().Before(e.expires) {
		return nil
	}
	return e.current()
}

// peek is cached without the copy: the shared, read-only value, its
// Uptime as fetched (for the pings, which read only the addresses and
// ports).
func (c *nodeInfoCache) peek(clusterID uuid.UUID, host string) *agentapi.NodeInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[cacheKey{clusterID, host}]
	if !ok || !time.Now().Before(e.expires) {
		return nil
	}
	return e.ni
}

// invalidate drops every entry of a cluster.
func (c *nodeInfoCache) invalidate(clusterID uuid.UUID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.entries {
		if k.cluster == clusterID {
			delete(c.entries, k)
		}
	}
}
