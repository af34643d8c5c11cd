package cqlconn

import (
	"cmp"
	"context"
	"net"
	"time"

	"github.com/scyllaops/scyllaops/agentclient"
)

// NodeAddr returns the CQL address of host as its agent's node_info tells
// it (broadcast RPC, RPC or listen address, and native_transport_port),
// or host:9042 when node_info cannot be read or names no usable address.
func NodeAddr(ctx context.Context, cl *agentclient.Client, host string) string {
	ni, err := cl.NodeInfo(ctx, host)
	if err != nil {
		return net.JoinHostPort(host, "9042")
	}
	a := cmp.Or(ni.BroadcastRPCAddress, ni.RPCAddress, ni.ListenAddress)
	if ip := net.ParseIP(a); ip == nil || ip.IsUnspecified() {
		a = host
	}
	port := ni.NativeTransportPort
	if port == "" || port == "0" {
		port = "9042"
	}
	return net.JoinHostPort(a, port)
}

// QueryOn runs stmt on host's CQL address (NodeAddr) over a connection of
// its own, opened with dial within timeout, and returns the columns and
// rows.
func QueryOn(ctx context.Context, dial DialFunc, cl *agentclient.Client, host, user, password, stmt string, timeout time.Duration) ([]string, [][]string, error) {
	addr := NodeAddr(ctx, cl, host)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := Open(ctx, dial, addr, nil, user, password)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	return conn.Query(stmt)
}
