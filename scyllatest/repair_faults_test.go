package scyllatest_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/internal/ring"
	"github.com/scyllaops/scyllaops/scyllatest"
)

func TestRepairWrapAroundPiecesAndJobRecord(t *testing.T) {
	c := scyllatest.New(t, scyllatest.Options{TokensPerNode: 4})
	ctx := t.Context()
	client := c.Client()
	n := c.Nodes()[0]
	rs, err := client.DescribeRing(ctx, n.IP, "ks", "")
	if err != nil {
		t.Fatal(err)
	}
	// The range that wraps, split as repair sends it.
	var wrap agentclient.TokenRange
	for _, r := range rs {
		s, _ := strconv.ParseInt(r.StartToken, 10, 64)
		e, _ := strconv.ParseInt(r.EndToken, 10, 64)
		if s >= e {
			wrap = r
		}
	}
	if wrap.StartToken == "" {
		t.Fatal("no wrap-around range")
	}
	ranges := []string{
		wrap.StartToken + ":" + ring.FormatToken(ring.MaxToken),
		ring.FormatToken(ring.MinToken) + ":" + wrap.EndToken,
	}
	id, err := client.RepairAsync(ctx, wrap.Endpoints[0], "ks", agentclient.RepairOptions{Tables: []string{"t"}, Ranges: ranges, Hosts: wrap.Endpoints, RangesParallelism: 2})
	if err != nil {
		t.Fatal(err)
	}
	st, err := client.RepairStatus(ctx, wrap.Endpoints[0], id, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := st, agentclient.RepairSuccessful; got != want {
		t.Errorf("st = %v, want %v", got, want)
	}
	got := c.RepairedRanges()
	if len(got) != 2 {
		t.Fatalf("repaired %+v, want 2 ranges", got)
	}
	for _, g := range got {
		if d := cmp.Diff(wrap.Endpoints, g.Replicas, cmpopts.SortSlices(func(a, b string) bool { return a < b })); d != "" {
			t.Errorf("replicas of a wrap-around piece (-want +got):\n%s", d)
		}
	}
	jobs := c.RepairJobs()
	if len(jobs) != 1 {
		t.Fatalf("jobs %+v, want 1", jobs)
	}
	if got, want := jobs[0].Ranges, 2; got != want {
		t.Errorf("jobs[0].Ranges = %v, want %v", got, want)
	}
	if got, want := jobs[0].Parallelism, 2; got != want {
		t.Errorf("jobs[0].Parallelism = %v, want %v", got, want)
	}
	if got, want := jobs[0].Status, agentclient.RepairSuccessful; got != want {
		t.Errorf("jobs[0].Status = %v, want %v", got, want)
	}
	if d := cmp.Diff(wrap.Endpoints, jobs[0].Participants, cmpopts.SortSlices(func(a, b string) bool { return a < b })); d != "" {
		t.Errorf("participants (-want +got):\n%s", d)
	}
	if jobs[0].End.IsZero() {
		t.Error("job has no end time")
	}
}

func TestRepairFaults(t *testing.T) {
	c := scyllatest.New(t, scyllatest.Options{TokensPerNode: 4, RepairRangeDelay: time.Millisecond})
	ctx := t.Context()
	client := c.Client()
	n := c.Nodes()[0]

	// Failing node: the job ends FAILED and repairs nothing.
	c.SetRepairFault(n, scyllatest.RepairFault{Fail: true})
	id, err := client.RepairAsync(ctx, n.IP, "ks", agentclient.RepairOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := client.RepairStatus(ctx, n.IP, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := st, agentclient.RepairFailed; got != want {
		t.Errorf("st = %v, want %v", got, want)
	}
	if r := c.RepairedRanges(); len(r) != 0 {
		t.Errorf("failed job repaired %+v", r)
	}

	// Hung node: RUNNING until force_terminate_repair.
	c.SetRepairFault(n, scyllatest.RepairFault{Hang: true})
	id, err = client.RepairAsync(ctx, n.IP, "ks", agentclient.RepairOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st, err = client.RepairStatus(ctx, n.IP, id, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := st, agentclient.RepairRunning; got != want {
		t.Errorf("st = %v, want %v", got, want)
	}
	if err := client.Raw(ctx, n.IP, "POST", "/storage_service/force_terminate_repair", nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	st, err = client.RepairStatus(ctx, n.IP, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := st, agentclient.RepairFailed; got != want {
		t.Errorf("st = %v, want %v", got, want)
	}

	// Healthy again.
	c.SetRepairFault(n, scyllatest.RepairFault{})
	id, err = client.RepairAsync(ctx, n.IP, "ks", agentclient.RepairOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st, err = client.RepairStatus(ctx, n.IP, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := st, agentclient.RepairSuccessful; got != want {
		t.Errorf("st = %v, want %v", got, want)
	}
	if len(c.RepairedRanges()) == 0 {
		t.Error("healthy job repaired nothing")
	}

	// Pending compactions.
	var pending int
	if err := client.Raw(ctx, n.IP, "GET", "/compaction_manager/metrics/pending_tasks", nil, nil, &pending); err != nil {
		t.Fatal(err)
	}
	if got, want := pending, 0; got != want {
		t.Errorf("pending = %v, want %v", got, want)
	}
	c.SetPendingCompactions(n, 42)
	if err := client.Raw(ctx, n.IP, "GET", "/compaction_manager/metrics/pending_tasks", nil, nil, &pending); err != nil {
		t.Fatal(err)
	}
	if got, want := pending, 42; got != want {
		t.Errorf("pending = %v, want %v", got, want)
	}
}
