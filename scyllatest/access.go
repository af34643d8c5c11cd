package scyllatest

import (
	"context"
	"net"
	"net/http"
)

// ManagerAccess is everything a Manager (or any client) needs to reach a
// simulated cluster: pass Transport as the agent transport and CQLDial as
// the CQL dialer (scyllaops.New(st, a.Transport, scyllaops.Options{CQLDial:
// a.CQLDial, …})), and add the cluster with Host and AuthToken.
type ManagerAccess struct {
	// Transport reaches every node's agent by the node's IP (see
	// Cluster.Transport).
	Transport http.RoundTripper
	// CQLDial connects to a node's CQL endpoint by "ip:port" (see
	// Cluster.CQLDialer).
	CQLDial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Host is a node that is up (Cluster.ContactHost), the cluster's
	// contact point.
	Host string
	// AuthToken is the agents' bearer token.
	AuthToken string
}

// ManagerAccess returns the transport, CQL dialer, contact host and token
// a Manager needs to manage the simulated cluster without real sockets
// (or, in Listen mode, over its loopback listeners). Nodes have loopback
// addresses, so a Manager built without them reaches nothing off the
// machine.
func (c *Cluster) ManagerAccess() ManagerAccess {
	return ManagerAccess{Transport: c.Transport(), CQLDial: c.CQLDialer().DialContext, Host: c.ContactHost(), AuthToken: c.AuthToken()}
}
