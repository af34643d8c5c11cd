package scyllaops

import (
	"context"
	"fmt"

	"github.com/scyllaops/scyllaops/store"
)

// Events returns the event log of a cluster, oldest first: every run
// status change (kind "run_status", with attributes status, attempt, type
// and owner), every scheduled retry ("retry", severity warning, with
// retry_at), one "run_failed" (severity error) per run that failed for
// good — not one per retry — and cluster suspensions ("suspend",
// "resume"). q.ClusterID is required; TaskID and RunID narrow the result.
// Events expire after Options.EventTTL.
func (m *Manager) Events(ctx context.Context, q store.EventQuery) ([]store.Event, error) {
	if err := m.check(ctx); err != nil {
		return nil, err
	}
	evs, err := m.st.QueryEvents(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("scyllaops: events: %w", err)
	}
	out := make([]store.Event, len(evs))
	for i, e := range evs {
		out[i] = *e
	}
	return out, nil
}
