package repair

import (
	"testing"

	"github.com/scyllaops/scyllaops/internal/ring"
)

func BenchmarkMakePlan(b *testing.B) {
	v := testView(b, map[string]int{"dc1": 50, "dc2": 50}, 256, map[string]ring.Replication{
		"ks": {Strategy: ring.NetworkTopologyStrategy, DCRF: map[string]int{"dc1": 3, "dc2": 3}},
	}, 100)
	b.ResetTimer()
	for b.Loop() {
		if _, err := MakePlan(v, Target{SmallTableThreshold: 1}); err != nil {
			b.Fatal(err)
		}
	}
}
