package agentclient

import (
	"context"
	"fmt"
	"regexp"
	"sync"

	"github.com/scyllaops/scyllaops/internal/agentapi"
)

// rcloneVersion matches the versions Scylla Manager's agent reports
// ("3.13.0", "3.12.1-0.20240101.abcdef"); ours report another form
// (e.g. "scyllaops-agent-0.1.0") or none.
var rcloneVersion = regexp.MustCompile(`^[0-9]+\.[0-9]+(\.[0-9]+)?([-.+~][0-9A-Za-z.~+-]*)?$`)

// IsRcloneAgentVersion reports whether version (GET /version, node_info's
// agent_version) is one of Scylla Manager's agent, an rclone rc server
// that applies bandwidth_rate and transfers agent-wide, not per job.
func IsRcloneAgentVersion(version string) bool { return rcloneVersion.MatchString(version) }

// hostLimits caches, per host, whether its agent applies limits
// agent-wide and the limits this client last set there.
type hostLimits struct {
	mu        sync.Mutex
	known     bool
	agentWide bool
	rate      string
	transfers int
}

func (c *Client) limitsOf(host string) *hostLimits {
	v, _ := c.limits.LoadOrStore(host, &hostLimits{})
	return v.(*hostLimits)
}

// agentWideLimits handles the bandwidth_rate and transfers of a sync call
// to host. Against an agent that applies them per job (ours) it returns
// them unchanged. Against Scylla Manager's agent, which applies them to
// every running job, it sets them once per host with core/bwlimit and
// core/transfers (again only when they change), and returns them
// cleared, so that concurrent jobs do not overwrite each other's limits.
func (c *Client) agentWideLimits(ctx context.Context, host, rate string, transfers int) (string, int, error) {
	hl := c.limitsOf(host)
	hl.mu.Lock()
	defer hl.mu.Unlock()
	if !hl.known {
		v, err := c.Version(ctx, host)
		if err != nil {
			return "", 0, fmt.Errorf("agent version of %s: %w", host, err)
		}
		hl.known, hl.agentWide = true, IsRcloneAgentVersion(v)
		if hl.agentWide {
			c.log.Info("agent applies bandwidth and transfers agent-wide: setting them once per host", "host", host, "version", v)
		}
	}
	if !hl.agentWide {
		return rate, transfers, nil
	}
	if rate != "" && rate != hl.rate {
		if err := c.rc(ctx, host, agentapi.CallCoreBwlimit, nil, agentapi.Bandwidth{Rate: rate}, nil, 0); err != nil {
			return "", 0, err
		}
		hl.rate = rate
	}
	if transfers > 0 && transfers != hl.transfers {
		if err := c.rc(ctx, host, agentapi.CallCoreTransfers, nil, agentapi.Transfers{Transfers: transfers}, nil, 0); err != nil {
			return "", 0, err
		}
		hl.transfers = transfers
	}
	return "", 0, nil
}
