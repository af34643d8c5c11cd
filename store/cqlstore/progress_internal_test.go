package cqlstore

import (
	"fmt"
	"strings"
	"testing"

	"github.com/scyllaops/scyllaops/store"
)

func TestChunkProgress(t *testing.T) {
	row := func(key string, data int) *store.Progress {
		return &store.Progress{Key: key, Data: []byte(strings.Repeat("x", data))}
	}
	// sizes returns the chunk lengths of ps split at 3 rows or 1000 bytes
	// (each row counts key + data + progressRowOverhead).
	sizes := func(ps ...*store.Progress) string {
		var out []int
		n := 0
		for _, c := range chunkProgress(ps, 3, 1000) {
			out = append(out, len(c))
			for _, p := range c {
				if p != ps[n] {
					t.Errorf("chunk order: row %d is %q, want %q", n, p.Key, ps[n].Key)
				}
				n++
			}
		}
		if n != len(ps) {
			t.Errorf("chunks hold %d rows of %d", n, len(ps))
		}
		return fmt.Sprint(out)
	}
	small := func(n int) []*store.Progress {
		var out []*store.Progress
		for i := range n {
			out = append(out, row(fmt.Sprint(i), 10))
		}
		return out
	}
	tests := []struct {
		name string
		ps   []*store.Progress
		want string
	}{
		{"empty", nil, "[]"},
		{"one", small(1), "[1]"},
		{"rows bound", small(7), "[3 3 1]"},
		{"exactly full", small(6), "[3 3]"},
		// 1+400+128 = 529 each: two do not fit in 1000.
		{"bytes bound", []*store.Progress{row("a", 400), row("b", 400), row("c", 400)}, "[1 1 1]"},
		// A row larger than the bound goes alone.
		{"huge row", []*store.Progress{row("a", 10), row("b", 5000), row("c", 10)}, "[1 1 1]"},
		{"mixed", []*store.Progress{row("a", 10), row("b", 10), row("c", 700), row("d", 10)}, "[2 2]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := sizes(tc.ps...); got != tc.want {
				t.Errorf("chunk sizes = %s, want %s", got, tc.want)
			}
		})
	}
}
