package restapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/scyllaops/scyllaops/scyllatest"
)

// DELETE backups/local_snapshots deletes the sm_* snapshots of every
// node and keeps the others, through the raw API and through the Go
// client; an unknown cluster is a 404 with an error body.
func TestDeleteLocalSnapshots(t *testing.T) {
	e, sc := newSimEnv(t, scyllatest.Options{})
	id := e.addCluster(sc)
	ctx := t.Context()
	snapAll := func(tags ...string) {
		t.Helper()
		for _, n := range sc.Nodes() {
			for _, tag := range tags {
				if err := sc.Client().TakeSnapshot(ctx, n.IP, tag, "system_schema"); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	// left returns the tags of the snapshots left on every node.
	left := func() map[string]bool {
		t.Helper()
		out := map[string]bool{}
		for _, n := range sc.Nodes() {
			snaps, err := sc.Snapshots(n)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range snaps {
				out[s.Tag] = true
			}
		}
		return out
	}

	snapAll("sm_20240102030405UTC", "keep_me")
	e.call(http.MethodDelete, "/api/v1/cluster/"+id+"/backups/local_snapshots", "", "", http.StatusOK, "")
	if got := left(); len(got) != 1 || !got["keep_me"] {
		t.Fatalf("after DELETE: snapshots %v, want only keep_me", got)
	}

	snapAll("sm_20250102030405UTC")
	if err := e.client.DeleteLocalSnapshots(ctx, "sim"); err != nil {
		t.Fatal(err)
	}
	if got := left(); len(got) != 1 || !got["keep_me"] {
		t.Fatalf("after client call: snapshots %v, want only keep_me", got)
	}

	_, b := e.call(http.MethodDelete, "/api/v1/cluster/nope/backups/local_snapshots", "", "", http.StatusNotFound, "")
	if er := errBody(t, b); !strings.Contains(er.Message, "nope") && !strings.Contains(er.Message, "not found") {
		t.Errorf("unknown cluster: message %q", er.Message)
	}
}
