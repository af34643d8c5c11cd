package scyllatest_test

import (
	"testing"

	"github.com/scyllaops/scyllaops/scyllatest"
)

// A node's agent reports its simulated data disk: Options.DiskSize with
// the data directory as the used part; SetDiskFree changes one node's
// free part only, a negative percent restores the figures; in Listen mode
// too (through the agent's HTTPS listener).
func TestSetDiskFree(t *testing.T) {
	for _, listen := range []bool{false, true} {
		c := scyllatest.New(t, scyllatest.Options{Listen: listen, DiskSize: 1 << 30})
		ctx := t.Context()
		low, other := c.Nodes()[0], c.Nodes()[1]
		orig, err := c.Client().About(ctx, low.IP, "data:", "")
		if err != nil {
			t.Fatal(err)
		}
		if orig.Total != 1<<30 || orig.Used <= 0 || orig.Free != orig.Total-orig.Used {
			t.Fatalf("listen=%v: figures of %s: %+v, want Total 1 GiB, Used the data dir's bytes, Free the rest", listen, low.IP, orig)
		}
		if err := c.SetDiskFree(low, 7); err != nil {
			t.Fatal(err)
		}
		got, err := c.Client().About(ctx, low.IP, "data:", "")
		if err != nil {
			t.Fatal(err)
		}
		if got.Total != orig.Total || got.Free*100/got.Total != 7 || got.Used != got.Total-got.Free {
			t.Errorf("listen=%v: with SetDiskFree 7: %+v (before %+v)", listen, got, orig)
		}
		if o, err := c.Client().About(ctx, other.IP, "data:", ""); err != nil || o.Free*100/o.Total < 90 {
			t.Errorf("listen=%v: other node %s: %+v, %v: want its own figures", listen, other.IP, o, err)
		}
		// Other remotes still get the agent's own error.
		if _, err := c.Client().About(ctx, low.IP, "s3:bucket", ""); err == nil {
			t.Errorf("listen=%v: About s3: succeeded", listen)
		}
		if err := c.SetDiskFree(low, -1); err != nil {
			t.Fatal(err)
		}
		back, err := c.Client().About(ctx, low.IP, "data:", "")
		if err != nil {
			t.Fatal(err)
		}
		if back != orig {
			t.Errorf("listen=%v: after SetDiskFree -1: %+v, want %+v", listen, back, orig)
		}
		if err := c.SetDiskFree(low, 101); err == nil {
			t.Errorf("listen=%v: SetDiskFree 101 accepted", listen)
		}
	}
}
