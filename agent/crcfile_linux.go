package agent

import (
	"fmt"
	"os"
	"runtime/debug"

	"golang.org/x/sys/unix"
)

// Files of at least crcMapMin bytes are checksummed through memory
// mappings of crcMapWindow bytes at a time: the CPU reads the page cache
// in place instead of pread(2) copying it into a buffer first (that copy
// was about a fifth of a backup's CPU). A window is unmapped before the
// next is mapped, so the agent's resident memory grows by at most one
// window per transfer.
const (
	crcMapMin    = 256 << 10
	crcMapWindow = 4 << 20
)

// crcChunks feeds the first size bytes of f to feed. A file truncated
// under a mapping makes reading it fault (SIGBUS): the fault is turned
// into an error (debug.SetPanicOnFault), never a crash.
func crcChunks(f *os.File, size int64, feed func([]byte)) (err error) {
	if size < crcMapMin {
		return crcReadChunks(f, 0, size, feed)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return crcReadChunks(f, 0, size, feed)
	}
	for off := int64(0); off < size; off += crcMapWindow {
		n := min(size-off, crcMapWindow)
		var (
			m    []byte
			merr error
		)
		if cerr := rc.Control(func(fd uintptr) {
			// MAP_POPULATE maps the whole window in one call instead
			// of a page fault per 64 KiB read.
			m, merr = unix.Mmap(int(fd), off, int(n), unix.PROT_READ, unix.MAP_SHARED|unix.MAP_POPULATE)
		}); cerr != nil {
			merr = cerr
		}
		if merr != nil {
			// A file system without mmap: read the rest.
			return crcReadChunks(f, off, size-off, feed)
		}
		err = feedMapped(m, feed)
		_ = unix.Munmap(m)
		if err != nil {
			return err
		}
	}
	return nil
}

// feedMapped feeds a mapping, turning a fault into an error.
func feedMapped(m []byte, feed func([]byte)) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			err = fmt.Errorf("read of a mapped file failed (truncated while read?): %v", r)
		}
	}()
	feed(m)
	return nil
}
