package healthcheck

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/internal/agentapi"
)

type uptimeAgent struct{ calls int }

func (a *uptimeAgent) NodeInfo(context.Context, string) (*agentapi.NodeInfo, error) {
	a.calls++
	return &agentapi.NodeInfo{Uptime: 100}, nil
}

func (a *uptimeAgent) ScyllaReleaseVersion(context.Context, string) (string, error) {
	return "", nil
}

// A cached node_info shows the uptime as of now: the value fetched
// minutes ago plus the time since (status must not show a stale uptime).
func TestCachedUptimeIsCurrent(t *testing.T) {
	c := newNodeInfoCache(time.Hour)
	a := &uptimeAgent{}
	id := uuid.New()
	if _, err := c.get(t.Context(), id, "127.0.0.1", a); err != nil {
		t.Fatal(err)
	}
	// Age the entry by five minutes.
	k := cacheKey{id, "127.0.0.1"}
	c.mu.Lock()
	e := c.entries[k]
	e.fetched = e.fetched.Add(-5 * time.Minute)
	c.entries[k] = e
	c.mu.Unlock()

	ni, err := c.get(t.Context(), id, "127.0.0.1", a)
	if err != nil {
		t.Fatal(err)
	}
	if a.calls != 1 {
		t.Fatalf("agent called %d times, want 1 (cached)", a.calls)
	}
	if ni.Uptime < 400 || ni.Uptime > 400+60 {
		t.Errorf("uptime %d s, want about 400 (100 + 5 min)", ni.Uptime)
	}
	if got := c.cached(id, "127.0.0.1"); got == nil || got.Uptime < 400 {
		t.Errorf("cached uptime %+v, want about 400", got)
	}
	if e.ni.Uptime != 100 {
		t.Errorf("the cached value was changed: %d", e.ni.Uptime)
	}
}
