package scyllaops

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/store"
)

// SecretAgentKeys is the drawer key (see store.SecretStore) of a
// cluster's pinned agent keys: a JSON object from "host:port" to the
// agentclient.Fingerprint of the public key that agent presented first.
const SecretAgentKeys = "agent_keys"

// AgentTLSOptions say how the Manager verifies the agents' TLS
// certificates when it reaches them over TCP (New with a nil transport).
//
// By default nothing needs setting up: each agent's public key is pinned
// when the Manager first talks to it (at cluster add for every node that
// answers, later for new nodes), trust on first use as SSH does; a
// different key later is refused with an error naming the node and both
// fingerprints, before the auth token is sent. After replacing a node's
// key on purpose, accept it with UpdateCluster and
// Cluster.AcceptNewAgentKeys.
type AgentTLSOptions struct {
	// CAFile is a PEM file of the CA certificates that sign the agents'
	// certificates, for fleets with their own PKI: each agent's chain and
	// name (the node's IP must be in its SANs) are verified, and keys are
	// not pinned.
	CAFile string
	// InsecureSkipVerify accepts any agent certificate: anyone answering
	// at a node's address receives the auth token. Only when asked; New
	// logs a warning.
	InsecureSkipVerify bool
}

func (o AgentTLSOptions) validate() error {
	if o.CAFile != "" && o.InsecureSkipVerify {
		return store.Invalid("options.agent_tls", "ca_file or insecure_skip_verify, not both", "")
	}
	return nil
}

// loadCAs reads the CA file of o (nil pool when none is set).
func (o AgentTLSOptions) loadCAs() (*x509.CertPool, error) {
	if o.CAFile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(o.CAFile)
	if err != nil {
		return nil, store.Invalid("options.agent_tls.ca_file", "a readable PEM file of CA certificates ("+err.Error()+")", o.CAFile)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, store.Invalid("options.agent_tls.ca_file", "a PEM file holding at least one CERTIFICATE block", o.CAFile)
	}
	return pool, nil
}

// agentTLS returns the client TLS options of a cluster's agents.
func (m *Manager) agentTLS(clusterID uuid.UUID) agentclient.TLSOptions {
	switch {
	case m.opts.AgentTLS.InsecureSkipVerify:
		return agentclient.TLSOptions{InsecureSkipVerify: true}
	case m.rootCAs != nil:
		return agentclient.TLSOptions{RootCAs: m.rootCAs}
	}
	return agentclient.TLSOptions{Pins: m.pinsOf(clusterID, true)}
}

// pinsOf returns the pin set of a cluster, creating it (empty, stored in
// the drawer when persist) if needed.
func (m *Manager) pinsOf(clusterID uuid.UUID, persist bool) *clusterPins {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.pins[clusterID]
	if !ok {
		p = &clusterPins{m: m, id: clusterID, persist: persist, loaded: !persist}
		m.pins[clusterID] = p
	}
	return p
}

// forgetAgents drops the cached clients and pins of a cluster.
func (m *Manager) forgetAgents(clusterID uuid.UUID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.pins, clusterID)
	for k := range m.clients {
		if k.cluster == clusterID {
			delete(m.clients, k)
		}
	}
}

// clusterPins is the KeyPins of one cluster: pins are loaded from the
// cluster's drawer on first use and each new one is stored there before
// the connection is trusted.
type clusterPins struct {
	m  *Manager
	id uuid.UUID

	mu      sync.Mutex
	loaded  bool
	persist bool // false while the cluster is being added
	pins    map[string]string
}

const pinStoreTimeout = 10 * time.Second

// Check implements agentclient.KeyPins.
func (p *clusterPins) Check(addr, fp string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	// Called inside a TLS handshake, which has no context of its own.
	ctx, cancel := context.WithTimeout(context.Background(), pinStoreTimeout)
	defer cancel()
	if !p.loaded {
		if err := p.reloadLocked(ctx); err != nil {
			return err
		}
	}
	if p.pins == nil {
		p.pins = make(map[string]string)
	}
	if pinned, ok := p.pins[addr]; ok && pinned != fp && p.persist {
		// Another Manager on the same store may have accepted a new key
		// (a cluster update): the stored pins decide.
		if err := p.reloadLocked(ctx); err != nil {
			return err
		}
	}
	if pinned, ok := p.pins[addr]; ok {
		if pinned == fp {
			return nil
		}
		p.m.log.Warn("agent presented a different public key: refused", "cluster", p.id, "agent", addr, "pinned", pinned, "presented", fp)
		return fmt.Errorf("scyllaops: cluster %s: %w", p.id, &agentclient.KeyChangedError{Addr: addr, Pinned: pinned, Presented: fp})
	}
	p.pins[addr] = fp
	if p.persist {
		if err := p.saveLocked(ctx); err != nil {
			delete(p.pins, addr)
			return err
		}
	}
	p.m.log.Info("agent public key pinned", "cluster", p.id, "agent", addr, "key", fp)
	return nil
}

// reloadLocked reads the pins from the cluster's drawer.
func (p *clusterPins) reloadLocked(ctx context.Context) error {
	b, err := p.m.secret(ctx, p.id, SecretAgentKeys)
	if err != nil {
		return fmt.Errorf("scyllaops: load the pinned agent keys of cluster %s: %w", p.id, err)
	}
	pins := make(map[string]string)
	if b != nil {
		if err := json.Unmarshal(b, &pins); err != nil {
			return fmt.Errorf("scyllaops: decode the pinned agent keys of cluster %s: %w", p.id, err)
		}
	}
	p.pins, p.loaded = pins, true
	return nil
}

func (p *clusterPins) saveLocked(ctx context.Context) error {
	b, err := json.Marshal(p.pins)
	if err != nil {
		return fmt.Errorf("scyllaops: encode agent keys: %w", err)
	}
	if err := p.m.st.PutSecret(ctx, p.id, SecretAgentKeys, b); err != nil {
		return fmt.Errorf("scyllaops: store the pinned agent keys of cluster %s: %w", p.id, err)
	}
	return nil
}

// commit stores the pins gathered while the cluster was being added and
// makes later pins stored at once.
func (p *clusterPins) commit(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.persist, p.loaded = true, true
	if len(p.pins) == 0 {
		return nil
	}
	return p.saveLocked(ctx)
}

// reset forgets every pin of the cluster (in memory and in the drawer):
// the next key each agent presents is pinned.
func (p *clusterPins) reset(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pins, p.loaded = make(map[string]string), true
	if err := p.m.st.DeleteSecret(ctx, p.id, SecretAgentKeys); err != nil {
		return fmt.Errorf("scyllaops: drop the pinned agent keys of cluster %s: %w", p.id, err)
	}
	return nil
}

// pinHosts handshakes (TLS only, no request, so no token) with the agent
// of every host so that their keys are pinned at cluster add. A host that
// does not answer is pinned when first reached; a changed key is an
// error.
func (m *Manager) pinHosts(ctx context.Context, clusterID uuid.UUID, hosts []string, port int) error {
	if m.transport != nil || m.opts.AgentTLS.InsecureSkipVerify || m.rootCAs != nil {
		return nil
	}
	dial := agentclient.TLSDialer(m.agentTLS(clusterID), &net.Dialer{})
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
				m.log.Debug("agent key not pinned at add (unreachable); pinned at first contact", "host", h, "err", err)
				return nil
			}
			return conn.Close()
		})
	}
	return g.Wait()
}

// AgentKeys returns the pinned agent keys of a cluster: "host:port" to
// fingerprint (see agentclient.Fingerprint). Empty with a CA file or
// skipped verification, or before the agents were reached.
func (m *Manager) AgentKeys(ctx context.Context, idOrName string) (map[string]string, error) {
	if err := m.check(ctx); err != nil {
		return nil, err
	}
	sc, err := m.resolveCluster(ctx, idOrName)
	if err != nil {
		return nil, err
	}
	b, err := m.secret(ctx, sc.ID, SecretAgentKeys)
	if err != nil || b == nil {
		return map[string]string{}, err
	}
	out := map[string]string{}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("scyllaops: decode the pinned agent keys of cluster %s: %w", sc.ID, err)
	}
	return out, nil
}
