package scyllatest_test

import (
	"bytes"
	"io"
	"log"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/datastax/go-cassandra-native-protocol/frame"
	"github.com/datastax/go-cassandra-native-protocol/message"
	"github.com/datastax/go-cassandra-native-protocol/primitive"
	"github.com/gocql/gocql"
	"github.com/google/go-cmp/cmp"

	"github.com/scyllaops/scyllaops/scyllatest"
)

// cqlConn is a minimal native-protocol client for the tests.
type cqlConn struct {
	t     *testing.T
	conn  net.Conn
	codec frame.Codec
	v     primitive.ProtocolVersion
}

func (c *cqlConn) do(m message.Message) message.Message {
	c.t.Helper()
	var buf bytes.Buffer
	if err := c.codec.EncodeFrame(frame.NewFrame(c.v, 1, m), &buf); err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.conn.Write(buf.Bytes()); err != nil {
		c.t.Fatal(err)
	}
	f, err := c.codec.DecodeFrame(c.conn)
	if err != nil {
		c.t.Fatal(err)
	}
	if !f.Header.IsResponse || f.Header.StreamId != 1 || f.Header.Version != c.v {
		c.t.Fatalf("bad response header %+v", f.Header)
	}
	return f.Body.Message
}

func TestCQLOptionsFrame(t *testing.T) {
	c := scyllatest.New(t, scyllatest.Options{TokensPerNode: 4})
	conn, err := c.DialCQL(t.Context(), c.Nodes()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The raw frame the health check sends without credentials.
	if _, err := conn.Write([]byte{0x04, 0, 0, 0, 0x05, 0, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	hdr := make([]byte, 9)
	if _, err := io.ReadFull(conn, hdr); err != nil {
		t.Fatal(err)
	}
	if hdr[0] != 0x84 || hdr[4] != 0x06 {
		t.Fatalf("header % x: want version 0x84 and opcode 0x06 SUPPORTED", hdr)
	}
}

func TestCQLAuthAndQueries(t *testing.T) {
	c := scyllatest.New(t, scyllatest.Options{TokensPerNode: 4, CQLUser: "alice", CQLPassword: "secret"})
	dial := func(v primitive.ProtocolVersion) *cqlConn {
		conn, err := c.DialCQL(t.Context(), c.Nodes()[1])
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return &cqlConn{t: t, conn: conn, codec: frame.NewCodec(), v: v}
	}
	// Wrong password.
	cc := dial(primitive.ProtocolVersion4)
	if m, ok := cc.do(&message.Startup{Options: map[string]string{"CQL_VERSION": "3.0.0"}}).(*message.Authenticate); !ok || m.Authenticator != scyllatest.PasswordAuthenticator {
		t.Fatalf("STARTUP answered %v, want AUTHENTICATE PasswordAuthenticator", m)
	}
	if _, ok := cc.do(&message.Query{Query: "SELECT now() FROM system.local"}).(*message.ProtocolError); !ok {
		t.Fatal("query before auth accepted")
	}
	if m, ok := cc.do(&message.AuthResponse{Token: []byte("\x00alice\x00wrong")}).(*message.AuthenticationError); !ok || !strings.Contains(m.ErrorMessage, "Username and/or password are incorrect") {
		t.Fatalf("wrong password answered %v", m)
	}

	for _, v := range []primitive.ProtocolVersion{primitive.ProtocolVersion3, primitive.ProtocolVersion4} {
		cc := dial(v)
		cc.do(&message.Startup{Options: map[string]string{"CQL_VERSION": "3.0.0"}})
		if m, ok := cc.do(&message.AuthResponse{Token: []byte("\x00alice\x00secret")}).(*message.AuthSuccess); !ok {
			t.Fatalf("v%d: right password answered %v", v, m)
		}
		rows, ok := cc.do(&message.Query{Query: "SELECT now() FROM system.local WHERE key='local'"}).(*message.RowsResult)
		if !ok || len(rows.Data) != 1 || len(rows.Data[0][0]) != 16 || rows.Data[0][0][6]>>4 != 1 {
			t.Fatalf("v%d: SELECT now() answered %v, want one timeuuid", v, rows)
		}
	}

	// DDL and DESCRIBE SCHEMA WITH INTERNALS.
	cc = dial(primitive.ProtocolVersion4)
	cc.do(&message.Startup{})
	cc.do(&message.AuthResponse{Token: []byte("\x00alice\x00secret")})
	for _, q := range []string{
		"CREATE KEYSPACE IF NOT EXISTS shop WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 2} AND durable_writes = true",
		"CREATE TABLE shop.orders (id uuid, at timestamp, total decimal, PRIMARY KEY ((id), at)) WITH CLUSTERING ORDER BY (at DESC) AND ID = 0d4f4b8e-1a2b-4c3d-8e9f-0a1b2c3d4e5f",
	} {
		if m, ok := cc.do(&message.Query{Query: q}).(*message.SchemaChangeResult); !ok || m.ChangeType != primitive.SchemaChangeTypeCreated {
			t.Fatalf("%s: answered %v", q, m)
		}
	}
	if _, ok := cc.do(&message.Query{Query: "CREATE KEYSPACE shop WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"}).(*message.AlreadyExists); !ok {
		t.Fatal("duplicate keyspace accepted")
	}
	dir := c.TableDir(c.Nodes()[2], "shop", "orders")
	if !strings.HasSuffix(dir, "/shop/orders-0d4f4b8e1a2b4c3d8e9f0a1b2c3d4e5f") {
		t.Fatalf("table dir %q does not carry the table ID", dir)
	}
	rows, ok := cc.do(&message.Query{Query: "DESCRIBE SCHEMA WITH INTERNALS"}).(*message.RowsResult)
	if !ok {
		t.Fatal("DESCRIBE failed")
	}
	var got []string
	for _, r := range rows.Data {
		got = append(got, string(r[0])+"|"+string(r[1])+"|"+string(r[2]))
		if bytes.Contains(r[3], []byte("orders")) && !bytes.Contains(r[3], []byte("CLUSTERING ORDER BY")) && !bytes.Contains(r[3], []byte("PRIMARY KEY ((id), at)")) {
			t.Fatalf("orders statement %q lost the columns", r[3])
		}
	}
	if strings.Join(got, ",") != "ks|keyspace|ks,ks|table|t,shop|keyspace|shop,shop|table|orders" {
		t.Fatalf("DESCRIBE rows %v", got)
	}
	if ks, err := c.Client().Keyspaces(t.Context(), c.ContactHost(), "user", ""); err != nil || strings.Join(ks, ",") != "ks,shop" {
		t.Fatalf("REST keyspaces after CREATE: %v %v", ks, err)
	}
	if _, ok := cc.do(&message.Query{Query: "DROP KEYSPACE shop"}).(*message.SchemaChangeResult); !ok {
		t.Fatal("DROP KEYSPACE failed")
	}
	if len(c.Schema()) != 2 {
		t.Fatalf("schema after DROP: %v", c.Schema())
	}
	if _, ok := cc.do(&message.Query{Query: "DROP TABLE system_schema.tables"}).(*message.Unauthorized); !ok {
		t.Fatal("dropping a system table accepted")
	}
}

// TestGocql connects the real gocql driver (protocol v3, as the health
// check does) through the in-process dialer.
func TestGocql(t *testing.T) {
	c := scyllatest.New(t, scyllatest.Options{TokensPerNode: 4, CQLUser: "alice", CQLPassword: "secret"})
	n := c.Nodes()[0]
	cfg := gocql.NewCluster(c.CQLAddr(n))
	cfg.Dialer = c.CQLDialer()
	cfg.Logger = log.New(io.Discard, "", 0)
	cfg.ProtoVersion = 3
	cfg.DisableInitialHostLookup = true
	cfg.Events.DisableNodeStatusEvents = true
	cfg.Events.DisableTopologyEvents = true
	cfg.Events.DisableSchemaEvents = true
	cfg.Timeout = 5 * time.Second
	cfg.ConnectTimeout = 5 * time.Second
	cfg.Authenticator = gocql.PasswordAuthenticator{Username: "alice", Password: "secret"}
	s, err := cfg.CreateSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var now gocql.UUID
	if err := s.Query("SELECT now() FROM system.local WHERE key='local'").WithContext(t.Context()).Scan(&now); err != nil {
		t.Fatal(err)
	}
	if now.Version() != 1 || time.Since(now.Time()) > time.Hour {
		t.Fatalf("now() = %v (%v), want a current timeuuid", now, now.Time())
	}
	cfg.Authenticator = gocql.PasswordAuthenticator{Username: "alice", Password: "nope"}
	if _, err := cfg.CreateSession(); err == nil || !strings.Contains(err.Error(), "Username and/or password are incorrect") {
		t.Fatalf("wrong password: %v", err)
	}
}

// TestSchemaRoundTrip replays one cluster's DESCRIBE SCHEMA WITH INTERNALS
// on an empty cluster, as a schema restore does: same keyspaces, tables and
// table IDs (so the same <table>-<id> directories).
func TestSchemaRoundTrip(t *testing.T) {
	src := scyllatest.New(t, scyllatest.Options{TokensPerNode: 4, Keyspaces: []scyllatest.Keyspace{
		{Name: "a", Replication: scyllatest.Simple(2), Tables: []scyllatest.Table{{Name: "x"}, {Name: "y"}}},
		{Name: "b", Replication: scyllatest.NTS(map[string]int{"dc1": 3})},
	}})
	dst := scyllatest.New(t, scyllatest.Options{TokensPerNode: 4, Keyspaces: []scyllatest.Keyspace{}, Seed: 7})
	conn, err := dst.DialCQL(t.Context(), dst.Nodes()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cc := &cqlConn{t: t, conn: conn, codec: frame.NewCodec(), v: primitive.ProtocolVersion4}
	cc.do(&message.Startup{})
	for _, r := range src.Schema() {
		if _, ok := cc.do(&message.Query{Query: r.CreateStatement}).(*message.SchemaChangeResult); !ok {
			t.Fatalf("replaying %q failed", r.CreateStatement)
		}
	}
	if d := cmp.Diff(src.Schema(), dst.Schema()); d != "" {
		t.Fatalf("schema after replay (-src +dst):\n%s", d)
	}
	srcDir, dstDir := src.TableDir(src.Nodes()[0], "a", "y"), dst.TableDir(dst.Nodes()[2], "a", "y")
	if filepath.Base(srcDir) != filepath.Base(dstDir) {
		t.Fatalf("table dirs %s and %s differ", srcDir, dstDir)
	}
}
