package topology_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/scyllatest"
	"github.com/scyllaops/scyllaops/topology"
)

// TestDiscoverAnyHungContact: the first contact hangs (its agent answers
// after an hour) with a contact timeout of an hour; the hedge asks the
// next contacts after 50 ms each, and one of them answers. Without hedging the test
// would wait for its own deadline and fail.
func TestDiscoverAnyHungContact(t *testing.T) {
	c := newCluster(t)
	hung := c.Nodes()[0]
	c.SetLatency(hung, time.Hour)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	got, err := topology.DiscoverAny(ctx, c.Client(), []string{hung.IP, c.Nodes()[1].IP, c.Nodes()[2].IP},
		topology.HedgeOptions{ContactTimeout: time.Hour, HedgeAfter: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if got.ContactHost == hung.IP {
		t.Errorf("view from the hung contact %s, want another one's", hung.IP)
	}
	if len(got.Nodes()) != len(c.Nodes()) {
		t.Errorf("%d nodes, want %d", len(got.Nodes()), len(c.Nodes()))
	}
	// The hung node is up in gossip; its node_info is best effort.
	if n, _ := got.Node(hung.IP); n.StatusState() != "UN" || n.InfoErr == "" {
		t.Errorf("hung node %+v: want UN with an info error", n)
	}
}

// TestDiscoverAnyDownContact: a stopped contact refuses at once; the
// next one answers, and the stopped node is DN in its view.
func TestDiscoverAnyDownContact(t *testing.T) {
	c := newCluster(t)
	down := c.Nodes()[0]
	if err := c.Stop(down); err != nil {
		t.Fatal(err)
	}
	got, err := topology.DiscoverAny(t.Context(), c.Client(), []string{down.IP, c.Nodes()[3].IP}, topology.HedgeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.ContactHost != c.Nodes()[3].IP {
		t.Errorf("view from %s, want %s", got.ContactHost, c.Nodes()[3].IP)
	}
	if n, _ := got.Node(down.IP); n.StatusState() != "DN" {
		t.Errorf("stopped node %s is %s, want DN", down.IP, n.StatusState())
	}
}

// TestDiscoverAnyAllUnreachable: two contacts hang and one is stopped:
// one *ContactError names each host tried with its cause, returned once
// the hung ones' contact timeout is up.
func TestDiscoverAnyAllUnreachable(t *testing.T) {
	c := newCluster(t)
	ns := c.Nodes()
	c.SetLatency(ns[0], time.Hour)
	c.SetLatency(ns[1], time.Hour)
	if err := c.Stop(ns[2]); err != nil {
		t.Fatal(err)
	}
	contacts := []string{ns[0].IP, ns[1].IP, ns[2].IP}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	_, err := topology.DiscoverAny(ctx, c.Client(), append(contacts, ""), topology.HedgeOptions{
		ContactTimeout: 300 * time.Millisecond, MaxContacts: -1,
	})
	var ce *topology.ContactError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a *topology.ContactError", err)
	}
	var tried []string
	for _, f := range ce.Tried {
		tried = append(tried, f.Host)
		if !strings.Contains(err.Error(), f.Host+": ") {
			t.Errorf("error %q does not name %s", err, f.Host)
		}
	}
	slices.Sort(tried)
	want := slices.Clone(contacts)
	slices.Sort(want)
	if !slices.Equal(tried, want) {
		t.Errorf("tried %v, want %v", tried, want)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, agentclient.ErrUnreachable) {
		t.Errorf("err = %v, want the hung hosts' deadline and the stopped host's unreachable", err)
	}
	if ctx.Err() != nil {
		t.Error("the error came only after the test's own deadline")
	}
}

// TestHedgeNoContacts: no host to ask is a ContactError saying so.
func TestHedgeNoContacts(t *testing.T) {
	_, _, err := topology.Hedge(t.Context(), []string{"", ""}, topology.HedgeOptions{}, func(context.Context, string) (int, error) {
		t.Error("fn called without a contact")
		return 0, nil
	})
	var ce *topology.ContactError
	if !errors.As(err, &ce) || len(ce.Tried) != 0 || !strings.Contains(err.Error(), "no known host") {
		t.Fatalf("err = %v, want a ContactError about no known host", err)
	}
}

// TestRing: describe_ring of an NTS keyspace over two DCs covers
// (MinToken, MaxToken] exactly once, each range with RF replicas per DC;
// the local system keyspace is LocalStrategy.
func TestRing(t *testing.T) {
	c := scyllatest.New(t, scyllatest.Options{
		Topology: []scyllatest.DC{
			{Name: "eu", Racks: []scyllatest.Rack{{Name: "a", Nodes: 2}, {Name: "b", Nodes: 1}}},
			{Name: "us", Racks: []scyllatest.Rack{{Name: "a", Nodes: 2}}},
		},
		TokensPerNode: 8,
		Keyspaces: []scyllatest.Keyspace{{Name: "ks", Replication: scyllatest.NTS(map[string]int{"eu": 2, "us": 1}),
			Tables: []scyllatest.Table{{Name: "t"}}}},
	})
	kr, err := topology.RingAny(t.Context(), c.Client(), []string{c.ContactHost()}, "ks", topology.HedgeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if kr.Replication.Strategy != topology.NetworkTopologyStrategy || kr.Replication.DCReplicas["eu"] != 2 || kr.Replication.DCReplicas["us"] != 1 {
		t.Errorf("replication %+v, want NTS eu:2 us:1", kr.Replication)
	}
	if len(kr.Ranges) != 5*8+1 { // 40 tokens, the wrap-around range split in two
		t.Errorf("%d ranges, want 41", len(kr.Ranges))
	}
	prev := topology.MinToken
	for i, r := range kr.Ranges {
		if r.Start != prev || r.End <= r.Start {
			t.Fatalf("range %d (%d, %d] does not follow %d", i, r.Start, r.End, prev)
		}
		prev = r.End
		perDC := map[string]int{}
		for _, h := range r.Replicas {
			perDC[kr.DCs[h]]++
		}
		if perDC["eu"] != 2 || perDC["us"] != 1 {
			t.Errorf("range %d replicas %v: per DC %v, want eu:2 us:1", i, r.Replicas, perDC)
		}
	}
	if prev != topology.MaxToken {
		t.Errorf("ranges end at %d, want MaxToken", prev)
	}
	if len(kr.ReplicaSets()) == 0 || !slices.Equal(kr.ReplicatedDCs(), []string{"eu", "us"}) {
		t.Errorf("replica sets %d, DCs %v", len(kr.ReplicaSets()), kr.ReplicatedDCs())
	}
	local, err := topology.Ring(t.Context(), c.Client(), c.ContactHost(), "system")
	if err == nil && local.Replication.Strategy != topology.LocalStrategy {
		t.Errorf("system keyspace: %s, want LocalStrategy", local.Replication.Strategy)
	}
}

// TestDiffDCAdded: a node added in a new DC is a dc_added change and a
// node added.
func TestDiffDCAdded(t *testing.T) {
	c := newCluster(t)
	before, err := topology.Discover(t.Context(), c.Client(), c.ContactHost())
	if err != nil {
		t.Fatal(err)
	}
	n, err := c.AddNode("ap", "a")
	if err != nil {
		t.Fatal(err)
	}
	after, err := topology.Discover(t.Context(), c.Client(), c.ContactHost())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ch := range topology.Diff(before, after) {
		got = append(got, ch.String())
	}
	want := []string{"dc_added ap: 1 nodes", "added " + n.IP + " (" + n.HostID.String() + "): joined ap/a"}
	if !slices.Equal(got, want) {
		t.Errorf("diff %q, want %q", got, want)
	}
}

// TestHedgeLeavesLosersRunning: once an answer won, the calls still
// running are not canceled (canceling an HTTP request in flight closes its
// connection, which the next call would have to handshake again): the
// slow contact's call completes after Hedge returned. Canceling ctx
// before any answer still cancels every call.
func TestHedgeLeavesLosersRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		loser := make(chan error, 1)
		v, contact, err := topology.Hedge(t.Context(), []string{"slow", "fast"}, topology.HedgeOptions{ContactTimeout: time.Minute, HedgeAfter: time.Second},
			func(ctx context.Context, c string) (string, error) {
				if c == "fast" {
					return "fast answer", nil
				}
				select {
				case <-time.After(5 * time.Second):
					loser <- nil
					return "slow answer", nil
				case <-ctx.Done():
					loser <- ctx.Err()
					return "", ctx.Err()
				}
			})
		if err != nil || contact != "fast" || v != "fast answer" {
			t.Fatalf("Hedge = %q, %q, %v; want the fast contact's answer", v, contact, err)
		}
		if err := <-loser; err != nil {
			t.Errorf("the slow contact's call was canceled after the fast one won: %v", err)
		}

		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(2*time.Second, cancel)
		_, _, err = topology.Hedge(ctx, []string{"a", "b"}, topology.HedgeOptions{ContactTimeout: time.Minute, HedgeAfter: time.Second},
			func(ctx context.Context, c string) (string, error) {
				<-ctx.Done()
				return "", ctx.Err()
			})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Hedge with ctx canceled before any answer = %v, want context.Canceled from every call", err)
		}
	})
}
