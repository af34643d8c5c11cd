package scyllatest

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"path/filepath"
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

// diskUsage is node n's simulated data disk (agent.Options.DiskUsage):
// Options.DiskSize, of which the data directory's files are used, or the
// free share SetDiskFree set.
func (c *Cluster) diskUsage(n *Node) (total, free, used int64, err error) {
	c.mu.Lock()
	pct := n.diskFree
	c.mu.Unlock()
	total = c.opts.DiskSize
	if pct != nil {
		// Rounded up, so that the percentage computed back from the
		// figures is exactly *pct.
		free = (total*int64(*pct) + 99) / 100
		return total, free, total - free, nil
	}
	err = filepath.WalkDir(n.DataDir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // deleted while walking (a snapshot cleared)
			}
			return err
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				used += fi.Size()
			}
		}
		return nil
	})
	if err != nil {
		return 0, 0, 0, fmt.Errorf("scyllatest: disk usage of %s: %w", n.IP, err)
	}
	return total, max(total-used, 0), used, nil
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

// SetDiskFree makes node's simulated data disk percent% free (Free =
// percent% of Options.DiskSize, rounded up to a byte; Used = the rest), as
// its agent reports it. A negative percent restores the figures from the
// node's data directory.
func (c *Cluster) SetDiskFree(node *Node, percent int) error {
	if percent > 100 {
		return fmt.Errorf("scyllatest: invalid SetDiskFree percent %d: want 0..100 (negative = real figures)", percent)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	node.diskFree = nil
	if percent >= 0 {
		node.diskFree = &percent
	}
	return nil
}

// SlowDisk limits node's simulated disk to bytesPerSec for loading
// sstables (storage_service/sstables); 0 removes the limit.
func (c *Cluster) SlowDisk(node *Node, bytesPerSec int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	node.slowDisk = bytesPerSec
}
