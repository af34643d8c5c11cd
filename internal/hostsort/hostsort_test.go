package hostsort

import (
	"slices"
	"testing"
)

func TestCompare(t *testing.T) {
	got := []string{"node-b", "::1", "127.0.0.10", "node-a", "127.0.0.2", "10.0.0.1"}
	slices.SortFunc(got, Compare)
	want := []string{"10.0.0.1", "127.0.0.2", "127.0.0.10", "::1", "node-a", "node-b"}
	if !slices.Equal(got, want) {
		t.Fatalf("sorted %v, want %v", got, want)
	}
	if Compare("127.0.0.1", "127.0.0.1") != 0 {
		t.Error("an address compares unequal to itself")
	}
}
