package cqlstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/gocql/gocql"
)

// ErrTLS is matched (errors.Is) by the error Open returns when no
// connection could be made because of TLS: the server's certificate is not
// signed by a trusted CA or does not name the host, the server wants a
// client certificate, the server does not speak TLS, or the handshake did
// not finish within Options.ConnectTimeout.
var ErrTLS = errors.New("cqlstore: TLS to the database failed")

// tlsDialer is the driver's host dialer when Options.TLS is set. It does
// what gocql's own TLS dialer (SslOptions) does, with one difference: the
// handshake is bounded by the connect timeout. gocql v1.7.0 runs it under
// the session's context, which has no deadline, so a host that accepts TCP
// connections but never answers the handshake would block Open forever.
//
// The server certificate is verified unless the config says
// InsecureSkipVerify: against RootCAs (the system roots when nil) and,
// when ServerName is empty, against the host as the driver knows it: the
// name or IP given in Options.Hosts, or the IP of a discovered peer (whose
// certificate then needs an IP SAN). gocql.WrapTLS sets that ServerName.
type tlsDialer struct {
	dialer  net.Dialer
	config  *tls.Config
	timeout time.Duration
}

func newTLSDialer(c *tls.Config, connectTimeout time.Duration) *tlsDialer {
	return &tlsDialer{dialer: net.Dialer{Timeout: connectTimeout}, config: c.Clone(), timeout: connectTimeout}
}

// DialHost implements gocql.HostDialer.
func (d *tlsDialer) DialHost(ctx context.Context, host *gocql.HostInfo) (*gocql.DialedHost, error) {
	ip, port := host.ConnectAddress(), host.Port()
	if len(ip) == 0 || ip.IsUnspecified() {
		return nil, fmt.Errorf("host missing connect ip address: %v", ip)
	}
	if port == 0 {
		return nil, fmt.Errorf("host missing port: %v", port)
	}
	conn, err := d.dialer.DialContext(ctx, "tcp", host.ConnectAddressAndPort())
	if err != nil {
		return nil, err
	}
	hctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	addr := host.HostnameAndPort()
	dh, err := gocql.WrapTLS(hctx, conn, addr, d.config)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within the connect timeout (%s): %w", d.timeout, err)
		}
		// The driver keeps only the text of this error: tlsFailure
		// recognizes it by this prefix.
		return nil, fmt.Errorf("%s %s: %w", tlsHandshakePrefix, addr, err)
	}
	return dh, nil
}

const tlsHandshakePrefix = "TLS handshake with"

// tlsFailure reports whether the text of a connection error says TLS
// failed: the handshake (tlsDialer), or, with TLS 1.3, the server's alert
// after it, which the client reads with its first answer (e.g. "remote
// error: tls: certificate required" when it wants a client certificate).
func tlsFailure(msg string) bool {
	return strings.Contains(msg, tlsHandshakePrefix) || strings.Contains(msg, "tls: ") || strings.Contains(msg, "x509: ")
}

// tlsError marks an error as ErrTLS without changing its text.
type tlsError struct{ err error }

func (e tlsError) Error() string        { return e.err.Error() }
func (e tlsError) Unwrap() error        { return e.err }
func (e tlsError) Is(target error) bool { return target == ErrTLS }
