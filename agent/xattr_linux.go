package agent

import (
	"os"

	"golang.org/x/sys/unix"
)

// xattrCRC32C is the extended attribute holding a local file's CRC32C
// (hex), written by the agent with the file.
const xattrCRC32C = "user.scyllaops.crc32c"

// setFileCRC32C stores sum with f; file systems without user xattrs are
// skipped silently (the file then has no stored checksum).
func setFileCRC32C(f *os.File, sum string) {
	_ = unix.Fsetxattr(int(f.Fd()), xattrCRC32C, []byte(sum), 0)
}

// fileCRC32C returns the checksum stored with f, or "".
func fileCRC32C(f *os.File) string {
	var buf [16]byte
	n, err := unix.Fgetxattr(int(f.Fd()), xattrCRC32C, buf[:])
	if err != nil || n != 8 {
		return ""
	}
	return string(buf[:n])
}
