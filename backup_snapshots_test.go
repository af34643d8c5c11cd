package scyllaops_test

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/memstore"
)

// TestDeleteLocalSnapshots: sm_* snapshots go from every node, other
// snapshots stay; a node whose snapshot listing fails is named in the
// error while the other nodes are cleaned; an unknown cluster is an error.
func TestDeleteLocalSnapshots(t *testing.T) {
	ctx := t.Context()
	m, sim, c := simManager(t, memstore.New())
	const (
		old   = "sm_20240102030405UTC"
		newer = "sm_20250102030405UTC"
		user  = "my_snapshot"
	)
	cl := sim.Client()
	snap := func(tags ...string) {
		t.Helper()
		for _, n := range sim.Nodes() {
			for _, tag := range tags {
				if err := cl.TakeSnapshot(ctx, n.IP, tag, "system_schema"); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	tagsOn := func(ip string) []string {
		t.Helper()
		snaps, err := sim.Snapshots(sim.Node(ip))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range snaps {
			if !slices.Contains(out, s.Tag) {
				out = append(out, s.Tag)
			}
		}
		return out
	}
	snap(old, newer, user)

	got, err := m.Backup().DeleteLocalSnapshots(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(sim.Nodes()) {
		t.Fatalf("%d node reports, want %d: %+v", len(got), len(sim.Nodes()), got)
	}
	for _, ns := range got {
		if !slices.Equal(ns.Tags, []string{old, newer}) {
			t.Errorf("node %s: deleted %v, want [%s %s]", ns.Host, ns.Tags, old, newer)
		}
		if left := tagsOn(ns.Host); !slices.Equal(left, []string{user}) {
			t.Errorf("node %s keeps %v, want [%s]", ns.Host, left, user)
		}
	}

	// A node failing its snapshot listing (a 4xx: 5xx answers are retried):
	// named, the others cleaned.
	snap(newer)
	bad := sim.Nodes()[0]
	if err := sim.FailNext(bad, http.MethodGet, "/storage_service/snapshots", http.StatusForbidden); err != nil {
		t.Fatal(err)
	}
	got, err = m.Backup().DeleteLocalSnapshots(ctx, c.ID.String())
	if err == nil || !strings.Contains(err.Error(), bad.IP) {
		t.Fatalf("err %v, want one naming node %s", err, bad.IP)
	}
	if len(got) != len(sim.Nodes())-1 {
		t.Errorf("%d node reports, want %d", len(got), len(sim.Nodes())-1)
	}
	for _, n := range sim.Nodes()[1:] {
		if left := tagsOn(n.IP); !slices.Equal(left, []string{user}) {
			t.Errorf("node %s keeps %v, want [%s]", n.IP, left, user)
		}
	}
	if left := tagsOn(bad.IP); !slices.Contains(left, newer) {
		t.Errorf("failed node %s keeps %v, want %s still there", bad.IP, left, newer)
	}

	if _, err := m.Backup().DeleteLocalSnapshots(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown cluster: err %v, want store.ErrNotFound", err)
	}
}
