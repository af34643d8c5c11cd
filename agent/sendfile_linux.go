package agent

import (
	"net"
	"os"

	"golang.org/x/sys/unix"
)

const haveSendfile = true

// sendfile sends n bytes of f from offset off into c (the socket's
// poller waits while its buffer is full). It returns the bytes sent;
// fewer than n without an error means f ended.
func sendfile(c *net.TCPConn, f *os.File, off, n int64) (int64, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	fc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var (
		sent int64
		serr error
	)
	pos := off
	cerr := fc.Control(func(src uintptr) {
		werr := rc.Write(func(dst uintptr) bool {
			for sent < n {
				m, e := unix.Sendfile(int(dst), int(src), &pos, int(n-sent))
				if m > 0 {
					sent += int64(m)
				}
				switch {
				case e == unix.EAGAIN:
					return false // wait until the socket is writable
				case e == unix.EINTR:
					continue
				case e != nil:
					serr = os.NewSyscallError("sendfile", e)
					return true
				case m == 0:
					return true // end of file
				}
			}
			return true
		})
		if serr == nil {
			serr = werr
		}
	})
	if serr == nil {
		serr = cerr
	}
	return sent, serr
}
