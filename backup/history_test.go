package backup_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scyllaops/scyllaops/backup"
	"github.com/scyllaops/scyllaops/scyllatest"
	"github.com/scyllaops/scyllaops/store"
)

// TestRandomHistories runs random sequences of backups (some failing at
// a random point), data changes, purges and clock jumps; after every step
// no kept snapshot misses a file.
func TestRandomHistories(t *testing.T) {
	seeds, steps := 3, 14
	if testing.Short() {
		seeds, steps = 1, 8
	}
	for seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(seed), 42))
			e := newEnv(t, scyllatest.Options{Seed: uint64(seed) + 1, UUIDSSTableIdentifiers: seed%2 == 1}, backupOptions())
			props := fmt.Sprintf(`{"location":["localstorage:bucket"],"retention":%d}`, 1+r.IntN(3))
			var history []string
			for step := range steps {
				n := e.cluster.Nodes()[r.IntN(3)]
				switch op := r.IntN(10); {
				case op < 2:
					history = append(history, "write "+n.IP)
					if _, err := e.cluster.WriteData(n, "ks", "t", 1+r.IntN(2)); err != nil {
						t.Fatal(err)
					}
				case op < 3:
					history = append(history, "compact "+n.IP)
					if _, err := e.cluster.Compact(n, "ks", "t"); err != nil {
						t.Fatal(err)
					}
				case op < 5:
					k := int32(1 + r.IntN(80))
					history = append(history, fmt.Sprintf("failing backup at put %d", k))
					ctx, cancel := context.WithCancel(t.Context())
					var puts atomic.Int32
					e.setHook(func(*store.Progress) {
						if puts.Add(1) == k {
							cancel()
						}
					})
					_, _ = e.backup(ctx, props)
					cancel()
					e.setHook(nil)
				case op < 8:
					history = append(history, "backup")
					if _, err := e.backup(t.Context(), props); err != nil {
						t.Fatalf("step %d: backup: %v (history %v)", step, err, history)
					}
				case op < 9:
					history = append(history, "purge")
					if _, err := e.svc.Purge(t.Context(), e.clusterID, e.taskID, []byte(props)); err != nil {
						t.Fatalf("step %d: purge: %v", step, err)
					}
				default:
					d := time.Duration(1+r.IntN(30)) * time.Hour
					history = append(history, "advance "+d.String())
					e.advance(d)
				}
				e.advance(time.Minute)
				reps, err := e.svc.Validate(t.Context(), e.clusterID, []string{"localstorage:bucket"}, backup.ValidateOptions{})
				if err != nil {
					t.Fatalf("step %d: validate: %v", step, err)
				}
				for _, rep := range reps {
					if rep.MissingFiles != 0 {
						t.Fatalf("step %d: node %s: %d missing files in %v: %v\nhistory: %v", step, rep.Host, rep.MissingFiles, rep.BrokenSnapshots, rep.Missing[:min(3, len(rep.Missing))], history)
					}
				}
			}
			t.Logf("history: %v", history)
		})
	}
}
