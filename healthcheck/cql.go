package healthcheck

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/datastax/go-cassandra-native-protocol/frame"
	"github.com/datastax/go-cassandra-native-protocol/message"
	"github.com/datastax/go-cassandra-native-protocol/primitive"
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

// errUnauthorized marks CQL authentication failures.
var errUnauthorized = errors.New("healthcheck: unauthorized")

// cqlServerError is an ERROR frame received from the node.
type cqlServerError struct {
	code primitive.ErrorCode
	msg  string
}

func (e *cqlServerError) Error() string {
	return fmt.Sprintf("healthcheck: cql error %s: %s", e.code, e.msg)
}

// Is makes authentication failures match errUnauthorized, by code or by
// the texts Scylla and Cassandra send.
func (e *cqlServerError) Is(target error) bool {
	if target != errUnauthorized {
		return false
	}
	return e.code == primitive.ErrorCodeAuthenticationError ||
		strings.Contains(e.msg, "authentication failed") ||
		strings.Contains(e.msg, "Username and/or password are incorrect")
}

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
	conn, closeConn, err := cqlConn(ctx, dial, addr, tlsConf)
	if err != nil {
		return err
	}
	defer closeConn()
	codec := frame.NewCodec()
	r := bufio.NewReader(conn)
	var stream int16
	roundTrip := func(req message.Message) (message.Message, error) {
		stream++
		f := frame.NewFrame(primitive.ProtocolVersion3, stream, req)
		var buf bytes.Buffer
		if err := codec.EncodeFrame(f, &buf); err != nil {
			return nil, fmt.Errorf("healthcheck: encode %s: %w", req, err)
		}
		if _, err := conn.Write(buf.Bytes()); err != nil {
			return nil, fmt.Errorf("send %s: %w", req, err)
		}
		resp, err := codec.DecodeFrame(r)
		if err != nil {
			return nil, fmt.Errorf("read answer to %s: %w", req, err)
		}
		if e, ok := resp.Body.Message.(message.Error); ok {
			return nil, &cqlServerError{code: e.GetErrorCode(), msg: e.GetErrorMessage()}
		}
		return resp.Body.Message, nil
	}

	resp, err := roundTrip(message.NewStartup())
	if err != nil {
		return err
	}
	switch resp.(type) {
	case *message.Ready:
	case *message.Authenticate:
		token := make([]byte, 0, 2+len(user)+len(password))
		token = append(token, 0)
		token = append(token, user...)
		token = append(token, 0)
		token = append(token, password...)
		resp, err := roundTrip(&message.AuthResponse{Token: token})
		if err != nil {
			return err
		}
		if _, ok := resp.(*message.AuthSuccess); !ok {
			return fmt.Errorf("healthcheck: cql answered %s to AUTH_RESPONSE, want AUTH_SUCCESS", resp)
		}
	default:
		return fmt.Errorf("healthcheck: cql answered %s to STARTUP, want READY or AUTHENTICATE", resp)
	}
	resp, err = roundTrip(&message.Query{
		Query:   cqlPingQuery,
		Options: &message.QueryOptions{Consistency: primitive.ConsistencyLevelOne},
	})
	if err != nil {
		return err
	}
	if _, ok := resp.(*message.RowsResult); !ok {
		return fmt.Errorf("healthcheck: cql answered %s to the query, want ROWS", resp)
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
