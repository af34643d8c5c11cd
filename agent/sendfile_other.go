//go:build !linux

package agent

import (
	"errors"
	"net"
	"os"
)

const haveSendfile = false

func sendfile(*net.TCPConn, *os.File, int64, int64) (int64, error) {
	return 0, errors.ErrUnsupported
}
