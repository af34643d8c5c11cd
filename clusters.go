package scyllaops

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/internal/agents"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/topology"
)

// SecretSet is what a read of a cluster shows in place of a secret that is
// set. Secrets are write-only: they are never returned.
const SecretSet = "set"

// Cluster is a managed cluster as the Manager's API shows it. Secret
// fields are write-only: on input they set the secret, on output they read
// SecretSet (or are empty) and certificate bytes are never returned.
type Cluster struct {
	ID uuid.UUID
	// Name is unique and must not parse as a UUID.
	Name string
	// Host is the contact point: an IP or host name of one node.
	Host string
	// Port is the agent port. Default: Options.AgentPort (10001).
	Port   int
	Labels map[string]string
	// AuthToken is the agents' bearer token (secret).
	AuthToken string
	// Username and Password are CQL credentials (secret), set as a pair.
	Username string
	Password string
	// AlternatorAccessKeyID and AlternatorSecretAccessKey are Alternator
	// credentials (secret), set as a pair.
	AlternatorAccessKeyID     string
	AlternatorSecretAccessKey string
	// SSLUserCertFile and SSLUserKeyFile are the client TLS identity
	// (secret, PEM), set as a pair. Never returned.
	SSLUserCertFile []byte
	SSLUserKeyFile  []byte
	// WithoutRepair, at creation only, skips the default weekly repair.
	WithoutRepair          bool
	ForceTLSDisabled       bool
	ForceNonSSLSessionPort bool
	// KnownHosts are the node addresses seen at the last discovery
	// (read-only).
	KnownHosts []string
	// AcceptNewAgentKeys, on UpdateCluster only, forgets the agents'
	// pinned public keys and pins the keys they present now (checked by a
	// connection to every known node): after a node's certificate key was
	// replaced on purpose. See AgentTLSOptions.
	AcceptNewAgentKeys bool
}

type cqlCreds struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type alternatorCreds struct {
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
}

type tlsIdentity struct {
	Cert []byte `json:"cert"`
	Key  []byte `json:"key"`
}

func (m *Manager) validateCluster(c *Cluster) error {
	if c.Name == "" {
		return store.Invalid("cluster.name", "a non-empty name that is not a UUID, e.g. \"prod-eu\"", "")
	}
	if err := store.CheckName("cluster.name", c.Name); err != nil {
		return err
	}
	if _, err := uuid.Parse(c.Name); err == nil {
		return store.Invalid("cluster.name", "a name that is not a UUID, e.g. \"prod-eu\"", c.Name)
	}
	if strings.ContainsAny(c.Name, "/?#") {
		return store.Invalid("cluster.name", "a name without '/', '?' or '#', e.g. \"prod-eu\"", c.Name)
	}
	if c.Host == "" || strings.ContainsAny(c.Host, "/ ") {
		return store.Invalid("cluster.host", "the IP or host name of one node, e.g. \"10.0.0.1\"", c.Host)
	}
	if _, _, err := net.SplitHostPort(c.Host); err == nil {
		return store.Invalid("cluster.host", "an IP or host name without a port (set cluster.port), e.g. \"10.0.0.1\"", c.Host)
	}
	if c.Port < 0 || c.Port > 65535 {
		return store.Invalid("cluster.port", "the agent port 1-65535, e.g. 10001", fmt.Sprint(c.Port))
	}
	if (c.Username == "") != (c.Password == "") {
		return store.Invalid("cluster.username/password", "both CQL username and password, or neither", "")
	}
	if (c.AlternatorAccessKeyID == "") != (c.AlternatorSecretAccessKey == "") {
		return store.Invalid("cluster.alternator_access_key_id/alternator_secret_access_key", "both Alternator keys, or neither", "")
	}
	if (len(c.SSLUserCertFile) == 0) != (len(c.SSLUserKeyFile) == 0) {
		return store.Invalid("cluster.ssl_user_cert_file/ssl_user_key_file", "both the PEM certificate and key, or neither", "")
	}
	return nil
}

// CreateCluster adds a cluster. It validates the input, checks that the
// agent of c.Host answers with the token (unless
// Options.SkipConnectivityCheck), discovers the nodes, stores the cluster
// with its secrets kept apart, and creates the default tasks. On error
// nothing is stored. It returns the cluster as GetCluster would.
func (m *Manager) CreateCluster(ctx context.Context, c Cluster) (Cluster, error) {
	if err := m.check(ctx); err != nil {
		return Cluster{}, err
	}
	if err := m.validateCluster(&c); err != nil {
		return Cluster{}, fmt.Errorf("scyllaops: %w", err)
	}
	if c.Port == 0 {
		c.Port = m.opts.AgentPort
	}
	if c.ID == uuid.Nil {
		c.ID = uuid.New()
	}
	if _, err := m.st.GetClusterByName(ctx, c.Name); err == nil {
		return Cluster{}, fmt.Errorf("scyllaops: cluster name %q: %w", c.Name, store.ErrConflict)
	}
	// A fresh pin set, stored once the cluster is (pins are keyed by
	// the new ID, so nothing earlier can share it).
	m.agents.Forget(c.ID)
	pins := m.agents.Pins(c.ID, false)
	hosts, err := m.connect(ctx, c.ID, c.Host, c.Port, c.AuthToken)
	if err != nil {
		m.agents.Forget(c.ID)
		return Cluster{}, err
	}
	now := time.Now().UTC()
	sc := &store.Cluster{
		ID: c.ID, Name: c.Name, Host: c.Host, Port: c.Port, Labels: c.Labels, KnownHosts: hosts,
		ForceTLSDisabled: c.ForceTLSDisabled, ForceNonSSLSessionPort: c.ForceNonSSLSessionPort,
		CreatedAt: now, UpdatedAt: now,
	}
	if err := m.st.CreateCluster(ctx, sc); err != nil {
		m.agents.Forget(c.ID)
		return Cluster{}, fmt.Errorf("scyllaops: create cluster: %w", err)
	}
	undo := func(err error) (Cluster, error) {
		m.agents.Forget(c.ID)
		// Nothing partial stays: remove the cluster with what was stored.
		// The caller's ctx may be done; the cleanup must still happen.
		if derr := m.st.DeleteCluster(context.WithoutCancel(ctx), c.ID); derr != nil && !errors.Is(derr, store.ErrNotFound) {
			err = errors.Join(err, fmt.Errorf("scyllaops: undo create cluster: %w", derr))
		}
		return Cluster{}, err
	}
	if err := m.putSecrets(ctx, c.ID, &c, true); err != nil {
		return undo(err)
	}
	if err := pins.Commit(ctx); err != nil {
		return undo(err)
	}
	if err := m.addDefaultTasks(ctx, sc, c.WithoutRepair); err != nil {
		return undo(err)
	}
	m.metrics.setClusterName(c.ID, c.Name)
	if !m.opts.SkipConnectivityCheck {
		// The first view (known hosts with their DCs, racks, tokens);
		// a failure here is not the cluster's: the periodic refresh
		// tries again.
		if _, _, err := m.refreshTopology(ctx, c.ID); err != nil {
			m.log.WarnContext(ctx, "first topology discovery failed", "cluster", c.ID, "err", err)
		}
	}
	m.log.InfoContext(ctx, "cluster added", "cluster", c.ID, "name", c.Name, "hosts", len(hosts))
	return m.GetCluster(ctx, c.ID.String())
}

// connect checks the agent of host, pins the keys of the agents of the
// known hosts (package internal/agents) and returns the known hosts.
func (m *Manager) connect(ctx context.Context, clusterID uuid.UUID, host string, port int, token string) ([]string, error) {
	if m.opts.SkipConnectivityCheck {
		return []string{host}, nil
	}
	if err := m.agents.Probe(ctx, clusterID, host, port, token); err != nil {
		return nil, err
	}
	cl, err := m.agents.Client(clusterID, port, token, false)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, m.opts.ConnectTimeout)
	defer cancel()
	hosts, err := topology.Hosts(ctx, cl, host)
	var kc *agentclient.KeyChangedError
	if errors.As(err, &kc) {
		return nil, fmt.Errorf("scyllaops: %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("scyllaops: cannot reach the agent of %s on port %d (check cluster.host, cluster.port and cluster.auth_token): %w", host, port, err)
	}
	if len(hosts) == 0 {
		hosts = []string{host}
	}
	slices.Sort(hosts)
	if err := m.agents.PinHosts(ctx, clusterID, hosts, port); err != nil {
		return nil, fmt.Errorf("scyllaops: %w", err)
	}
	return hosts, nil
}

// putSecrets stores the secrets set in c. With create, absent secrets are
// left absent; on update an empty field keeps the stored secret.
func (m *Manager) putSecrets(ctx context.Context, id uuid.UUID, c *Cluster, create bool) error {
	put := func(key string, v []byte) error {
		if err := m.st.PutSecret(ctx, id, key, v); err != nil {
			return fmt.Errorf("scyllaops: store secret %s: %w", key, err)
		}
		return nil
	}
	_ = create
	if c.AuthToken != "" && c.AuthToken != SecretSet {
		if err := put(store.SecretAuthToken, []byte(c.AuthToken)); err != nil {
			return err
		}
	}
	if c.Username != "" && c.Password != SecretSet {
		b, _ := json.Marshal(cqlCreds{Username: c.Username, Password: c.Password})
		if err := put(store.SecretCQLCreds, b); err != nil {
			return err
		}
	}
	if c.AlternatorAccessKeyID != "" && c.AlternatorSecretAccessKey != SecretSet {
		b, _ := json.Marshal(alternatorCreds{AccessKeyID: c.AlternatorAccessKeyID, SecretAccessKey: c.AlternatorSecretAccessKey})
		if err := put(store.SecretAlternatorCreds, b); err != nil {
			return err
		}
	}
	if len(c.SSLUserCertFile) > 0 {
		b, _ := json.Marshal(tlsIdentity{Cert: c.SSLUserCertFile, Key: c.SSLUserKeyFile})
		if err := put(store.SecretTLSIdentity, b); err != nil {
			return err
		}
	}
	return nil
}

// resolveCluster finds a cluster by UUID or by name.
func (m *Manager) resolveCluster(ctx context.Context, idOrName string) (*store.Cluster, error) {
	if idOrName == "" {
		return nil, fmt.Errorf("scyllaops: %w", store.Invalid("cluster", "a cluster ID (UUID) or name", ""))
	}
	if id, err := uuid.Parse(idOrName); err == nil {
		c, err := m.st.GetCluster(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("scyllaops: cluster %s: %w", idOrName, err)
		}
		return c, nil
	}
	c, err := m.st.GetClusterByName(ctx, idOrName)
	if err != nil {
		return nil, fmt.Errorf("scyllaops: cluster %q: %w", idOrName, err)
	}
	return c, nil
}

// GetCluster returns the cluster with the given ID or name, secrets shown
// as SecretSet. ErrNotFound if there is none.
func (m *Manager) GetCluster(ctx context.Context, idOrName string) (Cluster, error) {
	if err := m.check(ctx); err != nil {
		return Cluster{}, err
	}
	sc, err := m.resolveCluster(ctx, idOrName)
	if err != nil {
		return Cluster{}, err
	}
	return m.present(ctx, sc)
}

func (m *Manager) present(ctx context.Context, sc *store.Cluster) (Cluster, error) {
	keys, err := m.st.ListSecretKeys(ctx, sc.ID)
	if err != nil {
		return Cluster{}, fmt.Errorf("scyllaops: cluster %s secrets: %w", sc.ID, err)
	}
	c := Cluster{
		ID: sc.ID, Name: sc.Name, Host: sc.Host, Port: sc.Port, Labels: sc.Labels, KnownHosts: sc.KnownHosts,
		ForceTLSDisabled: sc.ForceTLSDisabled, ForceNonSSLSessionPort: sc.ForceNonSSLSessionPort,
	}
	for _, k := range keys {
		switch k {
		case store.SecretAuthToken:
			c.AuthToken = SecretSet
		case store.SecretCQLCreds:
			c.Username, c.Password = SecretSet, SecretSet
		case store.SecretAlternatorCreds:
			c.AlternatorAccessKeyID, c.AlternatorSecretAccessKey = SecretSet, SecretSet
		}
	}
	return c, nil
}

// ListClusters returns every cluster ordered by name, secrets shown as
// SecretSet.
func (m *Manager) ListClusters(ctx context.Context) ([]Cluster, error) {
	if err := m.check(ctx); err != nil {
		return nil, err
	}
	scs, err := m.st.ListClusters(ctx)
	if err != nil {
		return nil, fmt.Errorf("scyllaops: list clusters: %w", err)
	}
	out := make([]Cluster, 0, len(scs))
	for _, sc := range scs {
		c, err := m.present(ctx, sc)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// UpdateCluster replaces the cluster named by c.ID (or, if c.ID is nil, by
// idOrName). Secret fields that are empty or SecretSet keep the stored
// secret. Connectivity is checked again only if host, port or auth token
// changed.
func (m *Manager) UpdateCluster(ctx context.Context, idOrName string, c Cluster) (Cluster, error) {
	if err := m.check(ctx); err != nil {
		return Cluster{}, err
	}
	old, err := m.resolveCluster(ctx, idOrName)
	if err != nil {
		return Cluster{}, err
	}
	if c.ID != uuid.Nil && c.ID != old.ID {
		return Cluster{}, fmt.Errorf("scyllaops: %w", store.Invalid("cluster.id", "the ID of the cluster being updated, or empty", c.ID.String()))
	}
	c.ID = old.ID
	if c.Port == 0 {
		c.Port = old.Port
	}
	// Pairs may be given as "set" to keep them.
	if err := m.validateCluster(&c); err != nil {
		return Cluster{}, fmt.Errorf("scyllaops: %w", err)
	}
	if other, err := m.st.GetClusterByName(ctx, c.Name); err == nil && other.ID != old.ID {
		return Cluster{}, fmt.Errorf("scyllaops: cluster name %q: %w", c.Name, store.ErrConflict)
	}
	hosts := old.KnownHosts
	tokenChanged := c.AuthToken != "" && c.AuthToken != SecretSet
	if c.AcceptNewAgentKeys {
		if err := m.agents.Pins(old.ID, true).Reset(ctx); err != nil {
			return Cluster{}, err
		}
		m.log.InfoContext(ctx, "agent keys forgotten; the keys presented now are pinned", "cluster", old.ID)
	}
	if c.Host != old.Host || c.Port != old.Port || tokenChanged || c.AcceptNewAgentKeys {
		token := c.AuthToken
		if !tokenChanged {
			t, err := m.secret(ctx, old.ID, store.SecretAuthToken)
			if err != nil {
				return Cluster{}, err
			}
			token = string(t)
		}
		if hosts, err = m.connect(ctx, old.ID, c.Host, c.Port, token); err != nil {
			return Cluster{}, err
		}
		if c.AcceptNewAgentKeys {
			// Pin the other known nodes too (connect pinned the
			// discovered ones).
			if err := m.agents.PinHosts(ctx, old.ID, old.KnownHosts, c.Port); err != nil {
				return Cluster{}, fmt.Errorf("scyllaops: %w", err)
			}
		}
	}
	sc := &store.Cluster{
		ID: old.ID, Name: c.Name, Host: c.Host, Port: c.Port, Labels: c.Labels, KnownHosts: hosts,
		ForceTLSDisabled: c.ForceTLSDisabled, ForceNonSSLSessionPort: c.ForceNonSSLSessionPort,
		CreatedAt: old.CreatedAt, UpdatedAt: time.Now().UTC(),
	}
	if err := m.st.UpdateCluster(ctx, sc); err != nil {
		return Cluster{}, fmt.Errorf("scyllaops: update cluster: %w", err)
	}
	m.metrics.setClusterName(sc.ID, sc.Name)
	if err := m.putSecrets(ctx, old.ID, &c, false); err != nil {
		return Cluster{}, err
	}
	// The health check asks the agents again and reconnects to CQL with
	// the new ports, TLS settings and identity.
	m.hc.Service().InvalidateNodeInfo(sc.ID)
	return m.present(ctx, sc)
}

// DeleteWhat selects what DeleteCluster removes.
type DeleteWhat struct {
	// When any of these is set, only those secrets are deleted and the
	// cluster stays (as Scylla Manager's ?cql_creds=true …).
	CQLCreds        bool
	AlternatorCreds bool
	SSLUserCert     bool
}

// DeleteCluster removes a cluster with its secrets, tasks and runs, or
// only the selected secrets.
func (m *Manager) DeleteCluster(ctx context.Context, idOrName string, what DeleteWhat) error {
	if err := m.check(ctx); err != nil {
		return err
	}
	sc, err := m.resolveCluster(ctx, idOrName)
	if err != nil {
		return err
	}
	if what.CQLCreds || what.AlternatorCreds || what.SSLUserCert {
		for key, del := range map[string]bool{
			store.SecretCQLCreds: what.CQLCreds, store.SecretAlternatorCreds: what.AlternatorCreds, store.SecretTLSIdentity: what.SSLUserCert,
		} {
			if !del {
				continue
			}
			if err := m.st.DeleteSecret(ctx, sc.ID, key); err != nil {
				return fmt.Errorf("scyllaops: delete secret %s: %w", key, err)
			}
		}
		if what.SSLUserCert {
			// No kept CQL connection goes on with the deleted identity.
			m.hc.Service().InvalidateNodeInfo(sc.ID)
		}
		return nil
	}
	m.beforeClusterDelete(ctx, sc.ID)
	if err := m.st.DeleteCluster(ctx, sc.ID); err != nil {
		return fmt.Errorf("scyllaops: delete cluster: %w", err)
	}
	m.agents.Forget(sc.ID)
	m.metrics.forgetCluster(sc.ID)
	m.log.InfoContext(ctx, "cluster deleted", "cluster", sc.ID, "name", sc.Name)
	return nil
}

// CQLCredentials returns the cluster's CQL username and password, or
// empty strings when none are set. For services; never exposed by the
// REST API.
func (m *Manager) CQLCredentials(ctx context.Context, clusterID uuid.UUID) (user, password string, err error) {
	b, err := m.secret(ctx, clusterID, store.SecretCQLCreds)
	if err != nil || b == nil {
		return "", "", err
	}
	var cc cqlCreds
	if err := json.Unmarshal(b, &cc); err != nil {
		return "", "", fmt.Errorf("scyllaops: decode cql_creds of cluster %s: %w", clusterID, err)
	}
	return cc.Username, cc.Password, nil
}

// contactHosts returns the cluster's contact host, then its known hosts,
// without duplicates.
func contactHosts(c *store.Cluster) []string {
	out := make([]string, 0, len(c.KnownHosts)+1)
	for _, h := range append([]string{c.Host}, c.KnownHosts...) {
		if h != "" && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// resolveID returns the ID of the cluster with the given ID or name.
func (m *Manager) resolveID(ctx context.Context, idOrName string) (uuid.UUID, error) {
	if err := m.check(ctx); err != nil {
		return uuid.Nil, err
	}
	sc, err := m.resolveCluster(ctx, idOrName)
	if err != nil {
		return uuid.Nil, err
	}
	return sc.ID, nil
}

// clusterAccess is the Manager's clusters as the services see them
// (backup.Clusters, healthcheck.Clusters).
type clusterAccess struct{ m *Manager }

func (a clusterAccess) ResolveCluster(ctx context.Context, idOrName string) (uuid.UUID, error) {
	return a.m.resolveID(ctx, idOrName)
}

func (a clusterAccess) ClusterClient(ctx context.Context, clusterID uuid.UUID) (*agentclient.Client, []string, error) {
	return a.m.ClusterClient(ctx, clusterID)
}

// Topology discovers the cluster now (hedged over its known hosts),
// records the changes since its last view and returns the new view: the
// repair and restore plan on it.
func (a clusterAccess) Topology(ctx context.Context, clusterID uuid.UUID) (*topology.Cluster, error) {
	v, _, err := a.m.refreshTopology(ctx, clusterID)
	return v, err
}

func (a clusterAccess) CQLCredentials(ctx context.Context, clusterID uuid.UUID) (user, password string, err error) {
	return a.m.CQLCredentials(ctx, clusterID)
}

func (a clusterAccess) StoredCluster(ctx context.Context, clusterID uuid.UUID) (*store.Cluster, error) {
	if err := a.m.check(ctx); err != nil {
		return nil, err
	}
	sc, err := a.m.st.GetCluster(ctx, clusterID)
	if err != nil {
		return nil, fmt.Errorf("scyllaops: cluster %s: %w", clusterID, err)
	}
	return sc, nil
}

// PingClient is the cluster's agent client without retries: over TCP+TLS
// it verifies the agents' keys against the cluster's pins, as every other
// call does (a health check must never hand the token to an agent whose
// key changed).
func (a clusterAccess) PingClient(ctx context.Context, clusterID uuid.UUID) (*agentclient.Client, error) {
	sc, err := a.StoredCluster(ctx, clusterID)
	if err != nil {
		return nil, err
	}
	token, err := a.m.secret(ctx, clusterID, store.SecretAuthToken)
	if err != nil {
		return nil, err
	}
	return a.m.agents.Client(clusterID, cmp.Or(sc.Port, a.m.opts.AgentPort), string(token), true)
}

func (a clusterAccess) TLSIdentity(ctx context.Context, clusterID uuid.UUID) (*tls.Certificate, error) {
	b, err := a.m.secret(ctx, clusterID, store.SecretTLSIdentity)
	if err != nil || b == nil {
		return nil, err
	}
	var id tlsIdentity
	if err := json.Unmarshal(b, &id); err != nil {
		return nil, fmt.Errorf("scyllaops: decode tls_identity of cluster %s: %w", clusterID, err)
	}
	cert, err := tls.X509KeyPair(id.Cert, id.Key)
	if err != nil {
		return nil, fmt.Errorf("scyllaops: tls_identity of cluster %s: %w", clusterID, err)
	}
	return &cert, nil
}

// addDefaultTasks creates the tasks Scylla Manager creates when a cluster
// is added: health checks for every registered health-check runner, and a
// weekly repair unless withoutRepair or no repair runner is registered.
// See defaultTasks (tasks.go).
func (m *Manager) addDefaultTasks(ctx context.Context, c *store.Cluster, withoutRepair bool) error {
	return m.createDefaultTasks(ctx, c, withoutRepair)
}

// beforeClusterDelete stops and unschedules the cluster's tasks.
func (m *Manager) beforeClusterDelete(ctx context.Context, clusterID uuid.UUID) {
	m.stopClusterTasks(ctx, clusterID)
	m.hc.Forget(clusterID)
	m.sched.ForgetCluster(clusterID)
	m.backup.Service().ForgetCluster(clusterID)
	m.topo.Forget(clusterID)
}

// SecretAgentKeys is the drawer key (see store.SecretStore) of a
// cluster's pinned agent keys: a JSON object from "host:port" to the
// agentclient.Fingerprint of the public key that agent presented first.
const SecretAgentKeys = agents.SecretKey

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
	return agents.Keys(ctx, m.st, sc.ID)
}
