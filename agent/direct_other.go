//go:build !linux

package agent

import "os"

// setDirectIO reports false off Linux: files are written through the
// page cache.
func setDirectIO(*os.File, bool) bool { return false }
