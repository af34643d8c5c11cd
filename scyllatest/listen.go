package scyllatest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/scyllaops/scyllaops/agent"
)

// nodeListeners are a node's sockets in Listen mode.
type nodeListeners struct {
	servers []*http.Server
	cql     net.Listener
}

func (c *Cluster) listenTransport() http.RoundTripper {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tcpTransport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // agents use self-signed certificates
		c.tcpTransport = t
	}
	return c.tcpTransport
}

// listenNode opens n's sockets: Scylla REST, Prometheus, agent (HTTPS),
// CQL and, if enabled, Alternator, each on n.IP with its standard port.
func (c *Cluster) listenNode(n *Node) (err error) {
	l := &nodeListeners{}
	defer func() {
		if err != nil {
			for _, s := range l.servers {
				s.Close()
			}
			if l.cql != nil {
				l.cql.Close()
			}
		}
	}()
	// One key per node for its life: a restarted node presents the key
	// the Manager pinned, as a real agent with its key file does.
	c.mu.Lock()
	cert := n.cert
	c.mu.Unlock()
	if cert == nil {
		gen, err := agent.SelfSignedCert(n.IP)
		if err != nil {
			return err
		}
		c.mu.Lock()
		n.cert = &gen
		cert = n.cert
		c.mu.Unlock()
	}
	serve := func(port int, h http.Handler, tlsCfg *tls.Config) error {
		ln, err := net.Listen("tcp", net.JoinHostPort(n.IP, fmt.Sprint(port)))
		if err != nil {
			return fmt.Errorf("scyllatest: listen: %w", err)
		}
		s := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: nil}
		if tlsCfg != nil {
			ln = tls.NewListener(ln, tlsCfg)
		}
		l.servers = append(l.servers, s)
		c.wg.Go(func() { _ = s.Serve(ln) })
		return nil
	}
	if err := serve(PortREST, n.rest, nil); err != nil {
		return err
	}
	if err := serve(PortPrometheus, n.prom, nil); err != nil {
		return err
	}
	if err := serve(PortAgent, n.agentHandler, &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}); err != nil {
		return err
	}
	if c.opts.Alternator {
		if err := serve(PortAlternator, n.newAlternatorHandler(), nil); err != nil {
			return err
		}
	}
	cl, err := net.Listen("tcp", c.CQLAddr(n))
	if err != nil {
		return fmt.Errorf("scyllatest: listen: %w", err)
	}
	l.cql = cl
	c.wg.Go(func() {
		for {
			conn, err := cl.Accept()
			if err != nil {
				return
			}
			if !c.serveConn(conn, n) {
				return
			}
		}
	})
	c.mu.Lock()
	n.listen = l
	c.mu.Unlock()
	return nil
}

// unlistenNode closes n's sockets and CQL connections.
func (c *Cluster) unlistenNode(n *Node) error {
	c.mu.Lock()
	l := n.listen
	n.listen = nil
	c.mu.Unlock()
	c.closeCQLConns(n)
	if l == nil {
		return nil
	}
	var errs []error
	for _, s := range l.servers {
		if err := s.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := l.cql.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ReplaceAgentKey gives node's agent a new TLS key and certificate, in
// Listen mode taking effect at its next Start (as replacing the agent's
// key files and restarting it does); a node otherwise keeps its key
// across restarts.
func (c *Cluster) ReplaceAgentKey(node *Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	node.cert = nil
}
