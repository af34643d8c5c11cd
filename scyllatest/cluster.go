package scyllatest

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/agent"
	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/internal/ring"
)

// ErrClosed is returned by methods of a closed Cluster.
var ErrClosed = errors.New("scyllatest: cluster closed")

// Cluster is a simulated ScyllaDB cluster: nodes with a Scylla REST API,
// data files on disk, CQL and Alternator endpoints, each behind a real
// agent. Create it with New (in tests) or Start; Close releases it.
type Cluster struct {
	opts    Options
	log     *slog.Logger
	tmpDir  string
	rootDir string

	// scyllaTransport carries agent→Scylla REST and Prometheus requests
	// in-process (registered as "ip:10000" and "ip:9180").
	scyllaTransport *agentclient.InProcessTransport
	// agents routes manager→agent requests in-process.
	agents    *agentclient.InProcessTransport
	transport *faultTransport
	// tcpTransport reaches the agents in Listen mode. Guarded by mu.
	tcpTransport *http.Transport
	client       *agentclient.Client

	cql    cqlConns
	wg     sync.WaitGroup
	stop   chan struct{}
	closed atomic.Bool

	mu             sync.Mutex
	rnd            *rand.Rand
	taken          map[int64]bool
	nodes          []*Node
	byIP           map[string]*Node
	keyspaces      map[string]*keyspace
	partitioned    map[string]bool
	repaired       []RepairedRange
	repairJobs     []RepairJob
	loaded         []LoadRecord
	loadedSSTables []LoadedSSTable
	downloads      []DownloadRecord
	failDownloads  map[string]bool
	tgcChanges     []TombstoneGCChange
	viewChanges    []ViewChange
	viewBuildTime  time.Duration
	nextRepairID   int
	closing        bool
	// ring and ringCache memoize describe_ring; see invalidateRingLocked.
	ring      *ring.Ring
	ringCache map[string][]ring.Range
	ipBase    [2]byte // Listen mode: 127.a.b.x
}

// New starts a cluster for a test: it fails the test via t.Fatal if the
// options are invalid or start fails, logs to the test, and closes the
// cluster in t.Cleanup.
func New(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	c, err := Start(opts)
	if err != nil {
		t.Fatalf("scyllatest: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("scyllatest: close: %v", err)
		}
	})
	return c
}

// Start validates opts and starts a cluster. The caller must Close it.
// In Listen mode the nodes' 127.x.y.z subnet is drawn at random and
// another one is tried (up to 8 times) if an address is in use.
func Start(opts Options) (*Cluster, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	for attempt := 1; ; attempt++ {
		c, err := startOnce(opts)
		if err == nil || !opts.Listen || attempt == 8 || !errors.Is(err, syscall.EADDRINUSE) {
			return c, err
		}
	}
}

func startOnce(opts Options) (*Cluster, error) {
	c := &Cluster{
		opts:            opts,
		log:             opts.Logger.With("component", "scyllatest"),
		scyllaTransport: agentclient.NewInProcessTransport(),
		agents:          agentclient.NewInProcessTransport(),
		stop:            make(chan struct{}),
		rnd:             rand.New(rand.NewPCG(opts.Seed, 0x5c711a)),
		taken:           map[int64]bool{},
		byIP:            map[string]*Node{},
		keyspaces:       map[string]*keyspace{},
		partitioned:     map[string]bool{},
	}
	c.transport = &faultTransport{c: c, base: c.agents}
	if opts.DataDir == "" {
		dir, err := os.MkdirTemp("", "scyllatest-")
		if err != nil {
			return nil, fmt.Errorf("scyllatest: data dir: %w", err)
		}
		c.tmpDir = dir
		c.rootDir = dir
	} else {
		c.rootDir = opts.DataDir
	}
	if err := c.start(); err != nil {
		_ = c.Close()
		if c.tmpDir == "" {
			for _, n := range c.nodes { // leave no half-built node dirs behind
				_ = os.RemoveAll(filepath.Join(c.rootDir, n.IP))
			}
		}
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start() error {
	if c.opts.Listen {
		// Not from c.rnd: clusters with the same seed in parallel test
		// processes must not pick the same addresses.
		// 127.101-250.x.y: apart from the in-process addresses
		// (127.1-100.x.y, see addNodeLocked).
		c.ipBase = [2]byte{byte(101 + rand.IntN(150)), byte(rand.IntN(250))}
	}
	c.mu.Lock()
	for dci, dc := range c.opts.Topology {
		for ri, r := range dc.Racks {
			for i := range r.Nodes {
				if _, err := c.addNodeLocked(dc.Name, r.Name, dci, ri, i); err != nil {
					c.mu.Unlock()
					return err
				}
			}
		}
	}
	// Schema: system keyspaces, then the user keyspaces.
	for _, sk := range systemKeyspaces {
		repl := sk.repl
		if repl.Strategy == ring.SimpleStrategy {
			repl.RF = min(repl.RF, len(c.nodes))
		}
		k := &keyspace{name: sk.name, repl: repl, durableWrites: true, tables: map[string]*table{}}
		c.keyspaces[k.name] = k
		for _, tn := range sk.tables {
			n := 0
			if sk.name == "system_schema" || sk.name == "system" {
				n = 1
			}
			if err := c.createTableLocked(k, tn, "key text PRIMARY KEY, value blob", uuid.Nil, Table{Name: tn, SSTables: n}); err != nil {
				c.mu.Unlock()
				return err
			}
		}
	}
	for _, ks := range c.opts.Keyspaces {
		k := &keyspace{name: ks.Name, repl: ks.Replication, durableWrites: true, tables: map[string]*table{}}
		c.keyspaces[k.name] = k
		for _, t := range ks.Tables {
			if err := c.createTableLocked(k, t.Name, "id uuid PRIMARY KEY, v blob", uuid.Nil, t); err != nil {
				c.mu.Unlock()
				return err
			}
		}
	}
	nodes := append([]*Node(nil), c.nodes...)
	c.mu.Unlock()
	for _, n := range nodes {
		if err := c.startNode(n); err != nil {
			return err
		}
	}
	client, err := agentclient.New(c.clientTransport(), agentclient.Options{
		AuthToken:    c.opts.AuthToken,
		Port:         PortAgent,
		RetryWaitMin: time.Millisecond,
		RetryWaitMax: 10 * time.Millisecond,
		RetryMax:     2,
		Logger:       c.opts.Logger,
	})
	if err != nil {
		return fmt.Errorf("scyllatest: client: %w", err)
	}
	c.client = client
	return nil
}

// createTableLocked adds a table to k and creates its directories on
// every node. A nil id draws a deterministic one.
func (c *Cluster) createTableLocked(k *keyspace, name, columns string, id uuid.UUID, spec Table) error {
	if id == uuid.Nil {
		var err error
		id, err = uuid.NewRandomFromReader(randReader{c.rnd})
		if err != nil {
			return fmt.Errorf("scyllatest: table id: %w", err)
		}
	}
	if spec.DataSize == 0 {
		spec.DataSize = 4096
	}
	if spec.IndexSize == 0 {
		spec.IndexSize = 512
	}
	t := &table{ks: k.name, name: name, id: id, columns: columns, spec: spec}
	k.tables[name] = t
	return c.createTableDirsLocked(t)
}

// randReader adapts math/rand to io.Reader for deterministic UUIDs.
type randReader struct{ r *rand.Rand }

func (r randReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r.r.Uint32())
	}
	return len(p), nil
}

// addNodeLocked creates a node (not yet serving).
func (c *Cluster) addNodeLocked(dc, rack string, dci, ri, i int) (*Node, error) {
	idx := len(c.nodes) + 1
	var ip string
	if c.opts.Listen {
		if idx > 250 {
			return nil, fmt.Errorf("scyllatest: Listen mode supports at most 250 nodes")
		}
		ip = fmt.Sprintf("127.%d.%d.%d", c.ipBase[0], c.ipBase[1], idx)
	} else {
		// Loopback addresses 127.<dc>.<rack>.<n> (DCs 1..100): an embedder
		// who forgets the CQL dialer or the transport connects to nothing
		// off the machine. Listen mode uses 127.101-250.x.y.
		if dci >= 100 {
			return nil, fmt.Errorf("scyllatest: in-process clusters support at most 100 DCs, got DC %d (%s)", dci+1, dc)
		}
		ip = fmt.Sprintf("127.%d.%d.%d", dci+1, ri+1, i+1)
		for c.byIP[ip] != nil {
			i += 250
			if ri+1+i/250 > 255 {
				return nil, fmt.Errorf("scyllatest: no free address in DC %s rack %s", dc, rack)
			}
			ip = fmt.Sprintf("127.%d.%d.%d", dci+1, ri+1+i/250, i%250+1)
		}
	}
	hid, err := uuid.NewRandomFromReader(randReader{c.rnd})
	if err != nil {
		return nil, fmt.Errorf("scyllatest: host id: %w", err)
	}
	n := &Node{
		IP: ip, HostID: hid, DC: dc, Rack: rack,
		DataDir: filepath.Join(c.rootDir, ip, "data"),
		Tokens:  ring.RandomTokens(c.rnd, c.opts.TokensPerNode, c.taken),
		c:       c,
		rnd:     rand.New(rand.NewPCG(c.opts.Seed, uint64(idx))),
		writes:  make([]int64, c.opts.Shards),
		up:      true, state: StateNormal,
		autocompaction: map[string]bool{},
		loading:        map[string]bool{},
		repairs:        map[int]*repairJob{},
	}
	if err := os.MkdirAll(n.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("scyllatest: node data dir: %w", err)
	}
	n.rest = n.newRESTHandler()
	n.prom = n.rest
	c.nodes = append(c.nodes, n)
	c.byIP[ip] = n
	c.invalidateRingLocked(true)
	return n, nil
}

// startNode creates n's agent and registers (or serves) its endpoints.
func (c *Cluster) startNode(n *Node) error {
	scyllaAPI := fmt.Sprintf("http://%s:%d", n.IP, PortREST)
	promAPI := fmt.Sprintf("http://%s:%d", n.IP, PortPrometheus)
	var st http.RoundTripper = c.scyllaTransport
	if c.opts.Listen && !c.opts.ListenAgentToScyllaInProcess {
		st = nil // real TCP to the node's listeners
	} else {
		c.scyllaTransport.Register(fmt.Sprintf("%s:%d", n.IP, PortREST), n.rest)
		c.scyllaTransport.Register(fmt.Sprintf("%s:%d", n.IP, PortPrometheus), n.prom)
	}
	a, err := agent.New(agent.Options{
		AuthToken:        c.opts.AuthToken,
		ScyllaAPI:        scyllaAPI,
		ScyllaPrometheus: promAPI,
		ScyllaTransport:  st,
		DataDir:          n.DataDir,
		DiskUsage:        func(string) (int64, int64, int64, error) { return c.diskUsage(n) },
		OpenBucket:       c.opts.OpenBucket,
		AuthPenalty:      c.opts.AuthPenalty,
		Version:          "scyllatest",
		Logger:           c.opts.Logger.With("node", n.IP),
	})
	if err != nil {
		return fmt.Errorf("scyllatest: agent of %s: %w", n.IP, err)
	}
	n.agent = a
	n.agentHandler = c.recordDownloads(n, a)
	if c.opts.Listen {
		return c.listenNode(n)
	}
	c.agents.Register(n.IP, n.agentHandler)
	if c.opts.Alternator {
		c.agents.Register(fmt.Sprintf("%s:%d", n.IP, PortAlternator), n.newAlternatorHandler())
	}
	return nil
}

// Close stops every node, waits for repair jobs and listeners, closes the
// agents and removes the temporary data directory (if Start created it).
// It is idempotent.
func (c *Cluster) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	c.mu.Lock()
	c.closing = true
	nodes := append([]*Node(nil), c.nodes...)
	c.mu.Unlock()
	close(c.stop)
	var errs []error
	for _, n := range nodes {
		if err := c.unlistenNode(n); err != nil {
			errs = append(errs, err)
		}
		if n.agent != nil {
			if err := n.agent.Close(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	c.wg.Wait()
	if c.tmpDir != "" {
		if err := os.RemoveAll(c.tmpDir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Options returns the options the cluster runs with (defaults applied).
func (c *Cluster) Options() Options { return c.opts }

// AuthToken is the agents' bearer token.
func (c *Cluster) AuthToken() string { return c.opts.AuthToken }

// Client returns an agent client for the cluster (the in-process
// transport, or TCP+TLS in Listen mode). It retries at most twice with
// millisecond backoff so that tests with faults stay fast.
func (c *Cluster) Client() *agentclient.Client { return c.client }

// Transport returns the RoundTripper that reaches every node's agent by
// the node's IP (any port but 8000): in-process (with the cluster's faults
// applied), or an HTTPS transport that skips certificate verification in
// Listen mode. With Options.Alternator, "http://<ip>:8000/" reaches the
// node's Alternator endpoint through it too.
func (c *Cluster) Transport() http.RoundTripper { return c.clientTransport() }

// Nodes returns the nodes in creation order.
func (c *Cluster) Nodes() []*Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Node(nil), c.nodes...)
}

// Hosts returns the nodes' IPs in creation order.
func (c *Cluster) Hosts() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.IP
	}
	return out
}

// ContactHost returns the IP of the first node that is up and not
// partitioned ("" if none).
func (c *Cluster) ContactHost() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.nodes {
		if n.up && !c.partitioned[n.IP] {
			return n.IP
		}
	}
	return ""
}

// Node returns the node with the given IP, or nil.
func (c *Cluster) Node(ip string) *Node { return c.nodeByIP(ip) }

func (c *Cluster) nodeByIP(ip string) *Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byIP[ip]
}

// AddNode adds a node to rack of dc (both may be new), with fresh tokens,
// the current schema's table directories and a running agent, as a
// bootstrap would. It returns the new node.
func (c *Cluster) AddNode(dc, rack string) (*Node, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	c.mu.Lock()
	var dci, ri, count int
	dcs, racks := map[string]int{}, map[string]int{}
	for _, n := range c.nodes {
		if _, ok := dcs[n.DC]; !ok {
			dcs[n.DC] = len(dcs)
		}
		if _, ok := racks[n.DC+"/"+n.Rack]; !ok {
			racks[n.DC+"/"+n.Rack] = len(racks)
		}
		if n.DC == dc && n.Rack == rack {
			count++
		}
	}
	if v, ok := dcs[dc]; ok {
		dci = v
	} else {
		dci = len(dcs)
	}
	if v, ok := racks[dc+"/"+rack]; ok {
		ri = v
	} else {
		ri = len(racks)
	}
	n, err := c.addNodeLocked(dc, rack, dci, ri, count)
	if err == nil {
		for _, k := range c.sortedKeyspacesLocked() {
			for _, t := range sortedTables(k) {
				if err = n.createTableDirLocked(t); err != nil {
					break
				}
			}
		}
	}
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return n, c.startNode(n)
}

// SetState sets node's ring state (joining, leaving, moving or normal) as
// reported by storage_service/nodes/*.
func (c *Cluster) SetState(node *Node, s NodeState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	node.state = s
}
