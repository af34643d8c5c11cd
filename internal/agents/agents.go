// Package agents holds the Manager's connections to the clusters'
// agents: one agentclient.Client per cluster, agent port and auth token
// (shared across clusters with the caller's transport), the agents' TLS
// verification — a CA pool, skipped verification, or by default each
// agent's public key pinned on first use (trust on first use, as SSH
// does) and kept in the cluster's secret drawer under SecretKey — and
// the one-call probe that tells a wrong token, port or host at cluster
// add.
package agents

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/topology"
)

// SecretKey is the drawer key (see store.SecretStore) of a cluster's
// pinned agent keys: a JSON object from "host:port" to the
// agentclient.Fingerprint of the public key that agent presented first.
const SecretKey = "agent_keys"

// pinStoreTimeout bounds the drawer calls of a pin check (made inside a
// TLS handshake, which has no context of its own).
const pinStoreTimeout = 10 * time.Second

// Config tunes a Pool.
type Config struct {
	// Transport reaches the agents (nil: TCP+TLS to each node's agent).
	Transport http.RoundTripper
	// InsecureSkipVerify accepts any agent certificate.
	InsecureSkipVerify bool
	// RootCAs verifies the agents' certificates (nil: keys are pinned).
	RootCAs *x509.CertPool
	// ConnectTimeout bounds a probe.
	ConnectTimeout time.Duration
	// ClientLogger is the agent clients' logger; Logger the Pool's own.
	ClientLogger, Logger *slog.Logger
}

// Pool is the Manager's agent clients and pinned keys. Create it with
// New; it is safe for concurrent use.
type Pool struct {
	st  store.SecretStore
	cfg Config

	mu      sync.Mutex
	clients map[clientKey]*agentclient.Client
	pins    map[uuid.UUID]*Pins
	// transports are, over TCP+TLS, the one transport per cluster its
	// clients (with and without retries, any port and token) share, so
	// that they share the kept connections to its agents.
	transports map[uuid.UUID]*http.Transport
}

type clientKey struct {
	cluster uuid.UUID // uuid.Nil with a caller's transport: clients are shared
	port    int
	token   string
	// once: no retries (discovery: the hedge moves to the next host
	// instead of retrying a dead one).
	once bool
}

// New returns a Pool keeping pins in st.
func New(st store.SecretStore, cfg Config) *Pool {
	return &Pool{
		st: st, cfg: cfg, clients: map[clientKey]*agentclient.Client{}, pins: map[uuid.UUID]*Pins{},
		transports: map[uuid.UUID]*http.Transport{},
	}
}

// Client returns the agent client of a cluster: with the caller's
// transport one per agent port and auth token, shared; over TCP+TLS one
// per cluster, verifying its agents' keys, over the cluster's one
// transport (shared by its clients with and without retries). With once,
// the client makes no retries.
func (p *Pool) Client(clusterID uuid.UUID, port int, token string, once bool) (*agentclient.Client, error) {
	k := clientKey{port: port, token: token, once: once}
	o := agentclient.Options{AuthToken: token, Port: port, Logger: p.cfg.ClientLogger}
	if once {
		o.RetryMax = -1
	}
	var tlsOpts agentclient.TLSOptions
	if p.cfg.Transport == nil {
		k.cluster = clusterID
		tlsOpts = p.TLS(clusterID) // before p.mu: Pins takes it
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.clients[k]; ok {
		return c, nil
	}
	tr := p.cfg.Transport
	if tr == nil {
		t, ok := p.transports[clusterID]
		if !ok {
			t = agentclient.NewTLSTransport(tlsOpts, p.cfg.ClientLogger)
			p.transports[clusterID] = t
		}
		tr = t
	}
	c, err := agentclient.New(tr, o)
	if err != nil {
		return nil, fmt.Errorf("scyllaops: agent client: %w", err)
	}
	p.clients[k] = c
	return c, nil
}

// TLS returns the client TLS options of a cluster's agents.
func (p *Pool) TLS(clusterID uuid.UUID) agentclient.TLSOptions {
	switch {
	case p.cfg.InsecureSkipVerify:
		return agentclient.TLSOptions{InsecureSkipVerify: true}
	case p.cfg.RootCAs != nil:
		return agentclient.TLSOptions{RootCAs: p.cfg.RootCAs}
	}
	return agentclient.TLSOptions{Pins: p.Pins(clusterID, true)}
}

// Pins returns the pin set of a cluster, creating it if needed: empty and
// kept in memory until Commit when !persist (a cluster being added),
// else loaded from and stored in the drawer.
func (p *Pool) Pins(clusterID uuid.UUID, persist bool) *Pins {
	p.mu.Lock()
	defer p.mu.Unlock()
	ps, ok := p.pins[clusterID]
	if !ok {
		ps = &Pins{p: p, id: clusterID, persist: persist, loaded: !persist}
		p.pins[clusterID] = ps
	}
	return ps
}

// Forget drops the cached clients and pins of a cluster.
func (p *Pool) Forget(clusterID uuid.UUID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.pins, clusterID)
	if t, ok := p.transports[clusterID]; ok {
		t.CloseIdleConnections()
		delete(p.transports, clusterID)
	}
	for k := range p.clients {
		if k.cluster == clusterID {
			delete(p.clients, k)
		}
	}
}

// PinHosts handshakes (TLS only, no request, so no token) with the agent
// of every host so that their keys are pinned at cluster add. A host that
// does not answer is pinned when first reached; a changed key is an
// error. It does nothing unless keys are pinned.
func (p *Pool) PinHosts(ctx context.Context, clusterID uuid.UUID, hosts []string, port int) error {
	if p.cfg.Transport != nil || p.cfg.InsecureSkipVerify || p.cfg.RootCAs != nil {
		return nil
	}
	dial := agentclient.TLSDialer(p.TLS(clusterID), &net.Dialer{})
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, h := range hosts {
		g.Go(func() error {
			conn, err := dial(gctx, "tcp", net.JoinHostPort(h, strconv.Itoa(port)))
			var kc *agentclient.KeyChangedError
			if errors.As(err, &kc) {
				return err
			}
			if err != nil {
				p.cfg.Logger.Debug("agent key not pinned at add (unreachable); pinned at first contact", "host", h, "err", err)
				return nil
			}
			return conn.Close()
		})
	}
	return g.Wait()
}

// Probe makes one call (no retries) to the agent of host, so that
// failures retrying cannot cure end the check at once with their cause:
// a 401 or 403 (wrong token), a refused connection, an unknown host.
// Other failures (a timeout, a 5xx) return nil: the retrying check that
// follows decides. Each error it returns wraps store.ErrInvalid: the
// cluster's host, port or token is wrong.
func (p *Pool) Probe(ctx context.Context, clusterID uuid.UUID, host string, port int, token string) error {
	o := agentclient.Options{
		AuthToken: token, Port: port, RetryMax: -1, Timeout: p.cfg.ConnectTimeout, Logger: p.cfg.ClientLogger,
	}
	if p.cfg.Transport == nil {
		o.TLS = p.TLS(clusterID) // the cluster's pinned keys
	}
	cl, err := agentclient.New(p.cfg.Transport, o)
	if err != nil {
		return fmt.Errorf("scyllaops: agent client: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.ConnectTimeout)
	defer cancel()
	_, err = topology.Hosts(ctx, cl, host)
	if err == nil {
		return nil
	}
	var dnsErr *net.DNSError
	switch code := agentclient.StatusCode(err); {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return fmt.Errorf("scyllaops: wrong auth token for the agent at %s (cluster.auth_token must be the agent's auth_token): %w: %w", host, store.ErrInvalid, err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("scyllaops: connection refused by %s on port %d: no agent listens there (check cluster.host and cluster.port): %w: %w", host, port, store.ErrInvalid, err)
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound, errors.Is(err, agentclient.ErrNoHandler):
		return fmt.Errorf("scyllaops: unknown host %s (check cluster.host): %w: %w", host, store.ErrInvalid, err)
	}
	return nil
}

// Keys returns the pinned agent keys of a cluster stored in st: "host:port"
// to fingerprint (empty when none are).
func Keys(ctx context.Context, st store.SecretStore, clusterID uuid.UUID) (map[string]string, error) {
	b, err := st.GetSecret(ctx, clusterID, SecretKey)
	if errors.Is(err, store.ErrNotFound) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("scyllaops: load the pinned agent keys of cluster %s: %w", clusterID, err)
	}
	out := map[string]string{}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("scyllaops: decode the pinned agent keys of cluster %s: %w", clusterID, err)
	}
	return out, nil
}

// Pins is the agentclient.KeyPins of one cluster: pins are loaded from
// the cluster's drawer on first use and each new one is stored there
// before the connection is trusted.
type Pins struct {
	p  *Pool
	id uuid.UUID

	mu      sync.Mutex
	loaded  bool
	persist bool // false while the cluster is being added
	pins    map[string]string
}

// Check implements agentclient.KeyPins.
func (ps *Pins) Check(addr, fp string) error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	// Called inside a TLS handshake, which has no context of its own.
	ctx, cancel := context.WithTimeout(context.Background(), pinStoreTimeout)
	defer cancel()
	if !ps.loaded {
		if err := ps.reloadLocked(ctx); err != nil {
			return err
		}
	}
	if ps.pins == nil {
		ps.pins = make(map[string]string)
	}
	if pinned, ok := ps.pins[addr]; ok && pinned != fp && ps.persist {
		// Another Manager on the same store may have accepted a new key
		// (a cluster update): the stored pins decide.
		if err := ps.reloadLocked(ctx); err != nil {
			return err
		}
	}
	if pinned, ok := ps.pins[addr]; ok {
		if pinned == fp {
			return nil
		}
		ps.p.cfg.Logger.Warn("agent presented a different public key: refused", "cluster", ps.id, "agent", addr, "pinned", pinned, "presented", fp)
		return fmt.Errorf("scyllaops: cluster %s: %w", ps.id, &agentclient.KeyChangedError{Addr: addr, Pinned: pinned, Presented: fp})
	}
	ps.pins[addr] = fp
	if ps.persist {
		if err := ps.saveLocked(ctx); err != nil {
			delete(ps.pins, addr)
			return err
		}
	}
	ps.p.cfg.Logger.Info("agent public key pinned", "cluster", ps.id, "agent", addr, "key", fp)
	return nil
}

// reloadLocked reads the pins from the cluster's drawer.
func (ps *Pins) reloadLocked(ctx context.Context) error {
	pins, err := Keys(ctx, ps.p.st, ps.id)
	if err != nil {
		return err
	}
	ps.pins, ps.loaded = pins, true
	return nil
}

func (ps *Pins) saveLocked(ctx context.Context) error {
	b, err := json.Marshal(ps.pins)
	if err != nil {
		return fmt.Errorf("scyllaops: encode agent keys: %w", err)
	}
	if err := ps.p.st.PutSecret(ctx, ps.id, SecretKey, b); err != nil {
		return fmt.Errorf("scyllaops: store the pinned agent keys of cluster %s: %w", ps.id, err)
	}
	return nil
}

// Commit stores the pins gathered while the cluster was being added and
// makes later pins stored at once.
func (ps *Pins) Commit(ctx context.Context) error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.persist, ps.loaded = true, true
	if len(ps.pins) == 0 {
		return nil
	}
	return ps.saveLocked(ctx)
}

// Reset forgets every pin of the cluster (in memory and in the drawer):
// the next key each agent presents is pinned.
func (ps *Pins) Reset(ctx context.Context) error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.pins, ps.loaded = make(map[string]string), true
	if err := ps.p.st.DeleteSecret(ctx, ps.id, SecretKey); err != nil {
		return fmt.Errorf("scyllaops: drop the pinned agent keys of cluster %s: %w", ps.id, err)
	}
	return nil
}
