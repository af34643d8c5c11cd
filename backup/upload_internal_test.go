package backup

import "testing"

// With a rate limit, only tables that a quarter of the limit uploads in
// about a second share the pool; bigger ones get the whole limit, one at
// a time (a 4 MiB table at 1 MiB/s took 16s in the pool).
func TestIsSmallTable(t *testing.T) {
	const kib, mib = 1 << 10, 1 << 20
	for _, c := range []struct {
		left  int64
		rate  int // MiB/s, 0 = unlimited
		small bool
	}{
		{0, 1, true},
		{256 * kib, 1, true},
		{256*kib + 1, 1, false},
		{4 * mib, 1, false},
		{4 * mib, 0, true},
		{16 * mib, 0, true},
		{16*mib + 1, 0, false},
		{16 * mib, DefaultRateLimit, true}, // the default limit pools as before
		{16*mib + 1, DefaultRateLimit, false},
		{25 * mib, 100, false},
		{5 * mib, 20, true},
		{5*mib + 1, 20, false},
	} {
		if got := isSmallTable(c.left, c.rate); got != c.small {
			t.Errorf("isSmallTable(%d bytes, %d MiB/s) = %v, want %v", c.left, c.rate, got, c.small)
		}
	}
}
