package backup_test

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/scyllaops/scyllaops/internal/ring"
	"github.com/scyllaops/scyllaops/scyllatest"
)

// TestManyTables backs up 10,000 small tables on 3 nodes and checks
// that every table of every node is in a manifest and in the bucket.
func TestManyTables(t *testing.T) {
	// Tens of minutes on 2 cores (the simulator and fileblob write ~600k
	// files), so it runs only when asked for.
	if os.Getenv("SCYLLAOPS_LONG_TESTS") == "" {
		t.Skip("set SCYLLAOPS_LONG_TESTS=1 to back up 10,000 tables on 3 nodes")
	}
	n := 10000
	if v := os.Getenv("SCYLLAOPS_MANY_TABLES"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	tables := make([]scyllatest.Table, n)
	for i := range tables {
		tables[i] = scyllatest.Table{Name: fmt.Sprintf("t%05d", i), SSTables: 1, DataSize: 64, IndexSize: 16}
	}
	e := newEnv(t, scyllatest.Options{Keyspaces: []scyllatest.Keyspace{{Name: "many",
		Replication: ring.Replication{Strategy: ring.SimpleStrategy, RF: 3}, Tables: tables}}}, backupOptions())
	start := time.Now()
	p := e.mustBackup(`{"location":["localstorage:bucket"],"keyspace":["many"]}`)
	t.Logf("%d tables × 3 nodes: backup took %s, %d bytes", n, time.Since(start), p.Size)
	for _, h := range p.Hosts {
		var got int
		for _, k := range h.Keyspaces {
			if k.Keyspace == "many" {
				got = len(k.Tables)
				if k.Uploaded != k.Size || k.CompletedAt == nil {
					t.Errorf("host %s: keyspace uploaded %d of %d", h.Host, k.Uploaded, k.Size)
				}
			}
		}
		if got != n {
			t.Errorf("host %s: %d tables in progress, want %d", h.Host, got, n)
		}
	}
	start = time.Now()
	reps := e.validate()
	t.Logf("validate took %s", time.Since(start))
	files := 0
	for _, r := range reps {
		files += r.ScannedFiles
	}
	if files < 3*n*9 {
		t.Errorf("bucket holds %d files, want at least %d", files, 3*n*9)
	}
}
