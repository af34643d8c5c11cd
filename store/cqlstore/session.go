package cqlstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gocql/gocql"

	"github.com/scyllaops/scyllaops/store"
)

// Session replacement after a full outage.
//
// When every host of the session is down (the latest connection attempt
// to each failed), the Store closes the session and
// opens a new one on the next call (at most one attempt per second). Two
// reasons: a fresh session reconnects at once instead of after the
// driver's reconnect interval, and gocql v1.7.0 panics (in a goroutine of
// its own, killing the process) when its control connection reconnects to
// a Cassandra older than 2.1.6, whose system.local lacks rpc_address.
// Closing the session while the database is down stops that control
// connection before it can reconnect. A control connection that drops
// while its host stays up still reconnects inside gocql, so that panic
// remains possible on such old Cassandra versions; ScyllaDB and newer
// Cassandra versions are not affected.

// sessionHolder owns the current session. mu guards all fields.
type sessionHolder struct {
	mu sync.Mutex
	// sess is the current session. After a full outage it is closed and
	// stale is set; the next call reconnects.
	sess     *gocql.Session
	gen      int
	stale    bool
	lastDial time.Time
	dialErr  error
}

// current returns the session to query. It may be closed concurrently;
// queries then fail with gocql.ErrSessionClosed, which dbErr reports as a
// lost connection.
func (s *Store) current() *gocql.Session {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	return s.h.sess
}

// ensureSession reconnects if the session was dropped after an outage.
func (s *Store) ensureSession(ctx context.Context) error {
	h := &s.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.stale {
		return nil
	}
	if s.closed.Load() {
		return fmt.Errorf("cqlstore: %w", store.ErrClosed)
	}
	if time.Since(h.lastDial) < time.Second {
		return fmt.Errorf("cqlstore: database unreachable (reconnecting): %w", markUnavailable(h.dialErr))
	}
	h.lastDial = time.Now()
	sess, err := connect(ctx, s.opts, s.opts.Keyspace, s.watch(h.gen+1))
	if err != nil {
		h.dialErr = err
		return markUnavailable(err)
	}
	h.sess, h.stale, h.dialErr = sess, false, nil
	h.gen++
	s.log.Info("reconnected to the database")
	return nil
}

// watch returns the callback a session's policy calls when all its hosts
// are down.
func (s *Store) watch(gen int) func() {
	return func() {
		select {
		case s.down <- gen:
		default:
		}
	}
}

// dropLoop closes the session of generation gen when its hosts are all
// down. It runs until Close.
func (s *Store) dropLoop() {
	for {
		select {
		case <-s.quit:
			return
		case gen := <-s.down:
			s.h.mu.Lock()
			if gen == s.h.gen && !s.h.stale {
				s.h.stale = true
				s.h.dialErr = errors.New("all hosts are down")
				s.log.Warn("all database hosts are down: closing the session, reconnecting on the next call")
				s.h.sess.Close()
			}
			s.h.mu.Unlock()
		}
	}
}

// connWatch observes the session's connection attempts (pool and control
// connection) and calls allDown when the latest attempt to every host it
// has seen failed. (gocql's host-down notifications do not fire for
// hosts given with DisableInitialHostLookup, so connection attempts are
// the signal.)
type connWatch struct {
	allDown func()

	mu sync.Mutex
	// ok holds, per host address, whether the latest attempt succeeded.
	ok map[string]bool
}

// ObserveConnect implements gocql.ConnectObserver.
func (w *connWatch) ObserveConnect(c gocql.ObservedConnect) {
	if c.Host == nil {
		return
	}
	key := c.Host.HostnameAndPort()
	w.mu.Lock()
	w.ok[key] = c.Err == nil
	down := c.Err != nil
	for _, ok := range w.ok {
		if ok {
			down = false
			break
		}
	}
	w.mu.Unlock()
	if down && w.allDown != nil {
		w.allDown()
	}
}
