package scyllatest

import (
	"crypto/tls"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/agent"
)

// NodeState is a node's ring state as the storage service reports it.
type NodeState string

// Node ring states.
const (
	StateNormal  NodeState = "N"
	StateJoining NodeState = "J"
	StateLeaving NodeState = "L"
	StateMoving  NodeState = "M"
)

// Node is one simulated ScyllaDB node. Its exported fields are set at
// creation and never change.
type Node struct {
	// cert is the agent's TLS identity in Listen mode, kept across
	// restarts (guarded by the cluster's mu).
	cert *tls.Certificate
	// IP is the node's address: its identity on the ring and the host the
	// agent is reached at.
	IP string
	// HostID is the node's host ID.
	HostID uuid.UUID
	// DC and Rack place the node.
	DC, Rack string
	// DataDir is the node's Scylla data directory (data_file_directories).
	DataDir string
	// Tokens are the node's vnode tokens, sorted.
	Tokens []int64

	c     *Cluster
	rest  http.Handler
	prom  http.Handler
	agent *agent.Agent
	// agentHandler serves the agent, recording downloads.
	agentHandler http.Handler

	// Guarded by c.mu.
	rnd                *rand.Rand
	gen                int64
	writes             []int64
	up                 bool
	state              NodeState
	autocompaction     map[string]bool
	loading            map[string]bool
	failRules          []failRule
	latency            time.Duration
	slowDisk           int64
	diskFree           *int // SetDiskFree; nil = real figures
	repairs            map[int]*repairJob
	repairFault        RepairFault
	pendingCompactions int
	listen             *nodeListeners
}

// failRule makes the next matching Scylla REST call fail.
type failRule struct {
	method, prefix string
	status         int
}

// String returns the node's IP.
func (n *Node) String() string { return n.IP }

// Up reports whether the node is running (not stopped).
func (n *Node) Up() bool {
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	return n.up
}

// sees reports whether n considers other alive (gossip view). Guarded by
// c.mu.
func (n *Node) seesLocked(other *Node) bool {
	if !other.up {
		return false
	}
	return n.c.partitioned[n.IP] == n.c.partitioned[other.IP]
}
