package healthcheck

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scyllaops/scyllaops/store"
)

// Defaults of Options.
const (
	// DefaultTimeout is the deadline of one node's ping (Scylla Manager's
	// healthcheck.max_timeout).
	DefaultTimeout = time.Second
	// DefaultNodeInfoTTL is how long a node's node_info stays cached
	// (Scylla Manager's healthcheck.node_info_ttl).
	DefaultNodeInfoTTL = 5 * time.Minute
)

// DialFunc opens a connection to addr ("host:port") on network ("tcp").
// It must give up when ctx is done. net.Dialer.DialContext is one.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Options tune a Service. The zero value is valid: every field has a
// documented default.
type Options struct {
	// Timeout is the deadline of one ping of one node, node_info fetch
	// included. Default: DefaultTimeout (1s).
	Timeout time.Duration
	// NodeInfoTTL is how long the node_info of a node is reused before the
	// agent is asked again. Default: DefaultNodeInfoTTL (5m).
	NodeInfoTTL time.Duration
	// Parallel limits the number of pings in flight at once across all
	// nodes of one call. 0 means no limit: every node is pinged at once,
	// as Scylla Manager does. Default: 0.
	Parallel int
	// Dialer opens the TCP connections of the CQL and Alternator pings
	// (the REST ping goes through the agent client). Default: a
	// net.Dialer. Tests inject in-process connections here.
	Dialer DialFunc
	// Logger receives the service's logs. nil = discard.
	Logger *slog.Logger
	// Registerer registers the scylla_manager_healthcheck_* gauges. nil =
	// the gauges exist but are not registered.
	Registerer prometheus.Registerer
}

// Validate reports the first invalid field, naming it and the accepted
// form. The error matches store.ErrInvalid.
func (o Options) Validate() error {
	if o.Timeout < 0 {
		return store.Invalid("healthcheck.timeout", "a duration >= 0 (0 = 1s), e.g. 1s", o.Timeout.String())
	}
	if o.NodeInfoTTL < 0 {
		return store.Invalid("healthcheck.node_info_ttl", "a duration >= 0 (0 = 5m), e.g. 5m", o.NodeInfoTTL.String())
	}
	if o.Parallel < 0 {
		return store.Invalid("healthcheck.parallel", "a number >= 0 (0 = no limit), e.g. 100", fmt.Sprint(o.Parallel))
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.NodeInfoTTL == 0 {
		o.NodeInfoTTL = DefaultNodeInfoTTL
	}
	if o.Dialer == nil {
		d := &net.Dialer{}
		o.Dialer = d.DialContext
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
