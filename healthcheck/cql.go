package healthcheck

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/scyllaops/scyllaops/internal/cqlconn"
)

// optionsFrame is a CQL v4 OPTIONS request: version 4, flags 0, stream 0,
// opcode 0x05, body length 0.
var optionsFrame = [9]byte{0x04, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00}

const (
	opSupported = 0x06
	// cqlPingQuery is what the authenticated CQL ping runs.
	cqlPingQuery = "SELECT now() FROM system.local WHERE key='local'"
	// minBackoff is the first wait between two OPTIONS attempts.
	minBackoff = time.Millisecond
)

// errUnauthorized marks authentication failures (CQL, REST, Alternator).
var errUnauthorized = cqlconn.ErrUnauthorized

// cqlConn opens a connection to addr, over TLS when tlsConf is set, bound
// to ctx: its deadline is the connection's, and ctx's end closes it. The
// returned release func unbinds the connection from ctx and reports
// whether it is still usable (false: ctx's end closed it); the caller
// closes or keeps it.
func cqlConn(ctx context.Context, dial DialFunc, addr string, tlsConf *tls.Config) (net.Conn, func() bool, error) {
	conn, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if tlsConf != nil {
		tc := tls.Client(conn, tlsConf)
		if err := tc.HandshakeContext(ctx); err != nil {
			stop()
			_ = conn.Close()
			return nil, nil, fmt.Errorf("tls handshake: %w", err)
		}
		conn = tc
	}
	return conn, stop, nil
}

// maxSupportedBody bounds the body of a SUPPORTED answer a kept connection
// reads (a few hundred bytes in practice).
const maxSupportedBody = 64 << 10

// cqlOptionsOn sends one OPTIONS frame on conn and reads the whole answer,
// which must be SUPPORTED; conn is then ready for the next frame. Its
// deadline must be set by the caller.
func cqlOptionsOn(conn net.Conn) error {
	if _, err := conn.Write(optionsFrame[:]); err != nil {
		return err
	}
	var hdr [9]byte
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		return err
	}
	if hdr[4] != opSupported {
		return fmt.Errorf("healthcheck: cql answered opcode 0x%02x to OPTIONS, want SUPPORTED (0x06)", hdr[4])
	}
	n := int64(binary.BigEndian.Uint32(hdr[5:]))
	if n > maxSupportedBody {
		return fmt.Errorf("healthcheck: cql answered OPTIONS with a %d-byte body, want at most %d", n, maxSupportedBody)
	}
	_, err := io.CopyN(io.Discard, conn, n)
	return err
}

// cqlOptionsOnce opens a connection, sends one OPTIONS frame on it and
// requires SUPPORTED. On success it returns the connection, ready for the
// next ping and no longer bound to ctx (nil if ctx's end closed it).
func cqlOptionsOnce(ctx context.Context, dial DialFunc, addr string, tlsConf *tls.Config) (net.Conn, error) {
	conn, release, err := cqlConn(ctx, dial, addr, tlsConf)
	if err != nil {
		return nil, err
	}
	err = cqlOptionsOn(conn)
	if !release() || err != nil {
		_ = conn.Close()
		if err == nil {
			return nil, nil
		}
		return nil, err
	}
	return conn, nil
}

// cqlOptionsPing repeats cqlOptionsOnce with exponential backoff (1 ms
// doubling up to timeout/3) until it succeeds or ctx ends. It returns the
// connection of the successful attempt (or nil, see cqlOptionsOnce), or
// the last error of an attempt that the deadline did not interrupt (the
// node answered wrongly: DOWN), or, when every attempt ran into the
// deadline, ctx's error (TIMEOUT).
func cqlOptionsPing(ctx context.Context, dial DialFunc, addr string, tlsConf *tls.Config, timeout time.Duration) (net.Conn, error) {
	maxWait := max(timeout/3, minBackoff)
	wait := minBackoff
	var definite error
	for {
		conn, err := cqlOptionsOnce(ctx, dial, addr, tlsConf)
		if err == nil {
			return conn, nil
		}
		if ctx.Err() == nil && !isTimeout(err) {
			definite = err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			if definite != nil {
				return nil, definite
			}
			return nil, fmt.Errorf("healthcheck: cql %s: %w (last attempt: %w)", addr, context.Cause(ctx), err)
		case <-t.C:
		}
		wait = min(2*wait, maxWait)
	}
}

// aLongTimeAgo is a deadline in the past: it interrupts a connection's
// pending reads and writes.
var aLongTimeAgo = time.Unix(1, 0)

// cqlKeptPing is the OPTIONS ping over the connection kept from the
// node's last ping, as a driver's heartbeat: no dial and no TLS handshake
// per round. When there is no kept connection, or it fails other than by
// the deadline (the node closed or reset it: restarted, or gone), the ping
// is cqlOptionsPing on a fresh connection, so a node that stopped
// listening is DOWN and a hung one TIMEOUT within the same deadline as
// without a kept connection. The connection of a successful ping is kept
// for the next one.
func (s *Service) cqlKeptPing(ctx context.Context, key cqlKey, c *Cluster) error {
	if conn := s.kept.take(key); conn != nil {
		if dl, ok := ctx.Deadline(); ok {
			_ = conn.SetDeadline(dl)
		}
		stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(aLongTimeAgo) })
		err := cqlOptionsOn(conn)
		// When ctx's end interrupted the ping, or may yet touch the
		// connection's deadline, the connection is not reused.
		if stop() && err == nil {
			s.kept.put(key, conn)
			return nil
		}
		_ = conn.Close()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || isTimeout(err) {
			return fmt.Errorf("healthcheck: cql %s (kept connection): %w", key.addr, err)
		}
	}
	var tlsConf *tls.Config
	if key.tls {
		tlsConf = clientTLS(c)
	}
	conn, err := cqlOptionsPing(ctx, s.opts.Dialer, key.addr, tlsConf, s.opts.Timeout)
	if conn != nil {
		s.kept.put(key, conn)
	}
	return err
}

// cqlQueryPing logs in with SASL PLAIN (if the node asks) and runs
// cqlPingQuery over protocol v3. An error caused by ctx's end wraps ctx's
// cause.
func cqlQueryPing(ctx context.Context, dial DialFunc, addr string, tlsConf *tls.Config, user, password string) error {
	err := cqlQuery(ctx, dial, addr, tlsConf, user, password)
	if err != nil && ctx.Err() != nil && !isTimeout(err) {
		return fmt.Errorf("healthcheck: cql %s: %w (%w)", addr, context.Cause(ctx), err)
	}
	return err
}

func cqlQuery(ctx context.Context, dial DialFunc, addr string, tlsConf *tls.Config, user, password string) error {
	conn, err := cqlconn.Open(ctx, cqlconn.DialFunc(dial), addr, tlsConf, user, password)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, rows, err := conn.Query(cqlPingQuery)
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		return fmt.Errorf("healthcheck: cql answered no row to %q", cqlPingQuery)
	}
	return nil
}

// isTimeout reports errors that say the deadline ran out.
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
