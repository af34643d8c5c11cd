package ring

import (
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSimpleHandBuilt(t *testing.T) {
	r, err := New([]Node{
		{Host: "a", Tokens: []int64{10, 40}},
		{Host: "b", Tokens: []int64{20}},
		{Host: "c", Tokens: []int64{30}},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Replicas(Replication{Strategy: SimpleStrategy, RF: 2}, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []Range{
		{Start: 40, End: 10, Replicas: []string{"a", "b"}},
		{Start: 10, End: 20, Replicas: []string{"b", "c"}},
		{Start: 20, End: 30, Replicas: []string{"c", "a"}},
		{Start: 30, End: 40, Replicas: []string{"a", "b"}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("replicas (-want +got):\n%s", d)
	}
}

func TestNTSRackAwareHandBuilt(t *testing.T) {
	// Ring order from token 10: a(r1) b(r1) c(r2) d(r1) e(r2). With RF 3
	// in dc1, NTS takes a (r1), skips b (r1 used), takes c (r2), and as
	// both racks are now used fills in b from the skipped list.
	r, err := New([]Node{
		{Host: "a", DC: "dc1", Rack: "r1", Tokens: []int64{10}},
		{Host: "b", DC: "dc1", Rack: "r1", Tokens: []int64{20}},
		{Host: "c", DC: "dc1", Rack: "r2", Tokens: []int64{30}},
		{Host: "d", DC: "dc1", Rack: "r1", Tokens: []int64{40}},
		{Host: "e", DC: "dc1", Rack: "r2", Tokens: []int64{50}},
		{Host: "x", DC: "dc2", Rack: "r1", Tokens: []int64{15}},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Replicas(Replication{Strategy: NetworkTopologyStrategy, DCRF: map[string]int{"dc1": 3, "dc2": 1}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"a", "x", "c", "b"}, got[0].Replicas); d != "" {
		t.Fatalf("range ending at 10 (-want +got):\n%s", d)
	}
	// Range ending at 40: d(r1), e(r2), then a (r1, first skipped).
	if got[4].End != 40 {
		t.Fatalf("range 4 ends at %d, want 40", got[4].End)
	}
	if d := cmp.Diff([]string{"d", "e", "a", "x"}, got[4].Replicas); d != "" {
		t.Fatalf("range ending at 40 (-want +got):\n%s", d)
	}
}

func TestNTSDistinctRacksRandom(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	taken := map[int64]bool{}
	var nodes []Node
	for _, dc := range []string{"dc1", "dc2"} {
		for _, rack := range []string{"r1", "r2", "r3"} {
			for i := range 2 {
				nodes = append(nodes, Node{Host: dc + rack + string(rune('a'+i)), DC: dc, Rack: rack, Tokens: RandomTokens(rnd, 16, taken)})
			}
		}
	}
	r, err := New(nodes)
	if err != nil {
		t.Fatal(err)
	}
	byHost := map[string]Node{}
	for _, n := range nodes {
		byHost[n.Host] = n
	}
	rs, err := r.Replicas(Replication{Strategy: NetworkTopologyStrategy, DCRF: map[string]int{"dc1": 3, "dc2": 2}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 12*16 {
		t.Fatalf("got %d ranges, want %d", len(rs), 12*16)
	}
	for _, rg := range rs {
		perDC := map[string]map[string]bool{}
		for _, h := range rg.Replicas {
			n := byHost[h]
			if perDC[n.DC] == nil {
				perDC[n.DC] = map[string]bool{}
			}
			if perDC[n.DC][n.Rack] {
				t.Fatalf("range %d:%d has two replicas on %s/%s: %v", rg.Start, rg.End, n.DC, n.Rack, rg.Replicas)
			}
			perDC[n.DC][n.Rack] = true
		}
		if len(perDC["dc1"]) != 3 || len(perDC["dc2"]) != 2 {
			t.Fatalf("range %d:%d replicas %v: want 3 in dc1 and 2 in dc2", rg.Start, rg.End, rg.Replicas)
		}
	}
}

func TestErrors(t *testing.T) {
	if _, err := New([]Node{{Host: "a", Tokens: []int64{1}}, {Host: "b", Tokens: []int64{1}}}); err == nil {
		t.Fatal("duplicate token accepted")
	}
	r, _ := New([]Node{{Host: "a", Tokens: []int64{1}}})
	if _, err := r.Replicas(Replication{Strategy: "Bogus"}, ""); err == nil {
		t.Fatal("unknown strategy accepted")
	}
	got, err := ParseRanges("-5:-3,7:9")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]Range{{Start: -5, End: -3}, {Start: 7, End: 9}}, got); d != "" {
		t.Fatal(d)
	}
	if _, err := ParseRanges("1-2"); err == nil {
		t.Fatal("bad range accepted")
	}
}
