package backup

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/scyllaops/scyllaops/internal/backupspec"
)

// peakPerGroup runs forEachHost over hosts with limits in a synctest
// bubble, each fn taking one (virtual) second, and returns the most hosts
// of each group that were inside fn at once: every host the limits let
// in enters before the clock moves, so the peak is exact.
func peakPerGroup(t *testing.T, hosts []Host, limits []backupspec.DCLimit, group func(Host) string) map[string]int {
	t.Helper()
	peak := map[string]int{}
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		in := map[string]int{}
		err := forEachHost(t.Context(), hosts, limits, func(_ context.Context, h Host) error {
			g := group(h)
			mu.Lock()
			in[g]++
			peak[g] = max(peak[g], in[g])
			mu.Unlock()
			time.Sleep(time.Second)
			mu.Lock()
			in[g]--
			mu.Unlock()
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	})
	return peak
}

// upload_parallel / snapshot_parallel without a DC prefix is one pool
// shared by every DC without its own limit: "1" lets one host of the whole
// cluster work at a time, not one per DC; "dc2:2" gives dc2 its own pool.
func TestParallelDefaultIsOneSharedPool(t *testing.T) {
	hosts := []Host{
		{IP: "127.0.1.1", DC: "dc1"}, {IP: "127.0.1.2", DC: "dc1"},
		{IP: "127.0.2.1", DC: "dc2"}, {IP: "127.0.2.2", DC: "dc2"},
		{IP: "127.0.3.1", DC: "dc3"},
	}
	all := func(Host) string { return "all" }
	if p := peakPerGroup(t, hosts, []backupspec.DCLimit{{Limit: 1}}, all); p["all"] != 1 {
		t.Errorf("limit 1 without a DC: %d hosts at once, want 1", p["all"])
	}
	// dc2 has its own pool of 2; dc1 and dc3 share the default 1.
	byPool := func(h Host) string {
		if h.DC == "dc2" {
			return "dc2"
		}
		return "default"
	}
	if p := peakPerGroup(t, hosts, []backupspec.DCLimit{{Limit: 1}, {DC: "dc2", Limit: 2}}, byPool); p["default"] != 1 || p["dc2"] != 2 {
		t.Errorf("peaks %v, want default pool 1 and dc2 2", p)
	}
	// No limit: every host at once.
	if p := peakPerGroup(t, hosts, nil, all); p["all"] != len(hosts) {
		t.Errorf("no limit: %d hosts at once, want %d", p["all"], len(hosts))
	}
}
