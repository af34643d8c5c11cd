package healthcheck

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/datastax/go-cassandra-native-protocol/datatype"
	"github.com/datastax/go-cassandra-native-protocol/frame"
	"github.com/datastax/go-cassandra-native-protocol/message"
	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/internal/agentapi"
)

// This file is a light fixture: nodes made of a real CQL listener
// (speaking enough of the native protocol: OPTIONS, STARTUP, SASL PLAIN,
// QUERY) and an in-process agent handler answering node_info and the REST
// ping. It is cheap enough to run 1,000 nodes in the benchmark; the
// scyllatest-based tests exercise the real agent and simulator.

// lightCQL is a CQL endpoint on 127.0.0.1.
type lightCQL struct {
	ln   net.Listener
	user string
	pass string
	// hang makes the endpoint accept connections and never answer.
	hang atomic.Bool
	// mute makes every connection, open ones too, read requests and
	// never answer.
	mute atomic.Bool
	// accepts counts the accepted connections.
	accepts atomic.Int64

	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	done  chan struct{}
}

func newLightCQL(tb testing.TB, user, pass string) *lightCQL {
	tb.Helper()
	return newLightCQLAt(tb, "127.0.0.1:0", user, pass)
}

// newLightCQLAt is newLightCQL listening on addr (a restarted node keeps
// its address).
func newLightCQLAt(tb testing.TB, addr, user, pass string) *lightCQL {
	tb.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	s := &lightCQL{ln: ln, user: user, pass: pass, conns: map[net.Conn]struct{}{}, done: make(chan struct{})}
	s.wg.Go(s.accept)
	tb.Cleanup(s.close)
	return s
}

func (s *lightCQL) port() string {
	return strconv.Itoa(s.ln.Addr().(*net.TCPAddr).Port)
}

func (s *lightCQL) close() {
	select {
	case <-s.done:
		return
	default:
	}
	close(s.done)
	_ = s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// dropConns closes the open connections; the endpoint keeps listening.
func (s *lightCQL) dropConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		_ = c.Close()
	}
}

func (s *lightCQL) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.accepts.Add(1)
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Go(func() {
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				_ = c.Close()
			}()
			if s.hang.Load() {
				<-s.done
				return
			}
			serveCQLMuted(c, s.user, s.pass, s.mute.Load)
		})
	}
}

// serveCQL answers native-protocol requests on c until it is closed.
func serveCQL(c net.Conn, user, pass string) {
	serveCQLMuted(c, user, pass, func() bool { return false })
}

// serveCQLMuted is serveCQL that reads but does not answer the requests
// that arrive while muted says so.
func serveCQLMuted(c net.Conn, user, pass string, muted func() bool) {
	codec := frame.NewCodec()
	r := bufio.NewReader(c)
	authed := user == ""
	for {
		req, err := codec.DecodeFrame(r)
		if err != nil {
			return
		}
		if muted() {
			continue
		}
		var resp message.Message
		switch m := req.Body.Message.(type) {
		case *message.Options:
			resp = &message.Supported{Options: map[string][]string{"CQL_VERSION": {"3.3.1"}}}
		case *message.Startup:
			if user == "" {
				resp = &message.Ready{}
			} else {
				resp = &message.Authenticate{Authenticator: "org.apache.cassandra.auth.PasswordAuthenticator"}
			}
		case *message.AuthResponse:
			if bytes.Equal(m.Token, []byte("\x00"+user+"\x00"+pass)) {
				authed = true
				resp = &message.AuthSuccess{}
			} else {
				resp = &message.AuthenticationError{ErrorMessage: "Username and/or password are incorrect"}
			}
		case *message.Query:
			if !authed {
				resp = &message.Unauthorized{ErrorMessage: "not logged in"}
				break
			}
			id := uuid.Must(uuid.NewUUID())
			resp = &message.RowsResult{
				Metadata: &message.RowsMetadata{ColumnCount: 1, Columns: []*message.ColumnMetadata{{
					Keyspace: "system", Table: "local", Name: "system.now()", Type: datatype.Timeuuid,
				}}},
				Data: message.RowSet{{id[:]}},
			}
		default:
			resp = &message.ProtocolError{ErrorMessage: fmt.Sprintf("unsupported %s", m)}
		}
		var buf bytes.Buffer
		if err := codec.EncodeFrame(frame.NewFrame(req.Header.Version, req.Header.StreamId, resp), &buf); err != nil {
			return
		}
		if _, err := c.Write(buf.Bytes()); err != nil {
			return
		}
	}
}

// lightAgent is an in-process agent answering node_info and the REST ping.
type lightAgent struct {
	ni agentapi.NodeInfo
	// hang makes every call wait for the request's end.
	hang atomic.Bool
	// restStatus, when non-zero, is the status of the REST ping.
	restStatus atomic.Int32
}

func (a *lightAgent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if a.hang.Load() {
		<-r.Context().Done()
		return
	}
	switch r.URL.Path {
	case agentapi.PathNodeInfo:
		_ = json.NewEncoder(w).Encode(a.ni)
	case "/storage_service/scylla_release_version":
		if code := a.restStatus.Load(); code != 0 {
			w.WriteHeader(int(code))
			_, _ = fmt.Fprintf(w, `{"message":"scylla says %d","code":%d}`, code, code)
			return
		}
		_, _ = w.Write([]byte(`"2025.1.0"`))
	default:
		http.NotFound(w, r)
	}
}

// lightNode is one node of a lightCluster.
type lightNode struct {
	Node
	cql   *lightCQL
	agent *lightAgent
}

// lightCluster is n light nodes behind one in-process agent transport, and
// the ClusterSource of the service under test.
type lightCluster struct {
	id    uuid.UUID
	nodes []*lightNode
	tr    *agentclient.InProcessTransport
	cl    *agentclient.Client
	user  string
	pass  string
}

func newLightCluster(tb testing.TB, n int, user, pass string) *lightCluster {
	tb.Helper()
	tr := agentclient.NewInProcessTransport()
	cl, err := agentclient.New(tr, agentclient.Options{AuthToken: "t", RetryMax: -1})
	if err != nil {
		tb.Fatal(err)
	}
	lc := &lightCluster{id: uuid.New(), tr: tr, cl: cl, user: user, pass: pass}
	for i := range n {
		cql := newLightCQL(tb, user, pass)
		host := fmt.Sprintf("node-%04d", i)
		a := &lightAgent{ni: agentapi.NodeInfo{
			RPCAddress: "127.0.0.1", NativeTransportPort: cql.port(), CqlPasswordProtected: user != "",
		}}
		tr.Register(host, a)
		lc.nodes = append(lc.nodes, &lightNode{
			Node: Node{Host: host, DC: fmt.Sprintf("dc%d", i%2+1), Rack: "rack1"}, cql: cql, agent: a,
		})
	}
	return lc
}

func (lc *lightCluster) HealthcheckCluster(_ context.Context, id uuid.UUID) (Cluster, error) {
	if id != lc.id {
		return Cluster{}, errors.New("no such cluster")
	}
	c := Cluster{Agent: lc.cl, CQLUsername: lc.user, CQLPassword: lc.pass}
	for _, n := range lc.nodes {
		c.Nodes = append(c.Nodes, n.Node)
	}
	return c, nil
}

func contextWithCancel(t *testing.T) (context.Context, context.CancelCauseFunc) {
	ctx, cancel := context.WithCancelCause(t.Context())
	t.Cleanup(func() { cancel(nil) })
	return ctx, cancel
}
