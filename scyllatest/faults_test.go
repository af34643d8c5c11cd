package scyllatest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/internal/ring"
	"github.com/scyllaops/scyllaops/scyllatest"
)

func TestRepairJobs(t *testing.T) {
	c := scyllatest.New(t, scyllatest.Options{TokensPerNode: 4, RepairRangeDelay: time.Millisecond})
	ctx := t.Context()
	client := c.Client()
	n := c.Nodes()[0]
	rs, err := client.DescribeRing(ctx, n.IP, "ks", "")
	if err != nil {
		t.Fatal(err)
	}
	ranges := []string{rs[0].StartToken + ":" + rs[0].EndToken, rs[1].StartToken + ":" + rs[1].EndToken}
	id, err := client.RepairAsync(ctx, n.IP, "ks", agentclient.RepairOptions{Tables: []string{"t"}, Ranges: ranges, Hosts: rs[0].Endpoints, RangesParallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	st, err := client.RepairStatus(ctx, n.IP, id, 0)
	if err != nil || st != agentclient.RepairSuccessful {
		t.Fatalf("status %q %v, want SUCCESSFUL", st, err)
	}
	got := c.RepairedRanges()
	if len(got) != 2 || got[0].JobID != id || got[0].Coordinator != n.IP || got[0].Keyspace != "ks" || fmt.Sprint(got[0].Tables) != "[t]" {
		t.Fatalf("repaired ranges %+v", got)
	}
	if fmt.Sprintf("%d:%d", got[1].Start, got[1].End) != ranges[1] {
		t.Fatalf("second repaired range %d:%d, want %s", got[1].Start, got[1].End, ranges[1])
	}

	// Without ranges: every range the coordinator replicates (RF 3 of 3
	// nodes: all of them).
	id, err = client.RepairAsync(ctx, n.IP, "ks", agentclient.RepairOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := client.RepairStatus(ctx, n.IP, id, 0); st != agentclient.RepairSuccessful {
		t.Fatalf("full repair %s", st)
	}
	if len(c.RepairedRanges()) != 2+len(rs) {
		t.Fatalf("%d repaired ranges, want %d", len(c.RepairedRanges()), 2+len(rs))
	}

	// A replica down: the job fails.
	if err := c.Stop(c.Nodes()[2]); err != nil {
		t.Fatal(err)
	}
	id, err = client.RepairAsync(ctx, n.IP, "ks", agentclient.RepairOptions{Ranges: ranges[:1]})
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := client.RepairStatus(ctx, n.IP, id, 0); st != agentclient.RepairFailed {
		t.Fatalf("repair with a replica down: %s, want FAILED", st)
	}
	// Unknown id.
	if _, err := client.RepairStatus(ctx, n.IP, 12345, 0); err == nil || !strings.Contains(err.Error(), "unknown repair id") {
		t.Fatalf("unknown id: %v", err)
	}
}

func TestRepairTakesTimePerRange(t *testing.T) {
	// A long per-range delay: status with a 1 s wait still reports RUNNING,
	// and force_terminate_repair fails the job.
	c := scyllatest.New(t, scyllatest.Options{TokensPerNode: 4, RepairRangeDelay: time.Hour})
	ctx := t.Context()
	n := c.Nodes()[1]
	id, err := c.Client().RepairAsync(ctx, n.IP, "ks", agentclient.RepairOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := c.Client().RepairStatus(ctx, n.IP, id, time.Second); err != nil || st != agentclient.RepairRunning {
		t.Fatalf("status %q %v, want RUNNING", st, err)
	}
	if code, body := rawCall(t, c, n.IP, http.MethodGet, "/storage_service/active_repair/"); string(body) != fmt.Sprintf("[%d]", id) {
		t.Fatalf("active repairs %d %s", code, body)
	}
	if code, _ := rawCall(t, c, n.IP, http.MethodPost, "/storage_service/force_terminate_repair"); code != http.StatusOK {
		t.Fatalf("terminate: %d", code)
	}
	if st, _ := c.Client().RepairStatus(ctx, n.IP, id, 0); st != agentclient.RepairFailed {
		t.Fatalf("terminated job: %s, want FAILED", st)
	}
}

func TestStopStartAndGossip(t *testing.T) {
	c := scyllatest.New(t, scyllatest.Options{TokensPerNode: 4})
	ctx := t.Context()
	client := c.Client()
	nodes := c.Nodes()
	if err := c.Stop(nodes[1]); err != nil {
		t.Fatal(err)
	}
	if nodes[1].Up() {
		t.Fatal("stopped node reports up")
	}
	if err := client.Ping(ctx, nodes[1].IP); !errors.Is(err, agentclient.ErrUnreachable) {
		t.Fatalf("ping stopped node: %v, want ErrUnreachable", err)
	}
	var he *agentclient.HostError
	if _, err := client.HostIDMap(ctx, nodes[1].IP); !errors.As(err, &he) || he.Host != nodes[1].IP {
		t.Fatalf("call to stopped node: %v, want a HostError naming it", err)
	}
	if _, err := c.DialCQL(ctx, nodes[1]); err == nil {
		t.Fatal("CQL dial to a stopped node succeeded")
	}
	live, err := client.LiveNodes(ctx, nodes[0].IP)
	if err != nil {
		t.Fatal(err)
	}
	if len(live) != 2 || contains(live, nodes[1].IP) {
		t.Fatalf("live nodes %v, want all but %s", live, nodes[1].IP)
	}
	if ids, err := client.HostIDMap(ctx, nodes[0].IP); err != nil || len(ids) != 3 {
		t.Fatalf("host ids %v %v: a down node stays in the ring", ids, err)
	}
	if err := c.Start(nodes[1]); err != nil {
		t.Fatal(err)
	}
	if err := client.Ping(ctx, nodes[1].IP); err != nil {
		t.Fatalf("ping restarted node: %v", err)
	}
	if live, _ := client.LiveNodes(ctx, nodes[2].IP); len(live) != 3 {
		t.Fatalf("live nodes after start %v", live)
	}
}

func TestPartitionAndHeal(t *testing.T) {
	c := scyllatest.New(t, scyllatest.Options{TokensPerNode: 4, Topology: scyllatest.Topology3(4)})
	ctx := t.Context()
	client := c.Client()
	nodes := c.Nodes()
	c.Partition(nodes[3])
	if err := client.Ping(ctx, nodes[3].IP); !errors.Is(err, agentclient.ErrUnreachable) {
		t.Fatalf("ping partitioned node: %v, want ErrUnreachable", err)
	}
	live, err := client.LiveNodes(ctx, nodes[0].IP)
	if err != nil {
		t.Fatal(err)
	}
	if len(live) != 3 || contains(live, nodes[3].IP) {
		t.Fatalf("live nodes %v, want the majority side only", live)
	}
	if c.ContactHost() == nodes[3].IP {
		t.Fatal("contact host is the partitioned node")
	}
	c.Heal()
	if live, _ := client.LiveNodes(ctx, nodes[0].IP); len(live) != 4 {
		t.Fatalf("live nodes after heal %v", live)
	}
}

func TestFailNextLatencySlowDisk(t *testing.T) {
	c := scyllatest.New(t, scyllatest.Options{TokensPerNode: 4})
	ctx := t.Context()
	client := c.Client()
	n := c.Nodes()[0]
	if err := c.FailNext(n, http.MethodGet, "/storage_service/cluster_name", http.StatusBadRequest); err != nil {
		t.Fatal(err)
	}
	var se *agentclient.StatusError
	if _, err := client.ClusterName(ctx, n.IP); !errors.As(err, &se) || se.Code != http.StatusBadRequest || !strings.Contains(se.Message, "injected") {
		t.Fatalf("first call: %v, want the injected 400", err)
	}
	if name, err := client.ClusterName(ctx, n.IP); err != nil || name != scyllatest.DefaultClusterName {
		t.Fatalf("second call: %q %v, want success (the rule fires once)", name, err)
	}
	// A 5xx failure is retried by the client and so absorbed.
	if err := c.FailNext(n, "", "/storage_service/scylla_release_version", http.StatusInternalServerError); err != nil {
		t.Fatal(err)
	}
	if _, err := client.ScyllaReleaseVersion(ctx, n.IP); err != nil {
		t.Fatalf("retried call: %v", err)
	}
	if err := c.FailNext(n, "", "/x", 200); err == nil {
		t.Fatal("FailNext accepted status 200")
	}

	// Latency: a call with a shorter deadline times out; without, it works.
	c.SetLatency(n, time.Hour)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := client.Ping(short, n.IP); err == nil {
		t.Fatal("ping through an hour of latency succeeded")
	}
	c.SetLatency(n, 0)
	if err := client.Ping(ctx, n.IP); err != nil {
		t.Fatal(err)
	}

	// Slow disk: loading 1 sstable at 1 byte/s cannot finish in 50 ms.
	dir := c.TableDir(n, "ks", "t")
	snapFiles, err := c.WriteData(n, "ks", "t", 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range snapFiles {
		if err := renameInto(dir, f); err != nil {
			t.Fatal(err)
		}
	}
	c.SlowDisk(n, 1)
	short2, cancel2 := context.WithCancel(ctx)
	defer cancel2()
	gaveUp := make(chan error, 1)
	go func() { gaveUp <- client.LoadSSTables(short2, n.IP, "ks", "t", agentclient.LoadSSTablesOptions{}) }()
	for c.LoadsInProgress() == 0 {
		time.Sleep(time.Millisecond)
	}
	// Like Scylla, the node goes on with the load its caller gave up on:
	// it is still running, and finishes once the disk is fast again.
	cancel2()
	time.Sleep(20 * time.Millisecond)
	if c.LoadsInProgress() != 1 || len(c.Loads()) != 0 {
		t.Fatalf("loads in progress after the caller gave up: %d (finished %d), want 1 running", c.LoadsInProgress(), len(c.Loads()))
	}
	c.SlowDisk(n, 0)
	if err := <-gaveUp; err == nil {
		t.Fatal("the load whose caller gave up reported success to it")
	}
	if err := client.LoadSSTables(ctx, n.IP, "ks", "t", agentclient.LoadSSTablesOptions{PollInterval: 10 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	var loaded int
	for _, l := range c.Loads() {
		loaded += l.SSTables
	}
	if l := c.Loads(); len(l) == 0 || l[0].SSTables != 1 || loaded != 1 || c.LoadsInProgress() != 0 {
		t.Fatalf("loads %+v, in progress %d: want the first load to have loaded the sstable", l, c.LoadsInProgress())
	}
}

func TestAddNodeAndState(t *testing.T) {
	c := scyllatest.New(t, scyllatest.Options{TokensPerNode: 4, Keyspaces: []scyllatest.Keyspace{{
		Name: "ks", Replication: ring.Replication{Strategy: ring.SimpleStrategy, RF: 2}, Tables: []scyllatest.Table{{Name: "t", SSTables: 1}},
	}}})
	ctx := t.Context()
	n, err := c.AddNode("dc2", "rack9")
	if err != nil {
		t.Fatal(err)
	}
	c.SetState(n, scyllatest.StateJoining)
	client := c.Client()
	if err := client.Ping(ctx, n.IP); err != nil {
		t.Fatal(err)
	}
	if dc, err := client.Datacenter(ctx, c.ContactHost(), n.IP); err != nil || dc != "dc2" {
		t.Fatalf("dc of new node %q %v", dc, err)
	}
	if j, err := client.JoiningNodes(ctx, c.ContactHost()); err != nil || len(j) != 1 || j[0] != n.IP {
		t.Fatalf("joining %v %v", j, err)
	}
	if c.TableDir(n, "ks", "t") == "" {
		t.Fatal("new node has no table dir")
	}
	rs, err := client.DescribeRing(ctx, n.IP, "ks", "")
	if err != nil || len(rs) != 16 {
		t.Fatalf("ring with the new node: %d ranges %v", len(rs), err)
	}
}

func TestAlternatorAndMetrics(t *testing.T) {
	c := scyllatest.New(t, scyllatest.Options{TokensPerNode: 4, Alternator: true, Shards: 3})
	n := c.Nodes()[0]
	hc := &http.Client{Transport: c.Transport()}
	resp, err := hc.Get("http://" + n.IP + ":8000/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("alternator GET /: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+n.IP+":8000/", strings.NewReader(`{"TableName":".scylla.alternator.system_schema.tables","Limit":1}`))
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810.Scan")
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("alternator Scan: %d", resp.StatusCode)
	}
	m, err := c.Client().Metrics(t.Context(), n.IP, "scylla_database_total_writes")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(m), "scylla_database_total_writes{shard="); got != 3 {
		t.Fatalf("%d shard series, want 3:\n%s", got, m)
	}
}
