package topology

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/agentclient"
)

// TrackerStore keeps what a Tracker learns about each cluster across
// restarts. The root package's Manager implements it over its store.
type TrackerStore interface {
	// LastView returns the cluster's last saved view, nil if none.
	LastView(ctx context.Context, clusterID uuid.UUID) (*Cluster, error)
	// SaveView saves the cluster's view and its known hosts (every node
	// address of the view).
	SaveView(ctx context.Context, clusterID uuid.UUID, view *Cluster, knownHosts []string) error
	// RecordChanges records changes of the cluster's topology (events).
	RecordChanges(ctx context.Context, clusterID uuid.UUID, changes []Change) error
}

// Tracker keeps the last view of each cluster: Refresh discovers a
// cluster (hedged over its contacts), diffs it with the last view,
// records the changes and saves the new view and known hosts, so a
// cluster whose first host died stays reachable through the others,
// across restarts. Create it with NewTracker.
type Tracker struct {
	st   TrackerStore
	opts HedgeOptions
	log  *slog.Logger

	mu    sync.Mutex
	views map[uuid.UUID]*Cluster
	// loaded: the store was asked for the cluster's view (nil or not).
	loaded map[uuid.UUID]bool
}

// NewTracker returns a Tracker over st; o tunes the discoveries.
func NewTracker(st TrackerStore, o HedgeOptions, log *slog.Logger) *Tracker {
	return &Tracker{st: st, opts: o, log: log, views: map[uuid.UUID]*Cluster{}, loaded: map[uuid.UUID]bool{}}
}

// View returns the cluster's last view (from memory, else from the
// store), nil if it was never discovered.
func (t *Tracker) View(ctx context.Context, clusterID uuid.UUID) (*Cluster, error) {
	t.mu.Lock()
	v, loaded := t.views[clusterID], t.loaded[clusterID]
	t.mu.Unlock()
	if v != nil || loaded {
		return v, nil
	}
	v, err := t.st.LastView(ctx, clusterID)
	if err != nil {
		return nil, fmt.Errorf("topology: last view of cluster %s: %w", clusterID, err)
	}
	t.mu.Lock()
	if t.views[clusterID] == nil {
		t.views[clusterID] = v
	}
	t.loaded[clusterID] = true
	v = t.views[clusterID]
	t.mu.Unlock()
	return v, nil
}

// Refresh discovers the cluster from contacts (hedged, the last view's
// contact first), records the changes since the last view (Diff) and
// saves the view with its hosts as the known hosts. It returns the new
// view and the changes.
func (t *Tracker) Refresh(ctx context.Context, clusterID uuid.UUID, client *agentclient.Client, contacts []string) (*Cluster, []Change, error) {
	last, err := t.View(ctx, clusterID)
	if err != nil {
		return nil, nil, err
	}
	if last != nil {
		contacts = append([]string{last.ContactHost}, contacts...)
	}
	v, err := DiscoverAny(ctx, client, contacts, t.opts)
	if err != nil {
		return nil, nil, fmt.Errorf("topology: discover cluster %s: %w", clusterID, err)
	}
	changes := Diff(last, v)
	if last == nil {
		changes = nil // the first view is no change
	}
	if len(changes) > 0 {
		if err := t.st.RecordChanges(ctx, clusterID, changes); err != nil {
			t.log.WarnContext(ctx, "topology changes not recorded", "cluster", clusterID, "err", err)
		}
	}
	if err := t.st.SaveView(ctx, clusterID, v, v.Hosts()); err != nil {
		return nil, nil, fmt.Errorf("topology: save view of cluster %s: %w", clusterID, err)
	}
	t.mu.Lock()
	t.views[clusterID], t.loaded[clusterID] = v, true
	t.mu.Unlock()
	return v, changes, nil
}

// Forget drops the cluster's view from memory (a deleted cluster).
func (t *Tracker) Forget(clusterID uuid.UUID) {
	t.mu.Lock()
	delete(t.views, clusterID)
	delete(t.loaded, clusterID)
	t.mu.Unlock()
}
