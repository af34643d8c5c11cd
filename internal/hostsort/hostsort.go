// Package hostsort orders node addresses the way people read them.
package hostsort

import (
	"net/netip"
	"strings"
)

// Compare orders host addresses numerically (127.0.0.2 before 127.0.0.10;
// IPv4 before IPv6); names that are not addresses come after, by text.
func Compare(a, b string) int {
	pa, ea := netip.ParseAddr(a)
	pb, eb := netip.ParseAddr(b)
	switch {
	case ea == nil && eb == nil:
		return pa.Compare(pb)
	case ea == nil:
		return -1
	case eb == nil:
		return 1
	}
	return strings.Compare(a, b)
}
