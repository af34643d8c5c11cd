package scyllaops_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/backup"
	"github.com/scyllaops/scyllaops/scyllatest"
	"github.com/scyllaops/scyllaops/store"
)

// simManager starts a simulated cluster whose agents keep buckets as
// directories of a temp dir (bucket "b1", location localstorage:b1,
// exists), a Manager on st over it (fast backup long-polls, warnings
// logged to the test), runs the Manager until the test ends, and adds
// the cluster as "p".
func simManager(t *testing.T, st store.Store) (*scyllaops.Manager, *scyllatest.Cluster, scyllaops.Cluster) {
	t.Helper()
	buckets := t.TempDir()
	if err := os.Mkdir(filepath.Join(buckets, "b1"), 0o755); err != nil {
		t.Fatal(err)
	}
	sim := scyllatest.New(t, scyllatest.Options{OpenBucket: func(_ context.Context, _, bucket string) (*blob.Bucket, error) {
		return fileblob.OpenBucket(filepath.Join(buckets, bucket), &fileblob.Options{NoTempDir: true})
	}})
	m, err := scyllaops.New(st, sim.Transport(), scyllaops.Options{CQLDial: sim.CQLDialer().DialContext,
		Backup: backup.Options{LongPoll: 100 * time.Millisecond},
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	runManager(t, m)
	c, err := m.CreateCluster(t.Context(), scyllaops.Cluster{Name: "p", Host: sim.ContactHost(), AuthToken: sim.AuthToken()})
	if err != nil {
		t.Fatal(err)
	}
	return m, sim, c
}
