package healthcheck_test

import (
	"context"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/healthcheck"
	"github.com/scyllaops/scyllaops/scyllatest"
)

// simSource is the ClusterSource of a scyllatest cluster.
type simSource struct {
	id         uuid.UUID
	c          *scyllatest.Cluster
	agent      *agentclient.Client
	user, pass string
}

func newSimSource(t *testing.T, c *scyllatest.Cluster) *simSource {
	t.Helper()
	// No retries: the REST ping is one attempt, as Scylla Manager's.
	cl, err := agentclient.New(c.Transport(), agentclient.Options{AuthToken: c.AuthToken(), RetryMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	return &simSource{id: uuid.New(), c: c, agent: cl}
}

func (s *simSource) HealthcheckCluster(context.Context, uuid.UUID) (healthcheck.Cluster, error) {
	hc := healthcheck.Cluster{Agent: s.agent, CQLUsername: s.user, CQLPassword: s.pass}
	for _, n := range s.c.Nodes() {
		hc.Nodes = append(hc.Nodes, healthcheck.Node{Host: n.IP, DC: n.DC, Rack: n.Rack})
	}
	return hc, nil
}

// hangDialer dials through base, except for the CQL address of the hung
// hosts, where it returns a connection that never answers.
func hangDialer(t *testing.T, base healthcheck.DialFunc, hung ...string) healthcheck.DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, _ := net.SplitHostPort(addr)
		for _, h := range hung {
			if h == host {
				client, server := net.Pipe()
				t.Cleanup(func() { server.Close() })
				return client, nil
			}
		}
		return base(ctx, network, addr)
	}
}

type statusMap map[string][3]string // host → cql, rest, alternator

func collect(nodes []healthcheck.NodeStatus) statusMap {
	out := statusMap{}
	for _, ns := range nodes {
		out[ns.Host] = [3]string{ns.CQL.Status, ns.REST.Status, ns.Alternator.Status}
	}
	return out
}

func uniform(c *scyllatest.Cluster, cql, rest, alt string) statusMap {
	out := statusMap{}
	for _, h := range c.Hosts() {
		out[h] = [3]string{cql, rest, alt}
	}
	return out
}

const (
	up      = healthcheck.StatusUp
	down    = healthcheck.StatusDown
	timeout = healthcheck.StatusTimeout
	unauth  = healthcheck.StatusUnauthorized
)

func TestScyllatestInProcess(t *testing.T) {
	const to = 2 * time.Second
	t.Run("all up, then one stopped", func(t *testing.T) {
		c := scyllatest.New(t, scyllatest.Options{Topology: []scyllatest.DC{
			{Name: "dc1", Racks: []scyllatest.Rack{{Name: "r1", Nodes: 2}}},
			{Name: "dc2", Racks: []scyllatest.Rack{{Name: "r1", Nodes: 1}}},
		}})
		src := newSimSource(t, c)
		s, err := healthcheck.New(src, healthcheck.Options{Timeout: to, Dialer: c.CQLDialer().DialContext})
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Status(t.Context(), src.id, nil)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(uniform(c, up, up, ""), collect(got)); diff != "" {
			t.Errorf("all up (-want +got):\n%s", diff)
		}
		for _, ns := range got {
			if ns.NodeInfo == nil || ns.SSL || ns.AlternatorEnabled || ns.DC == "" {
				t.Errorf("%s: node info %v ssl %v alternator %v dc %q", ns.Host, ns.NodeInfo != nil, ns.SSL, ns.AlternatorEnabled, ns.DC)
			}
		}

		stopped := c.Nodes()[1]
		if err := c.Stop(stopped); err != nil {
			t.Fatal(err)
		}
		got, err = s.Status(t.Context(), src.id, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := uniform(c, up, up, "")
		want[stopped.IP] = [3]string{down, down, ""}
		if diff := cmp.Diff(want, collect(got)); diff != "" {
			t.Errorf("one stopped (-want +got):\n%s", diff)
		}

		// With its node_info not cached, the stopped node's CQL ping
		// cannot even be tried.
		s.InvalidateNodeInfo(src.id)
		got, err = s.Check(t.Context(), src.id, healthcheck.ModeCQL)
		if err != nil {
			t.Fatal(err)
		}
		for _, ns := range got {
			wantCQL := up
			if ns.Host == stopped.IP {
				wantCQL = healthcheck.StatusError
			}
			if ns.CQL.Status != wantCQL {
				t.Errorf("%s: cql %q (%v), want %q", ns.Host, ns.CQL.Status, ns.CQL.Err, wantCQL)
			}
		}
	})

	t.Run("credentials", func(t *testing.T) {
		c := scyllatest.New(t, scyllatest.Options{CQLUser: "cassandra", CQLPassword: "s3cret"})
		src := newSimSource(t, c)
		s, err := healthcheck.New(src, healthcheck.Options{Timeout: to, Dialer: c.CQLDialer().DialContext})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			user, pass, want string
		}{
			{"cassandra", "s3cret", up},
			{"cassandra", "wrong", unauth},
			{"nobody", "s3cret", unauth},
			{"", "", up}, // OPTIONS needs no login
		} {
			src.user, src.pass = tc.user, tc.pass
			got, err := s.Check(t.Context(), src.id, healthcheck.ModeCQL)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(uniform(c, tc.want, "", ""), collect(got)); diff != "" {
				t.Errorf("user %q password %q (-want +got):\n%s", tc.user, tc.pass, diff)
			}
		}
	})

	t.Run("hung node", func(t *testing.T) {
		c := scyllatest.New(t, scyllatest.Options{Topology: scyllatest.Topology3(4)})
		src := newSimSource(t, c)
		hung := c.Nodes()[2]
		s, err := healthcheck.New(src, healthcheck.Options{
			Timeout: to, Dialer: hangDialer(t, c.CQLDialer().DialContext, hung.IP),
		})
		if err != nil {
			t.Fatal(err)
		}
		c.SetLatency(hung, time.Hour) // its agent never answers in time
		got, err := s.Status(t.Context(), src.id, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := uniform(c, up, up, "")
		// Its node_info (needed to know whether Alternator is on) cannot
		// be had in time either.
		want[hung.IP] = [3]string{timeout, timeout, timeout}
		if diff := cmp.Diff(want, collect(got)); diff != "" {
			t.Errorf("hung (-want +got):\n%s", diff)
		}
	})
}

func TestScyllatestListen(t *testing.T) {
	// A generous timeout: the first node_info of each agent over TCP+TLS
	// is slow under -race on a loaded machine; statuses are asserted, not
	// timings.
	const to = 3 * time.Second
	c := scyllatest.New(t, scyllatest.Options{
		Listen: true, Seed: randomSeed(), Alternator: true, CQLUser: "cassandra", CQLPassword: "s3cret",
		Topology: scyllatest.Topology3(3),
	})
	src := newSimSource(t, c)
	src.user, src.pass = "cassandra", "s3cret"
	hung := c.Nodes()[0]
	// The default dialer (real TCP), except that the hung node's CQL
	// address leads to a listener that accepts and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- conn
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for conn := range accepted {
			conn.Close()
		}
	})
	var hangOn bool
	var d net.Dialer
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, port, _ := net.SplitHostPort(addr); hangOn && host == hung.IP && port == "9042" {
			addr = ln.Addr().String()
		}
		return d.DialContext(ctx, network, addr)
	}
	s, err := healthcheck.New(src, healthcheck.Options{Timeout: to, Dialer: dial})
	if err != nil {
		t.Fatal(err)
	}

	got, err := s.Status(t.Context(), src.id, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(uniform(c, up, up, up), collect(got)); diff != "" {
		t.Errorf("all up over TCP (-want +got):\n%s", diff)
	}

	stopped := c.Nodes()[1]
	if err := c.Stop(stopped); err != nil {
		t.Fatal(err)
	}
	hangOn = true
	got, err = s.Status(t.Context(), src.id, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := uniform(c, up, up, up)
	want[stopped.IP] = [3]string{down, down, down}
	want[hung.IP] = [3]string{timeout, up, up}
	if diff := cmp.Diff(want, collect(got)); diff != "" {
		t.Errorf("one stopped, one hung over TCP (-want +got):\n%s", diff)
	}
}

// randomSeed gives Listen-mode clusters their own 127.x.y.z addresses:
// scyllatest derives them from the seed, and other tests on the machine
// may be listening on the default seed's.
func randomSeed() uint64 { return rand.Uint64() | 1 }
