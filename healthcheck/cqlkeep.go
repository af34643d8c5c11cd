package healthcheck

import (
	"net"
	"sync"
	"time"

	"github.com/google/uuid"
)

// keptIdle is how long a CQL connection is kept unused before it is
// closed: longer than the one-minute schedule of the default tasks, so
// each round finds the connection of the last one, and short enough that
// the connections of nodes no longer checked do not linger.
const keptIdle = 3 * time.Minute

// cqlKey names a kept CQL connection: a node's CQL address in a cluster,
// plain or TLS.
type cqlKey struct {
	cluster uuid.UUID
	addr    string
	tls     bool
}

// cqlKeeper keeps one idle CQL connection per node between the OPTIONS
// pings. A connection in use is out of the keeper, so two pings of one
// node at once (a round and an on-demand status) never share one.
type cqlKeeper struct {
	mu        sync.Mutex
	conns     map[cqlKey]keptConn
	closed    bool
	lastSweep time.Time
}

type keptConn struct {
	conn net.Conn
	idle time.Time // since when it is unused
}

func newCQLKeeper() *cqlKeeper { return &cqlKeeper{conns: map[cqlKey]keptConn{}} }

// take removes and returns the kept connection of key, nil if there is
// none or it was idle too long (then it is closed).
func (k *cqlKeeper) take(key cqlKey) net.Conn {
	k.mu.Lock()
	kc, ok := k.conns[key]
	if ok {
		delete(k.conns, key)
	}
	k.mu.Unlock()
	if !ok {
		return nil
	}
	if time.Since(kc.idle) > keptIdle {
		_ = kc.conn.Close()
		return nil
	}
	return kc.conn
}

// put keeps conn for key; it closes conn instead when the keeper is
// closed or already keeps one for key.
func (k *cqlKeeper) put(key cqlKey, conn net.Conn) {
	k.mu.Lock()
	if _, ok := k.conns[key]; ok || k.closed {
		k.mu.Unlock()
		_ = conn.Close()
		return
	}
	k.conns[key] = keptConn{conn: conn, idle: time.Now()}
	k.mu.Unlock()
}

// sweep closes the connections idle for longer than keptIdle (nodes no
// longer checked), at most once per keptIdle/3.
func (k *cqlKeeper) sweep(now time.Time) {
	var old []net.Conn
	k.mu.Lock()
	if now.Sub(k.lastSweep) >= keptIdle/3 {
		k.lastSweep = now
		for key, kc := range k.conns {
			if now.Sub(kc.idle) > keptIdle {
				old = append(old, kc.conn)
				delete(k.conns, key)
			}
		}
	}
	k.mu.Unlock()
	for _, c := range old {
		_ = c.Close()
	}
}

// forget closes the kept connections of a cluster.
func (k *cqlKeeper) forget(clusterID uuid.UUID) {
	var old []net.Conn
	k.mu.Lock()
	for key, kc := range k.conns {
		if key.cluster == clusterID {
			old = append(old, kc.conn)
			delete(k.conns, key)
		}
	}
	k.mu.Unlock()
	for _, c := range old {
		_ = c.Close()
	}
}

// close closes every kept connection; later ones are closed when put.
func (k *cqlKeeper) close() {
	k.mu.Lock()
	conns := k.conns
	k.conns, k.closed = map[cqlKey]keptConn{}, true
	k.mu.Unlock()
	for _, kc := range conns {
		_ = kc.conn.Close()
	}
}

// len returns the number of kept connections.
func (k *cqlKeeper) len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.conns)
}
