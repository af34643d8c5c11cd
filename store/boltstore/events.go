package boltstore

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"github.com/scyllaops/scyllaops/store"
)

// purgeBatch bounds how many expired events one AppendEvent deletes.
const purgeBatch = 64

func expiryKey(e *store.Event) []byte {
	return cat(timeKey(e.Time.Add(e.TTL)), eventKey(e))
}

func expired(e *store.Event, now time.Time) bool {
	return e.TTL > 0 && !now.Before(e.Time.Add(e.TTL))
}

// AppendEvent implements store.EventStore. Appending an existing ID
// replaces that event. It also deletes up to purgeBatch expired events.
func (s *Store) AppendEvent(ctx context.Context, e *store.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := store.CheckEvent(e); err != nil {
		return invalid(err)
	}
	var purged int
	err := s.update(ctx, func(tx *bolt.Tx) error {
		events, expiry := tx.Bucket(bEvents), tx.Bucket(bEventExpiry)
		key := eventKey(e)
		if old := events.Get(key); old != nil {
			o, err := decodeEvent(old)
			if err != nil {
				return err
			}
			if o.TTL > 0 {
				if err := expiry.Delete(expiryKey(o)); err != nil {
					return err
				}
			}
		}
		if err := putJSON(events, key, e); err != nil {
			return err
		}
		if e.TTL > 0 {
			if err := expiry.Put(expiryKey(e), present); err != nil {
				return err
			}
		}
		var err error
		purged, err = purgeExpired(tx, time.Now())
		return err
	})
	if err == nil && purged > 0 {
		s.log.Debug("expired events deleted", "count", purged)
	}
	return err
}

// purgeExpired deletes up to purgeBatch events whose expiry is before
// now, oldest expiry first.
func purgeExpired(tx *bolt.Tx, now time.Time) (int, error) {
	events, expiry := tx.Bucket(bEvents), tx.Bucket(bEventExpiry)
	limit := timeKey(now)
	var keys [][]byte
	c := expiry.Cursor()
	for k, _ := c.First(); k != nil && len(keys) < purgeBatch; k, _ = c.Next() {
		if string(k[:8]) > string(limit) {
			break
		}
		keys = append(keys, append([]byte(nil), k...))
	}
	for _, k := range keys {
		if err := events.Delete(k[8:]); err != nil {
			return 0, err
		}
		if err := expiry.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}

// QueryEvents implements store.EventStore.
func (s *Store) QueryEvents(ctx context.Context, q store.EventQuery) ([]*store.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := store.CheckEventQuery(q); err != nil {
		return nil, invalid(err)
	}
	out := make([]*store.Event, 0)
	now := time.Now()
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bEvents).Cursor()
		prefix := q.ClusterID[:]
		for k, v := c.Seek(prefix); k != nil && string(k[:16]) == string(prefix); k, v = c.Next() {
			e, err := decodeEvent(v)
			if err != nil {
				return err
			}
			if expired(e, now) || !matches(e, q) {
				continue
			}
			out = append(out, e)
			if q.Limit > 0 && len(out) == q.Limit {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
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

func getLease(tx *bolt.Tx, name string) (*leaseJSON, error) {
	data := tx.Bucket(bLeases).Get([]byte(name))
	if data == nil {
		return nil, nil
	}
	l := new(leaseJSON)
	if err := decode(data, l); err != nil {
		return nil, err
	}
	return l, nil
}

// AcquireLease implements store.LeaseStore.
func (s *Store) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (store.Lease, error) {
	if err := ctx.Err(); err != nil {
		return store.Lease{}, err
	}
	if err := store.CheckLease(name, owner, ttl); err != nil {
		return store.Lease{}, invalid(err)
	}
	var out store.Lease
	err := s.update(ctx, func(tx *bolt.Tx) error {
		l, err := getLease(tx, name)
		if err != nil {
			return err
		}
		now := time.Now()
		switch {
		case l == nil:
			l = &leaseJSON{Fence: 1}
		case l.Owner == owner:
			// Still ours (an expired lease nobody took is ours too):
			// keep the fence.
		case l.Owner != "" && now.Before(l.Expires):
			return fmt.Errorf("lease %q held by %q until %s: %w",
				name, l.Owner, l.Expires.Format(time.RFC3339Nano), store.ErrLeaseHeld)
		default:
			l.Fence++
		}
		l.Owner = owner
		l.Expires = now.Add(ttl).Round(0)
		out = store.Lease{Name: name, Owner: owner, Fence: l.Fence, Expires: l.Expires}
		return putJSON(tx.Bucket(bLeases), []byte(name), l)
	})
	if err != nil {
		return store.Lease{}, err
	}
	return out, nil
}

// RenewLease implements store.LeaseStore.
func (s *Store) RenewLease(ctx context.Context, l store.Lease, ttl time.Duration) (store.Lease, error) {
	if err := ctx.Err(); err != nil {
		return store.Lease{}, err
	}
	if err := store.CheckLease(l.Name, l.Owner, ttl); err != nil {
		return store.Lease{}, invalid(err)
	}
	var out store.Lease
	err := s.update(ctx, func(tx *bolt.Tx) error {
		cur, err := getLease(tx, l.Name)
		if err != nil {
			return err
		}
		if cur == nil || cur.Owner != l.Owner || cur.Fence != l.Fence {
			return fmt.Errorf("renew lease %q fence %d: %w", l.Name, l.Fence, store.ErrLeaseLost)
		}
		cur.Expires = time.Now().Add(ttl).Round(0)
		out = store.Lease{Name: l.Name, Owner: l.Owner, Fence: cur.Fence, Expires: cur.Expires}
		return putJSON(tx.Bucket(bLeases), []byte(l.Name), cur)
	})
	if err != nil {
		return store.Lease{}, err
	}
	return out, nil
}

// ReleaseLease implements store.LeaseStore. The record stays, without
// owner, so that the name's fence keeps growing.
func (s *Store) ReleaseLease(ctx context.Context, l store.Lease) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := store.CheckLease(l.Name, l.Owner, time.Nanosecond); err != nil {
		return invalid(err)
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		cur, err := getLease(tx, l.Name)
		if err != nil {
			return err
		}
		if cur == nil || cur.Owner != l.Owner || cur.Fence != l.Fence {
			return fmt.Errorf("release lease %q fence %d: %w", l.Name, l.Fence, store.ErrLeaseLost)
		}
		cur.Owner = ""
		cur.Expires = time.Time{}
		return putJSON(tx.Bucket(bLeases), []byte(l.Name), cur)
	})
}

// GetLease implements store.LeaseStore.
func (s *Store) GetLease(ctx context.Context, name string) (store.Lease, error) {
	if err := ctx.Err(); err != nil {
		return store.Lease{}, err
	}
	if err := store.CheckLease(name, "-", time.Nanosecond); err != nil {
		return store.Lease{}, invalid(err)
	}
	var out store.Lease
	err := s.view(ctx, func(tx *bolt.Tx) error {
		cur, err := getLease(tx, name)
		if err != nil {
			return err
		}
		if cur == nil || cur.Owner == "" || !time.Now().Before(cur.Expires) {
			return notFound("lease", fmt.Sprintf("%q", name))
		}
		out = store.Lease{Name: name, Owner: cur.Owner, Fence: cur.Fence, Expires: cur.Expires}
		return nil
	})
	if err != nil {
		return store.Lease{}, err
	}
	return out, nil
}
