package healthcheck

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/internal/agentapi"
)

// plan says how ping starts the pings of a call.
type plan struct {
	// parallel bounds the pings in flight; 0 = no limit.
	parallel int
	// window spreads the starts: node i of n starts at a random moment of
	// the i-th of n equal slots of window. 0 = all at once.
	window time.Duration
	// step rounds each start up to a multiple of step of the clock
	// (Options.SpreadStep); 0 = not rounded.
	step time.Duration
	// round is a scheduled round's: its NodeStatuses feed the metrics
	// and logs only, so their NodeInfo-derived fields are not filled.
	round bool
}

// roundPlan is the plan of a scheduled round of n nodes.
func (s *Service) roundPlan(n int) plan {
	p := plan{parallel: cmp.Or(s.opts.Parallel, DefaultRoundParallel), round: true}
	if s.opts.Spread > 0 {
		p.window = min(s.opts.Spread, time.Duration(n)*SpreadPerNode)
		p.step = max(s.opts.SpreadStep, 0)
	}
	return p
}

// due returns when, for a call started at start, node i of n starts: its
// moment (startOf) rounded up to the step grid.
func (p plan) due(start time.Time, i, n int) time.Time {
	t := start.Add(p.startOf(i, n))
	if p.step <= 0 || p.window <= 0 {
		return t
	}
	if g := t.Truncate(p.step); !g.Equal(t) {
		return g.Add(p.step)
	}
	return t
}

// startOf returns when, after the start of the call, node i of n starts.
func (p plan) startOf(i, n int) time.Duration {
	if p.window <= 0 || n <= 0 {
		return 0
	}
	slot := p.window / time.Duration(n)
	at := time.Duration(i) * slot
	if slot > 0 {
		at += rand.N(slot) //nolint:gosec // jitter
	}
	return at
}

// sleepCtx waits for d; false when ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// nodeInfo returns the node_info of host from the cache, or fetches it
// within Options.NodeInfoTimeout (a deadline of its own: the ping's starts
// after it).
func (s *Service) nodeInfo(ctx context.Context, clusterID uuid.UUID, host string, agent Agent) (*agentapi.NodeInfo, error) {
	if ni := s.cache.peek(clusterID, host); ni != nil {
		return ni, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.NodeInfoTimeout)
	defer cancel()
	return s.cache.get(ctx, clusterID, host, agent)
}

// nodeInfoResult is the Result of a ping that could not run because the
// node_info of host could not be had: the agent's fault.
func nodeInfoResult(host string, err error) Result {
	r := Result{Status: StatusError, Err: fmt.Errorf("healthcheck: node_info of %s: %w", host, err), AgentDown: true}
	if isTimeout(err) || errors.Is(err, context.DeadlineExceeded) {
		r.Status = StatusTimeout
	}
	return r
}

// maxLoggedHosts is how many failed hosts a round's summary names.
const maxLoggedHosts = 10

// logRound logs a scheduled round: every failed ping at debug level, then,
// when any failed, one warning that sums them up (count per status, how
// many were the agent's, the first hosts and the first cause), and the
// round's end at debug level.
func (s *Service) logRound(ctx context.Context, clusterID, taskID, runID uuid.UUID, mode Mode, nodes []NodeStatus, took time.Duration) {
	failed, agentDown := 0, 0
	byStatus := map[string]int{}
	var hosts []string
	var cause error
	for i := range nodes {
		r := nodes[i].result(mode)
		if r.Status == "" || r.Status == StatusUp {
			continue
		}
		failed++
		byStatus[r.Status]++
		if r.AgentDown {
			agentDown++
		}
		if len(hosts) < maxLoggedHosts {
			hosts = append(hosts, nodes[i].Host+" "+r.Status)
		}
		if cause == nil {
			cause = r.Err
		}
		s.log.DebugContext(ctx, "ping failed", "cluster", clusterID, "task", taskID, "run", runID,
			"mode", mode, "host", nodes[i].Host, "status", r.Status, "error", r.Err)
	}
	if failed > 0 {
		var counts []string
		for _, st := range slices.Sorted(maps.Keys(byStatus)) {
			counts = append(counts, st+"="+strconv.Itoa(byStatus[st]))
		}
		if failed > len(hosts) {
			hosts = append(hosts, fmt.Sprintf("… %d more", failed-len(hosts)))
		}
		s.log.WarnContext(ctx, "health check: pings failed", "cluster", clusterID, "task", taskID, "run", runID,
			"mode", mode, "nodes", len(nodes), "failed", failed, "agent_down", agentDown,
			"statuses", strings.Join(counts, " "), "hosts", strings.Join(hosts, ", "), "first_error", cause)
	}
	s.log.DebugContext(ctx, "health check done", "cluster", clusterID, "task", taskID, "run", runID,
		"mode", mode, "nodes", len(nodes), "failed", failed, "took", took)
}
