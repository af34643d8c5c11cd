//go:build !linux

package agent

import "os"

// setFileCRC32C is a no-op off Linux: local files have no stored checksum.
func setFileCRC32C(*os.File, string) {}

// fileCRC32C returns "" off Linux.
func fileCRC32C(*os.File) string { return "" }
