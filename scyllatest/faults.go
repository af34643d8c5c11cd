package scyllatest

import (
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"
)

// faultTransport applies stops, partitions and latency to manager→agent
// requests before handing them to the in-process agents.
type faultTransport struct {
	c    *Cluster
	base http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *faultTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Hostname()
	if n := t.c.nodeByIP(host); n != nil {
		if err := t.c.reachable(n); err != nil {
			if req.Body != nil {
				req.Body.Close()
			}
			return nil, err
		}
		t.c.mu.Lock()
		d := n.latency
		t.c.mu.Unlock()
		if d > 0 && !sleepCtx(req.Context().Done(), d) {
			if req.Body != nil {
				req.Body.Close()
			}
			return nil, req.Context().Err()
		}
	}
	return t.base.RoundTrip(req)
}

// reachable returns a connection-refused error if n is stopped or
// partitioned away from the manager.
func (c *Cluster) reachable(n *Node) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return ErrClosed
	}
	if !n.up || c.partitioned[n.IP] {
		return &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.ParseIP(n.IP)}, Err: syscall.ECONNREFUSED}
	}
	return nil
}

func (c *Cluster) isPartitioned(n *Node) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.partitioned[n.IP]
}

func (c *Cluster) clientTransport() http.RoundTripper {
	if c.opts.Listen {
		return c.listenTransport()
	}
	return c.transport
}

// Stop takes node down: its agent, CQL and Alternator endpoints refuse
// connections, gossip on the other nodes shows it down, and repairs
// involving it fail. Its files stay.
func (c *Cluster) Stop(node *Node) error {
	c.mu.Lock()
	node.up = false
	c.mu.Unlock()
	if c.opts.Listen {
		return c.unlistenNode(node)
	}
	return nil
}

// Start brings a stopped node back up.
func (c *Cluster) Start(node *Node) error {
	c.mu.Lock()
	was := node.up
	node.up = true
	c.mu.Unlock()
	if c.opts.Listen && !was {
		return c.listenNode(node)
	}
	return nil
}

// Partition cuts the given nodes off from the manager (their agent, CQL
// and Alternator endpoints refuse connections) and from the rest of the
// cluster: gossip on each side shows the other side down, and repairs
// across the cut fail. Nodes partitioned by earlier calls stay cut off
// and can see each other. Heal undoes it. In Listen mode only the
// gossip and repair effects apply.
func (c *Cluster) Partition(nodes ...*Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range nodes {
		c.partitioned[n.IP] = true
	}
}

// Heal ends every partition.
func (c *Cluster) Heal() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.partitioned = map[string]bool{}
}

// SetLatency delays every manager→agent request to node by d (0 = none).
// In-process transport only.
func (c *Cluster) SetLatency(node *Node, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	node.latency = d
}

// FailNext makes the next Scylla REST call to node whose method matches
// method ("" = any) and whose path starts with pathPrefix answer status
// with a Scylla error body. Rules queue up and each fires once. Note that
// Client() retries 5xx answers; use a 4xx status to see the failure.
func (c *Cluster) FailNext(node *Node, method, pathPrefix string, status int) error {
	if status < 400 || status > 599 {
		return fmt.Errorf("scyllatest: invalid FailNext status %d: want 400..599", status)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	node.failRules = append(node.failRules, failRule{method: method, prefix: pathPrefix, status: status})
	return nil
}

// SlowDisk limits node's simulated disk to bytesPerSec for loading
// sstables (storage_service/sstables); 0 removes the limit.
func (c *Cluster) SlowDisk(node *Node, bytesPerSec int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	node.slowDisk = bytesPerSec
}
