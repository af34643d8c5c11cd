package cqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/gocql/gocql"
	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
)

// AppendEvent implements store.EventStore. The event expires TTL after
// e.Time (Options.EventTTL if e.TTL is 0); an event that is already
// expired is not written.
func (s *Store) AppendEvent(ctx context.Context, e *store.Event) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if err := store.CheckEvent(e); err != nil {
		return fmt.Errorf("cqlstore: %w", err)
	}
	ttl := e.TTL
	if ttl == 0 {
		ttl = s.opts.EventTTL
	}
	ttl = min(ttl, maxTTL)
	var cqlTTL int
	if ttl > 0 {
		left := time.Until(e.Time.Add(ttl))
		if left <= 0 {
			return nil
		}
		// A CQL TTL of n seconds ends at the n-th second boundary after
		// the write, which can be up to a second early: add one. Reads
		// hide the event at its exact expiry.
		cqlTTL = ceilSeconds(left) + 1
	}
	err := s.query(ctx, "INSERT INTO event (cluster_id, id, task_id, run_id, event_time, kind, severity, message, attributes, ttl_ms) "+
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?",
		gocql.UUID(e.ClusterID), gocql.UUID(e.ID), gocql.UUID(e.TaskID), gocql.UUID(e.RunID), e.Time, e.Kind, e.Severity,
		e.Message, e.Attributes, ttl.Milliseconds(), cqlTTL).Exec()
	if err != nil {
		return s.dbErr("append event "+e.ID.String(), err)
	}
	return nil
}

// QueryEvents implements store.EventStore. It reads the cluster's
// partition in ID order and filters on the client.
func (s *Store) QueryEvents(ctx context.Context, q store.EventQuery) ([]*store.Event, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if err := store.CheckEventQuery(q); err != nil {
		return nil, fmt.Errorf("cqlstore: %w", err)
	}
	it := s.query(ctx, "SELECT id, task_id, run_id, event_time, kind, severity, message, attributes, ttl_ms FROM event WHERE cluster_id = ?",
		gocql.UUID(q.ClusterID)).PageSize(1000).Iter()
	now := time.Now()
	out := []*store.Event{}
	for {
		e := store.Event{ClusterID: q.ClusterID}
		var id, tid, rid gocql.UUID
		var ttlMS int64
		if !it.Scan(&id, &tid, &rid, &e.Time, &e.Kind, &e.Severity, &e.Message, &e.Attributes, &ttlMS) {
			break
		}
		e.ID, e.TaskID, e.RunID = uuid.UUID(id), uuid.UUID(tid), uuid.UUID(rid)
		e.Time = utc(e.Time)
		e.TTL = time.Duration(ttlMS) * time.Millisecond
		switch {
		case q.TaskID != uuid.Nil && e.TaskID != q.TaskID,
			q.RunID != uuid.Nil && e.RunID != q.RunID,
			!q.Since.IsZero() && e.Time.Before(q.Since),
			!q.Until.IsZero() && !e.Time.Before(q.Until),
			e.TTL > 0 && !now.Before(e.Time.Add(e.TTL)):
			continue
		}
		out = append(out, &e)
		if q.Limit > 0 && len(out) == q.Limit {
			break
		}
	}
	if err := it.Close(); err != nil {
		return nil, s.dbErr("query events", err)
	}
	return out, nil
}
