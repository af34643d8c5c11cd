package healthcheck

import (
	"context"
	"crypto/tls"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/internal/agentapi"
)

// Mode selects one of the three pings.
type Mode string

// The modes, as in the properties of Scylla Manager's healthcheck tasks.
const (
	ModeCQL        Mode = "cql"
	ModeREST       Mode = "rest"
	ModeAlternator Mode = "alternator"
)

// AllModes returns every mode, in the order of Scylla Manager's default
// tasks.
func AllModes() []Mode { return []Mode{ModeCQL, ModeREST, ModeAlternator} }

// Status values of a ping, as Scylla Manager reports them. A REST ping
// answered with an HTTP error has the status StatusHTTP(code).
const (
	// StatusUp: the node answered.
	StatusUp = "UP"
	// StatusDown: the node refused, reset or answered wrongly.
	StatusDown = "DOWN"
	// StatusTimeout: no answer before the deadline.
	StatusTimeout = "TIMEOUT"
	// StatusUnauthorized: the credentials (CQL, or the agent's token) were
	// refused.
	StatusUnauthorized = "UNAUTHORIZED"
	// StatusError: a precondition failed; the ping could not be tried
	// (typically the agent could not give the node_info).
	StatusError = "ERROR"
)

// StatusHTTP is the status of a REST ping answered with HTTP code.
func StatusHTTP(code int) string { return "HTTP " + strconv.Itoa(code) }

// Metric values of the *_status gauges.
const (
	// MetricUp: the ping succeeded.
	MetricUp = 1
	// MetricScyllaDown: Scylla did not answer (or refused) the ping.
	MetricScyllaDown = -1
	// MetricAgentDown: the agent could not be used (unreachable, refused
	// the token, or could not give the node_info).
	MetricAgentDown = -2
)

// Result is the outcome of one ping of one node.
type Result struct {
	// Status is one of the Status* constants or StatusHTTP(code); empty
	// when the ping was not run (Alternator disabled on the node, or a
	// mode not asked for).
	Status string
	// RTT is the round-trip time of the ping, failed ones included. For
	// CQL without credentials it spans every attempt.
	RTT time.Duration
	// Err is the cause of a failure; nil when Status is StatusUp or empty.
	Err error
	// AgentDown is set when the failure is the agent's (MetricAgentDown).
	AgentDown bool
}

// MetricValue is the value of the *_status gauge for r: MetricUp,
// MetricScyllaDown or MetricAgentDown.
func (r Result) MetricValue() float64 {
	switch {
	case r.Status == StatusUp:
		return MetricUp
	case r.AgentDown:
		return MetricAgentDown
	default:
		return MetricScyllaDown
	}
}

// NodeStatus is the health of one node.
type NodeStatus struct {
	// Node is the node as the ClusterSource lists it.
	Node
	// CQL, REST and Alternator are the results of the pings asked for.
	CQL, REST, Alternator Result
	// SSL tells whether the CQL ping used TLS (from node_info).
	SSL bool
	// AlternatorEnabled tells whether the node serves Alternator.
	AlternatorEnabled bool
	// NodeInfo is the node's cached node_info; nil if the agent could not
	// give it. Do not modify it: it is shared with the cache.
	NodeInfo *agentapi.NodeInfo
}

// Node is one node of a cluster.
type Node struct {
	// Host is the node's address as the cluster knows it (the agent's
	// host, and the fallback when node_info lists a wildcard address).
	Host string
	// DC and Rack label the node's metrics.
	DC, Rack string
}

// Agent is what the service needs of the agent client
// (*agentclient.Client implements it).
type Agent interface {
	// NodeInfo returns GET /agent/node_info of host.
	NodeInfo(ctx context.Context, host string) (*agentapi.NodeInfo, error)
	// ScyllaReleaseVersion returns Scylla's release version read on host
	// through its agent, without retries: the REST ping.
	ScyllaReleaseVersion(ctx context.Context, host string) (string, error)
}

// Cluster is what the service needs to check one cluster.
type Cluster struct {
	// Agent reaches the nodes' agents.
	Agent Agent
	// Nodes to check, with their DC and rack.
	Nodes []Node
	// CQLUsername and CQLPassword, when set, make the CQL ping log in and
	// run a query instead of the OPTIONS handshake.
	CQLUsername, CQLPassword string
	// TLSIdentity is the client certificate presented to CQL and
	// Alternator over TLS; nil = none.
	TLSIdentity *tls.Certificate
	// ForceTLSDisabled pings CQL without TLS even where client encryption
	// is on.
	ForceTLSDisabled bool
	// ForceNonSSLSessionPort uses native_transport_port even where TLS is
	// used.
	ForceNonSSLSessionPort bool
}

// ClusterSource gives the service what it needs to check a cluster. The
// root package's Manager provides one.
type ClusterSource interface {
	// HealthcheckCluster returns the cluster's agent client, nodes,
	// credentials and TLS identity. An unknown cluster is an error
	// matching store.ErrNotFound.
	HealthcheckCluster(ctx context.Context, clusterID uuid.UUID) (Cluster, error)
}
