// Package cqlconn is a minimal CQL native-protocol (v3) connection: the
// STARTUP / SASL PLAIN login and simple queries whose result rows are
// decoded as text. The health check's authenticated ping and the backup's
// DESCRIBE SCHEMA WITH INTERNALS use it; a full driver (gocql) would be
// far heavier and would want the cluster's whole topology.
//
// # Concurrency
//
// A Conn is used by one goroutine at a time.
//
// # Errors
//
// A server ERROR frame is a *ServerError; authentication failures match
// ErrUnauthorized with errors.Is.
package cqlconn

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/datastax/go-cassandra-native-protocol/frame"
	"github.com/datastax/go-cassandra-native-protocol/message"
	"github.com/datastax/go-cassandra-native-protocol/primitive"
)

// ErrUnauthorized matches authentication failures.
var ErrUnauthorized = errors.New("cql: unauthorized")

// ServerError is an ERROR frame received from the node.
type ServerError struct {
	Code primitive.ErrorCode
	Msg  string
}

func (e *ServerError) Error() string { return fmt.Sprintf("cql error %s: %s", e.Code, e.Msg) }

// Is makes authentication failures match ErrUnauthorized, by code or by
// the texts Scylla and Cassandra send.
func (e *ServerError) Is(target error) bool {
	if target != ErrUnauthorized {
		return false
	}
	return e.Code == primitive.ErrorCodeAuthenticationError ||
		strings.Contains(e.Msg, "authentication failed") ||
		strings.Contains(e.Msg, "Username and/or password are incorrect")
}

// DialFunc opens a network connection.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Conn is a logged-in CQL connection.
type Conn struct {
	conn   net.Conn
	r      *bufio.Reader
	codec  frame.Codec
	stream int16
	stop   func() bool
}

// Open dials addr (over TLS when tlsConf is set), sends STARTUP and, if
// the node asks, logs in with SASL PLAIN. ctx bounds the connection's
// whole life: its deadline is the connection's and its end closes it.
func Open(ctx context.Context, dial DialFunc, addr string, tlsConf *tls.Config, user, password string) (*Conn, error) {
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	nc, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &Conn{conn: nc, codec: frame.NewCodec()}
	c.stop = context.AfterFunc(ctx, func() { _ = nc.Close() })
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	if tlsConf != nil {
		tc := tls.Client(nc, tlsConf)
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, fmt.Errorf("tls handshake: %w", err)
		}
		c.conn = tc
	}
	c.r = bufio.NewReader(c.conn)
	if err := c.login(user, password); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Close closes the connection.
func (c *Conn) Close() {
	c.stop()
	_ = c.conn.Close()
}

func (c *Conn) roundTrip(req message.Message) (message.Message, error) {
	c.stream++
	f := frame.NewFrame(primitive.ProtocolVersion3, c.stream, req)
	var buf bytes.Buffer
	if err := c.codec.EncodeFrame(f, &buf); err != nil {
		return nil, fmt.Errorf("encode %s: %w", req, err)
	}
	if _, err := c.conn.Write(buf.Bytes()); err != nil {
		return nil, fmt.Errorf("send %s: %w", req, err)
	}
	resp, err := c.codec.DecodeFrame(c.r)
	if err != nil {
		return nil, fmt.Errorf("read answer to %s: %w", req, err)
	}
	if e, ok := resp.Body.Message.(message.Error); ok {
		return nil, &ServerError{Code: e.GetErrorCode(), Msg: e.GetErrorMessage()}
	}
	return resp.Body.Message, nil
}

func (c *Conn) login(user, password string) error {
	resp, err := c.roundTrip(message.NewStartup())
	if err != nil {
		return err
	}
	switch resp.(type) {
	case *message.Ready:
		return nil
	case *message.Authenticate:
		token := make([]byte, 0, 2+len(user)+len(password))
		token = append(token, 0)
		token = append(token, user...)
		token = append(token, 0)
		token = append(token, password...)
		resp, err := c.roundTrip(&message.AuthResponse{Token: token})
		if err != nil {
			return err
		}
		if _, ok := resp.(*message.AuthSuccess); !ok {
			return fmt.Errorf("cql answered %s to AUTH_RESPONSE, want AUTH_SUCCESS", resp)
		}
		return nil
	default:
		return fmt.Errorf("cql answered %s to STARTUP, want READY or AUTHENTICATE", resp)
	}
}

// Query runs stmt at consistency ONE and returns the result rows, every
// column decoded as text (NULL as ""), with the column names. A statement
// without a rows result returns no rows.
func (c *Conn) Query(stmt string) (cols []string, rows [][]string, err error) {
	resp, err := c.roundTrip(&message.Query{
		Query:   stmt,
		Options: &message.QueryOptions{Consistency: primitive.ConsistencyLevelOne},
	})
	if err != nil {
		return nil, nil, err
	}
	rr, ok := resp.(*message.RowsResult)
	if !ok {
		return nil, nil, nil
	}
	if rr.Metadata != nil {
		for _, col := range rr.Metadata.Columns {
			cols = append(cols, col.Name)
		}
	}
	for _, row := range rr.Data {
		out := make([]string, len(row))
		for i, v := range row {
			out[i] = string(v)
		}
		rows = append(rows, out)
	}
	return cols, rows, nil
}
