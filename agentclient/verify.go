package agentclient

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// TLSOptions say how a Client with the default transport (New with a nil
// transport) verifies the agents' certificates. Agents usually present
// self-signed certificates, so the default is trust on first use, as SSH
// does with host keys: the first public key an agent address presents is
// pinned, and a different key later is refused during the TLS handshake,
// before any request (and so the auth token) is sent.
type TLSOptions struct {
	// RootCAs, when set, verifies each agent's certificate chain against
	// these CAs and its name (the node's IP or host name must be in the
	// certificate's SANs), as for any HTTPS server. Pins are then not
	// used.
	RootCAs *x509.CertPool
	// Pins keeps the pinned keys. Default: an in-memory set owned by the
	// Client (keys are pinned for the Client's lifetime).
	Pins KeyPins
	// InsecureSkipVerify accepts any certificate: an impostor at a node's
	// address receives the auth token. Only when asked; New logs a
	// warning.
	InsecureSkipVerify bool
}

// KeyPins decides whether an agent's public key is trusted.
type KeyPins interface {
	// Check is called during every TLS handshake with the agent address
	// ("host:port") and the Fingerprint of the key it presented. It
	// returns nil to trust the key (pinning it if the address had none)
	// and an error, typically a *KeyChangedError, to refuse it.
	Check(addr, fingerprint string) error
}

// Fingerprint is the SHA-256 of a certificate's public key
// (SubjectPublicKeyInfo) as "SHA256:<base64>", the form ssh-keygen -l
// shows. A renewed certificate with the same key keeps its fingerprint.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// KeyChangedError refuses an agent whose public key is not the pinned one.
type KeyChangedError struct {
	// Addr is the agent's "host:port".
	Addr string
	// Pinned and Presented are fingerprints (see Fingerprint).
	Pinned, Presented string
}

func (e *KeyChangedError) Error() string {
	return fmt.Sprintf("agentclient: the agent at %s presented public key %s but %s is pinned: "+
		"refusing to talk to it (the auth token was not sent); if the node's key was changed on purpose, "+
		"accept the new key by updating the cluster with accept_new_agent_keys", e.Addr, e.Presented, e.Pinned)
}

// MemoryPins is a KeyPins in memory: the first key of an address is
// pinned, a different one later is refused. The zero value is ready.
type MemoryPins struct {
	mu   sync.Mutex
	pins map[string]string
}

// Check implements KeyPins.
func (p *MemoryPins) Check(addr, fp string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pins == nil {
		p.pins = make(map[string]string)
	}
	switch pinned, ok := p.pins[addr]; {
	case !ok:
		p.pins[addr] = fp
	case pinned != fp:
		return &KeyChangedError{Addr: addr, Pinned: pinned, Presented: fp}
	}
	return nil
}

// Pinned returns a copy of the pins, address to fingerprint.
func (p *MemoryPins) Pinned() map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]string, len(p.pins))
	for k, v := range p.pins {
		out[k] = v
	}
	return out
}

// applyTLS makes t verify agents as o says: its TLS connections are made
// by a dialer that knows the address it dials, so that the pin of that
// address is checked.
func applyTLS(t *http.Transport, o TLSOptions, log *slog.Logger) {
	if o.InsecureSkipVerify {
		if log != nil {
			log.Warn("agent TLS certificate verification is disabled: anyone answering at a node's address receives the auth token")
		}
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for explicitly, warned above
		return
	}
	if o.RootCAs == nil && o.Pins == nil {
		o.Pins = &MemoryPins{}
	}
	t.DialTLSContext = TLSDialer(o, &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second})
}

// TLSDialer returns a DialTLSContext function (for an http.Transport) that
// dials with d and verifies the agent as o says (o.InsecureSkipVerify
// aside: with it, leave DialTLSContext unset).
func TLSDialer(o TLSOptions, d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if o.RootCAs != nil {
			cfg.RootCAs, cfg.ServerName = o.RootCAs, host
		} else {
			// The chain is not verified (agents are self-signed): the
			// key is, against its pin.
			cfg.InsecureSkipVerify = true //nolint:gosec // verified by VerifyConnection
			cfg.VerifyConnection = func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 {
					return fmt.Errorf("agentclient: the agent at %s presented no certificate", addr)
				}
				return o.Pins.Check(addr, Fingerprint(cs.PeerCertificates[0]))
			}
		}
		raw, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		conn := tls.Client(raw, cfg)
		if err := conn.HandshakeContext(ctx); err != nil {
			_ = raw.Close()
			return nil, fmt.Errorf("agentclient: TLS handshake with %s: %w", addr, err)
		}
		return conn, nil
	}
}

// verificationFailed reports whether err is a refused certificate or key:
// retrying would fail the same way.
func verificationFailed(err error) bool {
	var kc *KeyChangedError
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	return errors.As(err, &kc) || errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &hn)
}
