package memstore

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
)

// expired reports whether e has outlived its TTL at now.
func expired(e *store.Event, now time.Time) bool {
	return e.TTL > 0 && !now.Before(e.Time.Add(e.TTL))
}

func compareEvents(a, b *store.Event) int {
	return cmp.Or(
		store.UUIDTime(a.ID).Compare(store.UUIDTime(b.ID)),
		bytes.Compare(a.ID[:], b.ID[:]),
	)
}

// AppendEvent implements store.EventStore. Appending an existing ID
// replaces that event. It also drops the expired events of e's cluster.
func (s *Store) AppendEvent(ctx context.Context, e *store.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := store.CheckEvent(e); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	now := time.Now()
	evs := slices.DeleteFunc(s.events[e.ClusterID], func(o *store.Event) bool { return expired(o, now) })
	// Appending an ID again replaces the event (an idempotent retry).
	evs = slices.DeleteFunc(evs, func(o *store.Event) bool { return o.ID == e.ID })
	s.events[e.ClusterID] = append(evs, cloneEvent(e))
	return nil
}

// QueryEvents implements store.EventStore.
func (s *Store) QueryEvents(ctx context.Context, q store.EventQuery) ([]*store.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := store.CheckEventQuery(q); err != nil {
		return nil, fmt.Errorf("memstore: %w", err)
	}
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	now := time.Now()
	evs := slices.DeleteFunc(s.events[q.ClusterID], func(o *store.Event) bool { return expired(o, now) })
	if len(evs) == 0 {
		delete(s.events, q.ClusterID)
	} else {
		s.events[q.ClusterID] = evs
	}
	out := make([]*store.Event, 0)
	for _, e := range evs {
		if matches(e, q) {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, compareEvents)
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	for i, e := range out {
		out[i] = cloneEvent(e)
	}
	return out, nil
}

func matches(e *store.Event, q store.EventQuery) bool {
	switch {
	case q.TaskID != uuid.Nil && e.TaskID != q.TaskID,
		q.RunID != uuid.Nil && e.RunID != q.RunID,
		!q.Since.IsZero() && e.Time.Before(q.Since),
		!q.Until.IsZero() && !e.Time.Before(q.Until):
		return false
	}
	return true
}

// AcquireLease implements store.LeaseStore.
func (s *Store) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (store.Lease, error) {
	if err := ctx.Err(); err != nil {
		return store.Lease{}, err
	}
	if err := store.CheckLease(name, owner, ttl); err != nil {
		return store.Lease{}, fmt.Errorf("memstore: %w", err)
	}
	if err := s.begin(ctx); err != nil {
		return store.Lease{}, err
	}
	defer s.mu.Unlock()
	now := time.Now()
	l := s.leases[name]
	switch {
	case l == nil:
		l = &lease{fence: 1}
		s.leases[name] = l
	case l.owner == owner:
		// Still ours (an expired lease nobody took is ours too): keep
		// the fence.
	case l.owner != "" && now.Before(l.expires):
		return store.Lease{}, fmt.Errorf("memstore: lease %q held by %q until %s: %w",
			name, l.owner, l.expires.Format(time.RFC3339Nano), store.ErrLeaseHeld)
	default:
		l.fence++
	}
	l.owner = owner
	l.expires = now.Add(ttl)
	return store.Lease{Name: name, Owner: owner, Fence: l.fence, Expires: l.expires}, nil
}

// RenewLease implements store.LeaseStore.
func (s *Store) RenewLease(ctx context.Context, l store.Lease, ttl time.Duration) (store.Lease, error) {
	if err := ctx.Err(); err != nil {
		return store.Lease{}, err
	}
	if err := store.CheckLease(l.Name, l.Owner, ttl); err != nil {
		return store.Lease{}, fmt.Errorf("memstore: %w", err)
	}
	if err := s.begin(ctx); err != nil {
		return store.Lease{}, err
	}
	defer s.mu.Unlock()
	cur := s.leases[l.Name]
	if cur == nil || cur.owner != l.Owner || cur.fence != l.Fence {
		return store.Lease{}, fmt.Errorf("memstore: renew lease %q fence %d: %w", l.Name, l.Fence, store.ErrLeaseLost)
	}
	cur.expires = time.Now().Add(ttl)
	return store.Lease{Name: l.Name, Owner: l.Owner, Fence: cur.fence, Expires: cur.expires}, nil
}

// ReleaseLease implements store.LeaseStore.
func (s *Store) ReleaseLease(ctx context.Context, l store.Lease) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := store.CheckLease(l.Name, l.Owner, time.Nanosecond); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	cur := s.leases[l.Name]
	if cur == nil || cur.owner != l.Owner || cur.fence != l.Fence {
		return fmt.Errorf("memstore: release lease %q fence %d: %w", l.Name, l.Fence, store.ErrLeaseLost)
	}
	cur.owner = ""
	cur.expires = time.Time{}
	return nil
}

// GetLease implements store.LeaseStore.
func (s *Store) GetLease(ctx context.Context, name string) (store.Lease, error) {
	if err := ctx.Err(); err != nil {
		return store.Lease{}, err
	}
	if err := store.CheckLease(name, "-", time.Nanosecond); err != nil {
		return store.Lease{}, fmt.Errorf("memstore: %w", err)
	}
	if err := s.begin(ctx); err != nil {
		return store.Lease{}, err
	}
	defer s.mu.Unlock()
	cur := s.leases[name]
	if cur == nil || cur.owner == "" || !time.Now().Before(cur.expires) {
		return store.Lease{}, notFound("lease", fmt.Sprintf("%q", name))
	}
	return store.Lease{Name: name, Owner: cur.owner, Fence: cur.fence, Expires: cur.expires}, nil
}
