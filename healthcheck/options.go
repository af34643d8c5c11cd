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
	// DefaultNodeInfoTimeout is the deadline of one node_info fetch.
	DefaultNodeInfoTimeout = 5 * time.Second
	// DefaultSpread is the longest window over which a scheduled round
	// (Run) spreads the pings of its nodes: a third of the one-minute
	// schedule of the default tasks.
	DefaultSpread = 20 * time.Second
	// SpreadPerNode is the share of the window each node adds: a round of
	// n nodes is spread over min(Spread, n × SpreadPerNode), so a small
	// cluster's round stays short.
	SpreadPerNode = 50 * time.Millisecond
	// DefaultSpreadStep is the grid on which the spread pings of the
	// scheduled rounds start (Options.SpreadStep).
	DefaultSpreadStep = time.Second
	// DefaultRoundParallel bounds the pings in flight of one scheduled
	// round (Run) when Options.Parallel is 0.
	DefaultRoundParallel = 32
)

// DialFunc opens a connection to addr ("host:port") on network ("tcp").
// It must give up when ctx is done. net.Dialer.DialContext is one.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Options tune a Service. The zero value is valid: every field has a
// documented default.
type Options struct {
	// Timeout is the deadline of one ping of one node. It starts once the
	// node's node_info is known (cached, or fetched within
	// NodeInfoTimeout), so a slow node_info fetch never eats into the
	// ping. Default: DefaultTimeout (1s).
	Timeout time.Duration
	// NodeInfoTimeout is the deadline of a node_info fetch on a cache
	// miss. Default: DefaultNodeInfoTimeout (5s).
	NodeInfoTimeout time.Duration
	// NodeInfoTTL is how long the node_info of a node is reused before the
	// agent is asked again. Default: DefaultNodeInfoTTL (5m).
	NodeInfoTTL time.Duration
	// Parallel limits the number of pings in flight at once across all
	// nodes of one call. 0 means no limit for the on-demand calls (Check,
	// Status, PingCluster: every node is pinged at once, as Scylla
	// Manager does) and DefaultRoundParallel for the scheduled rounds
	// (Run). Default: 0.
	Parallel int
	// Spread is the longest window over which a scheduled round (Run)
	// spreads the starts of its pings: node i of n starts at a random
	// moment of the i-th of n equal slots of min(Spread, n ×
	// SpreadPerNode), so that a fleet is not pinged in one burst at the
	// top of every minute. Keep it well below the tasks' interval.
	// Negative: no spreading. Default: DefaultSpread (20s).
	Spread time.Duration
	// SpreadStep batches the spread starts: each moment is rounded up to
	// the next multiple of SpreadStep of the clock, so the pings of a
	// round start in batches (one per step) and the rounds of every
	// cluster and mode start theirs at the same instants. The process
	// then wakes once per step for all of them, not once per ping: on an
	// otherwise idle Manager the wake-ups, not the pings, were most of
	// the CPU. A round lasts up to one step longer than its window.
	// Negative: every ping at its own moment. Default: DefaultSpreadStep
	// (1s).
	SpreadStep time.Duration
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
	if o.NodeInfoTimeout < 0 {
		return store.Invalid("healthcheck.node_info_timeout", "a duration >= 0 (0 = 5s), e.g. 5s", o.NodeInfoTimeout.String())
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
	if o.NodeInfoTimeout == 0 {
		o.NodeInfoTimeout = DefaultNodeInfoTimeout
	}
	if o.Spread == 0 {
		o.Spread = DefaultSpread
	}
	if o.SpreadStep == 0 {
		o.SpreadStep = DefaultSpreadStep
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
