package scyllaops

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/topology"
)

// probeAgent makes one call (no retries) to the agent of host, so that
// failures retrying cannot cure end the check at once with their cause:
// a 401 or 403 (wrong token), a refused connection, an unknown host.
// Other failures (a timeout, a 5xx) return nil: the retrying check that
// follows decides. Each error it returns wraps store.ErrInvalid: the
// cluster's host, port or token is wrong.
func (m *Manager) probeAgent(ctx context.Context, clusterID uuid.UUID, host string, port int, token string) error {
	o := agentclient.Options{
		AuthToken: token, Port: port, RetryMax: -1, Timeout: m.opts.ConnectTimeout, Logger: m.opts.Logger,
	}
	if m.transport == nil {
		o.TLS = m.agentTLS(clusterID) // the cluster's pinned keys (agentkeys.go)
	}
	cl, err := agentclient.New(m.transport, o)
	if err != nil {
		return fmt.Errorf("scyllaops: agent client: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, m.opts.ConnectTimeout)
	defer cancel()
	_, err = topology.Hosts(ctx, cl, host)
	if err == nil {
		return nil
	}
	var dnsErr *net.DNSError
	switch code := agentclient.StatusCode(err); {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return fmt.Errorf("scyllaops: wrong auth token for the agent at %s (cluster.auth_token must be the agent's auth_token): %w: %w", host, store.ErrInvalid, err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("scyllaops: connection refused by %s on port %d: no agent listens there (check cluster.host and cluster.port): %w: %w", host, port, store.ErrInvalid, err)
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound, errors.Is(err, agentclient.ErrNoHandler):
		return fmt.Errorf("scyllaops: unknown host %s (check cluster.host): %w: %w", host, store.ErrInvalid, err)
	}
	return nil
}
