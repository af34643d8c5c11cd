package cqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gocql/gocql"

	"github.com/scyllaops/scyllaops/store"
)

// A lease is one row (name, owner, fence, expires) that is never deleted:
// release sets owner to "" and keeps fence, so the fence only grows. Every
// change is a lightweight transaction conditioned on the values read, so
// two managers never both take a lease.

type leaseRow struct {
	owner   string
	fence   int64
	expires time.Time
}

func leaseFrom(m map[string]any) (leaseRow, bool) {
	f, ok := m["fence"].(int64)
	if !ok {
		return leaseRow{}, false
	}
	o, _ := m["owner"].(string)
	e, _ := m["expires"].(time.Time)
	return leaseRow{owner: o, fence: f, expires: e}, true
}

// expiresAt is now+ttl at the millisecond precision of a CQL timestamp, so
// the value returned equals the value stored.
func expiresAt(ttl time.Duration) time.Time {
	return time.Now().Add(ttl).Truncate(time.Millisecond).UTC()
}

// AcquireLease implements store.LeaseStore.
func (s *Store) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (store.Lease, error) {
	if err := s.begin(ctx); err != nil {
		return store.Lease{}, err
	}
	if err := store.CheckLease(name, owner, ttl); err != nil {
		return store.Lease{}, fmt.Errorf("cqlstore: %w", err)
	}
	what := "acquire lease " + name
	exp := expiresAt(ttl)
	m := map[string]any{}
	applied, err := s.query(ctx, "INSERT INTO lease (name, owner, fence, expires) VALUES (?, ?, 1, ?) IF NOT EXISTS",
		name, owner, exp).MapScanCAS(m)
	if err != nil {
		return store.Lease{}, s.dbErr(what, err)
	}
	if applied {
		return store.Lease{Name: name, Owner: owner, Fence: 1, Expires: exp}, nil
	}
	for range maxFenceTries {
		cur, ok := leaseFrom(m)
		if !ok {
			return store.Lease{}, fmt.Errorf("cqlstore: %s: unexpected answer %v", what, m)
		}
		fence := cur.fence
		switch {
		case cur.owner == owner:
			// Ours (also if expired and not taken): extend, keep the fence.
		case cur.owner != "" && time.Now().Before(cur.expires):
			return store.Lease{}, fmt.Errorf("cqlstore: lease %q held by %q until %s: %w",
				name, cur.owner, cur.expires.UTC().Format(time.RFC3339Nano), store.ErrLeaseHeld)
		default:
			fence++
		}
		exp = expiresAt(ttl)
		m = map[string]any{}
		applied, err = s.query(ctx, "UPDATE lease SET owner = ?, fence = ?, expires = ? WHERE name = ? "+
			"IF owner = ? AND fence = ? AND expires = ?",
			owner, fence, exp, name, cur.owner, cur.fence, cur.expires).MapScanCAS(m)
		if err != nil {
			return store.Lease{}, s.dbErr(what, err)
		}
		if applied {
			return store.Lease{Name: name, Owner: owner, Fence: fence, Expires: exp}, nil
		}
		// Changed meanwhile: m holds the new values; decide again.
	}
	return store.Lease{}, fmt.Errorf("cqlstore: %s: contended: %w", what, store.ErrLeaseHeld)
}

// RenewLease implements store.LeaseStore.
func (s *Store) RenewLease(ctx context.Context, l store.Lease, ttl time.Duration) (store.Lease, error) {
	if err := s.begin(ctx); err != nil {
		return store.Lease{}, err
	}
	if err := store.CheckLease(l.Name, l.Owner, ttl); err != nil {
		return store.Lease{}, fmt.Errorf("cqlstore: %w", err)
	}
	exp := expiresAt(ttl)
	applied, err := s.query(ctx, "UPDATE lease SET expires = ? WHERE name = ? IF owner = ? AND fence = ?",
		exp, l.Name, l.Owner, l.Fence).MapScanCAS(map[string]any{})
	if err != nil {
		return store.Lease{}, s.dbErr("renew lease "+l.Name, err)
	}
	if !applied {
		return store.Lease{}, fmt.Errorf("cqlstore: renew lease %q fence %d: %w", l.Name, l.Fence, store.ErrLeaseLost)
	}
	return store.Lease{Name: l.Name, Owner: l.Owner, Fence: l.Fence, Expires: exp}, nil
}

// ReleaseLease implements store.LeaseStore.
func (s *Store) ReleaseLease(ctx context.Context, l store.Lease) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if err := store.CheckLease(l.Name, l.Owner, time.Nanosecond); err != nil {
		return fmt.Errorf("cqlstore: %w", err)
	}
	applied, err := s.query(ctx, "UPDATE lease SET owner = '', expires = ? WHERE name = ? IF owner = ? AND fence = ?",
		time.UnixMilli(0), l.Name, l.Owner, l.Fence).MapScanCAS(map[string]any{})
	if err != nil {
		return s.dbErr("release lease "+l.Name, err)
	}
	if !applied {
		return fmt.Errorf("cqlstore: release lease %q fence %d: %w", l.Name, l.Fence, store.ErrLeaseLost)
	}
	return nil
}

// GetLease implements store.LeaseStore. It reads with serial consistency,
// so it sees every acquired lease.
func (s *Store) GetLease(ctx context.Context, name string) (store.Lease, error) {
	if err := s.begin(ctx); err != nil {
		return store.Lease{}, err
	}
	if name == "" {
		return store.Lease{}, fmt.Errorf("cqlstore: %w", store.Invalid("lease.name", "a non-empty name, e.g. \"task/<uuid>\"", ""))
	}
	var l store.Lease
	err := s.query(ctx, "SELECT owner, fence, expires FROM lease WHERE name = ?", name).
		Consistency(serialRead(s.opts.SerialConsistency)).Scan(&l.Owner, &l.Fence, &l.Expires)
	if errors.Is(err, gocql.ErrNotFound) || (err == nil && (l.Owner == "" || !time.Now().Before(l.Expires))) {
		return store.Lease{}, fmt.Errorf("cqlstore: lease %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return store.Lease{}, s.dbErr("get lease "+name, err)
	}
	l.Name = name
	l.Expires = l.Expires.UTC()
	return l, nil
}

// serialRead maps a serial consistency to the read consistency that makes
// a SELECT linearizable.
func serialRead(sc gocql.SerialConsistency) gocql.Consistency {
	if sc == gocql.LocalSerial {
		return gocql.Consistency(gocql.LocalSerial)
	}
	return gocql.Consistency(gocql.Serial)
}
