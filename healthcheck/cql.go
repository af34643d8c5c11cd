package healthcheck

import (
	"context"
	"crypto/tls"
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
// returned func closes the connection.
func cqlConn(ctx context.Context, dial DialFunc, addr string, tlsConf *tls.Config) (net.Conn, func(), error) {
	conn, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	closer := func() {
		stop()
		_ = conn.Close()
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if tlsConf != nil {
		tc := tls.Client(conn, tlsConf)
		if err := tc.HandshakeContext(ctx); err != nil {
			closer()
			return nil, nil, fmt.Errorf("tls handshake: %w", err)
		}
		conn = tc
	}
	return conn, closer, nil
}

// cqlOptionsOnce sends one OPTIONS frame and requires SUPPORTED.
func cqlOptionsOnce(ctx context.Context, dial DialFunc, addr string, tlsConf *tls.Config) error {
	conn, closeConn, err := cqlConn(ctx, dial, addr, tlsConf)
	if err != nil {
		return err
	}
	defer closeConn()
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
	return nil
}

// cqlOptionsPing repeats cqlOptionsOnce with exponential backoff (1 ms
// doubling up to timeout/3) until it succeeds or ctx ends. It returns nil,
// or the last error of an attempt that the deadline did not interrupt
// (the node answered wrongly: DOWN), or, when every attempt ran into the
// deadline, ctx's error (TIMEOUT).
func cqlOptionsPing(ctx context.Context, dial DialFunc, addr string, tlsConf *tls.Config, timeout time.Duration) error {
	maxWait := max(timeout/3, minBackoff)
	wait := minBackoff
	var definite error
	for {
		err := cqlOptionsOnce(ctx, dial, addr, tlsConf)
		if err == nil {
			return nil
		}
		if ctx.Err() == nil && !isTimeout(err) {
			definite = err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			if definite != nil {
				return definite
			}
			return fmt.Errorf("healthcheck: cql %s: %w (last attempt: %w)", addr, context.Cause(ctx), err)
		case <-t.C:
		}
		wait = min(2*wait, maxWait)
	}
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
