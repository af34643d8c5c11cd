package scyllatest_test

import (
	"testing"

	"github.com/scyllaops/scyllaops/scyllatest"
)

// SetDiskFree rewrites the agent's real operations/about answer of one
// node only, and a negative percent restores the real figures.
func TestSetDiskFree(t *testing.T) {
	c := scyllatest.New(t, scyllatest.Options{})
	ctx := t.Context()
	low, other := c.Nodes()[0], c.Nodes()[1]
	orig, err := c.Client().About(ctx, low.IP, "data:", "")
	if err != nil {
		t.Fatal(err)
	}
	if orig.Total <= 0 || orig.Free <= 0 || orig.Free >= orig.Total {
		t.Fatalf("real figures of %s: %+v", low.IP, orig)
	}
	if err := c.SetDiskFree(low, 7); err != nil {
		t.Fatal(err)
	}
	got, err := c.Client().About(ctx, low.IP, "data:", "")
	if err != nil {
		t.Fatal(err)
	}
	if got.Total != orig.Total || got.Free*100/got.Total != 7 || got.Used != got.Total-got.Free {
		t.Errorf("with SetDiskFree 7: %+v (real %+v)", got, orig)
	}
	if o, err := c.Client().About(ctx, other.IP, "data:", ""); err != nil || o.Free*100/o.Total == 7 && orig.Free*100/orig.Total != 7 {
		t.Errorf("other node %s: %+v, %v: want its real figures", other.IP, o, err)
	}
	// Other remotes still get the agent's own error.
	if _, err := c.Client().About(ctx, low.IP, "s3:bucket", ""); err == nil {
		t.Error("About s3: succeeded")
	}
	if err := c.SetDiskFree(low, -1); err != nil {
		t.Fatal(err)
	}
	back, err := c.Client().About(ctx, low.IP, "data:", "")
	if err != nil {
		t.Fatal(err)
	}
	if back.Total != orig.Total || back.Free*100/back.Total == 7 && orig.Free*100/orig.Total != 7 {
		t.Errorf("after SetDiskFree -1: %+v, want the real figures (%+v)", back, orig)
	}
	if err := c.SetDiskFree(low, 101); err == nil {
		t.Error("SetDiskFree 101 accepted")
	}
}
