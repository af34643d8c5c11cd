package scyllatest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/datastax/go-cassandra-native-protocol/datatype"
	"github.com/datastax/go-cassandra-native-protocol/frame"
	"github.com/datastax/go-cassandra-native-protocol/message"
	"github.com/datastax/go-cassandra-native-protocol/primitive"
	"github.com/google/uuid"
)

// PasswordAuthenticator is the authenticator class the CQL endpoint
// announces when Options.CQLUser is set.
const PasswordAuthenticator = "org.apache.cassandra.auth.PasswordAuthenticator"

// cqlConns tracks open CQL connections so Close can end them.
type cqlConns struct {
	mu    sync.Mutex
	conns map[net.Conn]*Node
}

// Dialer dials the simulated nodes' CQL endpoints by address; it has the
// DialContext method gocql's ClusterConfig.Dialer wants.
type Dialer struct{ c *Cluster }

// CQLDialer returns a dialer that connects to a node's CQL endpoint by
// "ip:port" (any port), in-process (net.Pipe) or over TCP in Listen mode.
func (c *Cluster) CQLDialer() *Dialer { return &Dialer{c: c} }

// DialContext implements gocql's Dialer.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	n := d.c.nodeByIP(host)
	if n == nil {
		return nil, fmt.Errorf("scyllatest: dial cql %s: no such node", addr)
	}
	return d.c.DialCQL(ctx, n)
}

// CQLAddr returns the "ip:port" of node's CQL endpoint.
func (c *Cluster) CQLAddr(node *Node) string {
	return net.JoinHostPort(node.IP, fmt.Sprint(PortCQL))
}

// DialCQL opens a connection to node's CQL endpoint. A stopped or
// partitioned node refuses it.
func (c *Cluster) DialCQL(ctx context.Context, node *Node) (net.Conn, error) {
	if c.opts.Listen {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", c.CQLAddr(node))
	}
	if err := c.reachable(node); err != nil {
		return nil, err
	}
	cp, sp := net.Pipe()
	nodeAddr := &net.TCPAddr{IP: net.ParseIP(node.IP), Port: PortCQL}
	clientAddr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	client := &pipeConn{Conn: cp, local: clientAddr, remote: nodeAddr}
	server := &pipeConn{Conn: sp, local: nodeAddr, remote: clientAddr}
	if !c.serveConn(server, node) {
		client.Close()
		return nil, ErrClosed
	}
	return client, nil
}

// serveConn tracks conn and serves it on a goroutine owned by c.wg; it
// closes conn and returns false if the cluster is closed. The goroutine is
// started under the lock Close takes before waiting, so none starts after
// Close has begun waiting.
func (c *Cluster) serveConn(conn net.Conn, n *Node) bool {
	c.cql.mu.Lock()
	defer c.cql.mu.Unlock()
	if c.closed.Load() {
		conn.Close()
		return false
	}
	if c.cql.conns == nil {
		c.cql.conns = map[net.Conn]*Node{}
	}
	c.cql.conns[conn] = n
	c.wg.Go(func() { c.serveCQL(n, conn) })
	return true
}

func (c *Cluster) untrackConn(conn net.Conn) {
	c.cql.mu.Lock()
	delete(c.cql.conns, conn)
	c.cql.mu.Unlock()
}

// closeCQLConns closes every CQL connection of node (nil = all nodes).
func (c *Cluster) closeCQLConns(node *Node) {
	c.cql.mu.Lock()
	defer c.cql.mu.Unlock()
	for conn, n := range c.cql.conns {
		if node == nil || n == node {
			conn.Close()
		}
	}
}

// cqlSession is the per-connection state.
type cqlSession struct {
	n        *Node
	authed   bool
	keyspace string
	prepared map[string]string
}

// serveCQL answers native-protocol frames on conn until it closes.
func (c *Cluster) serveCQL(n *Node, conn net.Conn) {
	defer c.untrackConn(conn)
	defer conn.Close()
	codec := frame.NewCodec()
	s := &cqlSession{n: n, authed: c.opts.CQLUser == "", prepared: map[string]string{}}
	for {
		f, err := codec.DecodeFrame(conn)
		if err != nil {
			var pv *frame.ProtocolVersionErr
			if errors.As(err, &pv) {
				out := frame.NewFrame(primitive.ProtocolVersion4, 0, &message.ProtocolError{
					ErrorMessage: fmt.Sprintf("Invalid or unsupported protocol version (%d); supported versions are (3/v3, 4/v4)", pv.Version),
				})
				var buf bytes.Buffer
				if codec.EncodeFrame(out, &buf) == nil {
					_, _ = conn.Write(buf.Bytes())
				}
			}
			return
		}
		v := f.Header.Version
		if v != primitive.ProtocolVersion3 && v != primitive.ProtocolVersion4 {
			out := frame.NewFrame(primitive.ProtocolVersion4, f.Header.StreamId, &message.ProtocolError{
				ErrorMessage: fmt.Sprintf("Invalid or unsupported protocol version (%d); supported versions are (3/v3, 4/v4)", v),
			})
			var buf bytes.Buffer
			if codec.EncodeFrame(out, &buf) == nil {
				_, _ = conn.Write(buf.Bytes())
			}
			return
		}
		if !n.Up() || c.isPartitioned(n) {
			return
		}
		resp := s.handle(c, f.Body.Message)
		// Encode into a buffer and write once: net.Pipe blocks on every
		// write (even an empty one) until the peer reads it.
		var buf bytes.Buffer
		if err := codec.EncodeFrame(frame.NewFrame(v, f.Header.StreamId, resp), &buf); err != nil {
			return
		}
		if _, err := conn.Write(buf.Bytes()); err != nil {
			return
		}
	}
}

func (s *cqlSession) handle(c *Cluster, m message.Message) message.Message {
	switch m := m.(type) {
	case *message.Options:
		return &message.Supported{Options: map[string][]string{"CQL_VERSION": {"3.3.1"}, "COMPRESSION": {}}}
	case *message.Startup:
		if s.authed {
			return &message.Ready{}
		}
		return &message.Authenticate{Authenticator: PasswordAuthenticator}
	case *message.AuthResponse:
		parts := bytes.Split(m.Token, []byte{0})
		if len(parts) == 3 && string(parts[1]) == c.opts.CQLUser && string(parts[2]) == c.opts.CQLPassword {
			s.authed = true
			return &message.AuthSuccess{}
		}
		return &message.AuthenticationError{ErrorMessage: "Username and/or password are incorrect"}
	case *message.Register:
		return &message.Ready{}
	}
	if !s.authed {
		return &message.ProtocolError{ErrorMessage: "scyllatest: not authenticated: send STARTUP and AUTH_RESPONSE first"}
	}
	switch m := m.(type) {
	case *message.Query:
		return s.query(c, m.Query)
	case *message.Prepare:
		sum := sha256.Sum256([]byte(m.Query))
		id := sum[:16]
		s.prepared[string(id)] = m.Query
		// The result metadata of a SELECT is that of running it (reads
		// have no side effects here).
		meta := &message.RowsMetadata{}
		if strings.HasPrefix(strings.ToLower(strings.TrimSpace(m.Query)), "select ") {
			if r, ok := s.query(c, m.Query).(*message.RowsResult); ok {
				meta = &message.RowsMetadata{ColumnCount: r.Metadata.ColumnCount, Columns: r.Metadata.Columns}
			}
		}
		return &message.PreparedResult{PreparedQueryId: id, VariablesMetadata: &message.VariablesMetadata{}, ResultMetadata: meta}
	case *message.Execute:
		q, ok := s.prepared[string(m.QueryId)]
		if !ok {
			return &message.Unprepared{ErrorMessage: "unknown prepared statement", Id: m.QueryId}
		}
		return s.query(c, q)
	case *message.Batch:
		return &message.VoidResult{}
	}
	return &message.ProtocolError{ErrorMessage: fmt.Sprintf("scyllatest: unsupported message %T", m)}
}

var (
	reSpace   = regexp.MustCompile(`\s+`)
	reUse     = regexp.MustCompile(`(?i)^use\s+("[^"]+"|\w+)$`)
	reSelect  = regexp.MustCompile(`(?i)^select\s+(.+?)\s+from\s+(?:("[^"]+"|\w+)\.)?("[^"]+"|\w+)`)
	reNowCall = regexp.MustCompile(`(?i)^now\s*\(\s*\)$`)
	reWhereKT = regexp.MustCompile(`(?i)\bwhere\s+keyspace_name\s*=\s*'([^']*)'\s+and\s+table_name\s*=\s*'([^']*)'`)
)

func (s *cqlSession) query(c *Cluster, q string) message.Message {
	stmt := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(q), ";"))
	norm := reSpace.ReplaceAllString(stmt, " ")
	lower := strings.ToLower(norm)
	switch {
	case strings.HasPrefix(lower, "describe schema with internals"), strings.HasPrefix(lower, "desc schema with internals"):
		return s.describeSchema(c)
	case reUse.MatchString(norm):
		ks := ident(reUse.FindStringSubmatch(norm)[1])
		c.mu.Lock()
		_, ok := c.keyspaces[ks]
		c.mu.Unlock()
		if !ok {
			return &message.Invalid{ErrorMessage: fmt.Sprintf("Keyspace '%s' does not exist", ks)}
		}
		s.keyspace = ks
		return &message.SetKeyspaceResult{Keyspace: ks}
	case strings.HasPrefix(lower, "create "), strings.HasPrefix(lower, "drop "), strings.HasPrefix(lower, "alter table "):
		return s.ddl(c, norm)
	case strings.HasPrefix(lower, "select "):
		return s.selectStmt(c, norm)
	}
	return &message.Invalid{ErrorMessage: fmt.Sprintf("scyllatest: unsupported statement %.80q", stmt)}
}

func (s *cqlSession) ddl(c *Cluster, stmt string) message.Message {
	res, ok, err := c.applyDDL(stmt, s.keyspace)
	if !ok {
		return &message.SyntaxError{ErrorMessage: fmt.Sprintf("scyllatest: unsupported statement %.80q", stmt)}
	}
	switch {
	case errors.Is(err, errAlreadyExists):
		return &message.AlreadyExists{ErrorMessage: err.Error(), Keyspace: res.keyspace, Table: res.name}
	case errors.Is(err, errUnauthorized):
		return &message.Unauthorized{ErrorMessage: err.Error()}
	case err != nil:
		return &message.Invalid{ErrorMessage: err.Error()}
	case res.noop:
		return &message.VoidResult{}
	}
	out := &message.SchemaChangeResult{
		ChangeType: primitive.SchemaChangeType(res.change),
		Target:     primitive.SchemaChangeTarget(res.target),
		Keyspace:   res.keyspace,
	}
	if res.target == "TABLE" {
		out.Object = res.name
	}
	return out
}

func col(ks, tbl, name string, t datatype.DataType) *message.ColumnMetadata {
	return &message.ColumnMetadata{Keyspace: ks, Table: tbl, Name: name, Type: t}
}

func rows(cols []*message.ColumnMetadata, data message.RowSet) *message.RowsResult {
	if data == nil {
		data = message.RowSet{}
	}
	return &message.RowsResult{Metadata: &message.RowsMetadata{ColumnCount: int32(len(cols)), Columns: cols}, Data: data}
}

func (s *cqlSession) describeSchema(c *Cluster) message.Message {
	cols := []*message.ColumnMetadata{
		col("", "", "keyspace_name", datatype.Varchar), col("", "", "type", datatype.Varchar),
		col("", "", "name", datatype.Varchar), col("", "", "create_statement", datatype.Varchar),
	}
	var data message.RowSet
	for _, r := range c.Schema() {
		data = append(data, message.Row{[]byte(r.Keyspace), []byte(r.Type), []byte(r.Name), []byte(r.CreateStatement)})
	}
	return rows(cols, data)
}

func (s *cqlSession) selectStmt(c *Cluster, stmt string) message.Message {
	m := reSelect.FindStringSubmatch(stmt)
	if m == nil {
		return &message.SyntaxError{ErrorMessage: fmt.Sprintf("scyllatest: cannot parse %.80q", stmt)}
	}
	ks, tbl := s.keyspace, ident(m[3])
	if m[2] != "" {
		ks = ident(m[2])
	}
	if ks == "system" && tbl == "local" && reNowCall.MatchString(strings.TrimSpace(m[1])) {
		u := timeUUID(time.Now(), uint64(s.n.HostID.ID()))
		return rows([]*message.ColumnMetadata{col("system", "local", "system.now()", datatype.Timeuuid)}, message.RowSet{{u[:]}})
	}
	switch {
	case ks == "system" && tbl == "local":
		return rows(peerColumns("local"), message.RowSet{s.peerRow(c, s.n, true)})
	case ks == "system" && tbl == "peers":
		var data message.RowSet
		for _, x := range c.Nodes() {
			if x != s.n {
				data = append(data, s.peerRow(c, x, false))
			}
		}
		return rows(peerColumns("peers"), data)
	case ks == "system_schema" && tbl == "tables" && reWhereKT.MatchString(stmt):
		// The id of one table (the restore reads its directory version).
		w := reWhereKT.FindStringSubmatch(stmt)
		cols := []*message.ColumnMetadata{col("system_schema", "tables", "id", datatype.Uuid)}
		c.mu.Lock()
		t, err := c.tableLocked(w[1], w[2])
		c.mu.Unlock()
		if err != nil {
			return rows(cols, nil)
		}
		return rows(cols, message.RowSet{{t.id[:]}})
	case ks == "system_schema" && tbl == "views":
		return s.selectViews(c, m[1])
	case ks == "system" && tbl == "peers_v2":
		return &message.Invalid{ErrorMessage: "unconfigured table peers_v2"}
	case strings.HasPrefix(ks, "system"):
		return rows(nil, nil)
	}
	c.mu.Lock()
	_, err := c.tableLocked(ks, tbl)
	c.mu.Unlock()
	if err != nil {
		return &message.Invalid{ErrorMessage: fmt.Sprintf("unconfigured table %s", tbl)}
	}
	return rows(nil, nil) // user tables hold no rows the simulator can read
}

// selectViews answers SELECT <columns> FROM system_schema.views: one row
// per materialized view (Table.BaseTable) of the user keyspaces, with the
// columns keyspace_name, view_name and base_table_name.
func (s *cqlSession) selectViews(c *Cluster, list string) message.Message {
	var names []string
	for _, f := range strings.Split(list, ",") {
		names = append(names, strings.ToLower(strings.TrimSpace(f)))
	}
	if len(names) == 1 && names[0] == "*" {
		names = []string{"keyspace_name", "view_name", "base_table_name"}
	}
	var cols []*message.ColumnMetadata
	for _, n := range names {
		switch n {
		case "keyspace_name", "view_name", "base_table_name":
			cols = append(cols, col("system_schema", "views", n, datatype.Varchar))
		default:
			return &message.Invalid{ErrorMessage: fmt.Sprintf("scyllatest: system_schema.views: unsupported column %q (want keyspace_name, view_name, base_table_name)", n)}
		}
	}
	var data message.RowSet
	c.mu.Lock()
	for _, k := range c.sortedKeyspacesLocked() {
		for _, t := range sortedTables(k) {
			if t.spec.BaseTable == "" {
				continue
			}
			var row message.Row
			for _, n := range names {
				switch n {
				case "keyspace_name":
					row = append(row, []byte(k.name))
				case "view_name":
					row = append(row, []byte(t.name))
				default:
					row = append(row, []byte(t.spec.BaseTable))
				}
			}
			data = append(data, row)
		}
	}
	c.mu.Unlock()
	return rows(cols, data)
}

func peerColumns(tbl string) []*message.ColumnMetadata {
	first := col("system", tbl, "peer", datatype.Inet)
	if tbl == "local" {
		first = col("system", tbl, "key", datatype.Varchar)
	}
	return []*message.ColumnMetadata{
		first,
		col("system", tbl, "broadcast_address", datatype.Inet),
		col("system", tbl, "cluster_name", datatype.Varchar),
		col("system", tbl, "cql_version", datatype.Varchar),
		col("system", tbl, "data_center", datatype.Varchar),
		col("system", tbl, "host_id", datatype.Uuid),
		col("system", tbl, "listen_address", datatype.Inet),
		col("system", tbl, "partitioner", datatype.Varchar),
		col("system", tbl, "rack", datatype.Varchar),
		col("system", tbl, "release_version", datatype.Varchar),
		col("system", tbl, "rpc_address", datatype.Inet),
		col("system", tbl, "schema_version", datatype.Uuid),
		col("system", tbl, "tokens", datatype.NewSet(datatype.Varchar)),
	}
}

func (s *cqlSession) peerRow(c *Cluster, x *Node, local bool) message.Row {
	ip := net.ParseIP(x.IP).To4()
	first := []byte(ip)
	if local {
		first = []byte("local")
	}
	schemaVersion := uuid.NewSHA1(uuid.NameSpaceOID, []byte(c.opts.ClusterName))
	return message.Row{
		first, ip, []byte(c.opts.ClusterName), []byte("3.3.1"), []byte(x.DC), x.HostID[:], ip,
		[]byte("org.apache.cassandra.dht.Murmur3Partitioner"), []byte(x.Rack), []byte("3.0.8"), ip,
		schemaVersion[:], encodeTextSet(formatTokens(x.Tokens)),
	}
}

// encodeTextSet encodes a set<text> value for protocol v3+.
func encodeTextSet(vals []string) []byte {
	var b bytes.Buffer
	_ = binary.Write(&b, binary.BigEndian, int32(len(vals)))
	for _, v := range vals {
		_ = binary.Write(&b, binary.BigEndian, int32(len(v)))
		b.WriteString(v)
	}
	return b.Bytes()
}

// pipeConn is a net.Pipe end with TCP addresses (drivers such as gocql
// expect *net.TCPAddr).
type pipeConn struct {
	net.Conn
	local, remote *net.TCPAddr
}

func (p *pipeConn) LocalAddr() net.Addr  { return p.local }
func (p *pipeConn) RemoteAddr() net.Addr { return p.remote }
