package scyllatest

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"time"

	"gocloud.dev/blob"

	"github.com/scyllaops/scyllaops/internal/ring"
)

// Defaults of Options.
const (
	DefaultClusterName   = "scyllatest"
	DefaultTokensPerNode = 256
	DefaultShards        = 2
	DefaultScyllaVersion = "2025.1.0-0.20250101.abcdef012345"
	DefaultAuthToken     = "scyllatest-token"
	DefaultSeed          = 1
	// DefaultDiskSize is the size of a node's simulated data disk.
	DefaultDiskSize int64 = 1 << 40
	// DefaultMemory is a node's total memory.
	DefaultMemory int64 = 4 << 30
)

// Options describe a simulated cluster. The zero value is a single DC
// "dc1" with one rack "rack1" of 3 nodes, one user keyspace "ks"
// (SimpleStrategy RF 3) holding table "t" with 2 sstables per node.
type Options struct {
	// Topology lists the DCs, their racks and node counts.
	// Default: dc1/rack1 with 3 nodes.
	Topology []DC
	// TokensPerNode is the number of vnode tokens per node. Default: 256.
	TokensPerNode int
	// Shards is the number of shards per node (series of
	// scylla_database_total_writes in /metrics). Default: 2.
	Shards int
	// ClusterName is returned by storage_service/cluster_name. Default:
	// "scyllatest".
	ClusterName string
	// ScyllaVersion is returned by scylla_release_version. Default:
	// DefaultScyllaVersion.
	ScyllaVersion string
	// Keyspaces are the user keyspaces created at start. nil means the
	// default keyspace described above; an empty non-nil slice means none.
	// System keyspaces (system, system_schema, system_distributed,
	// system_traces) always exist.
	Keyspaces []Keyspace
	// UUIDSSTableIdentifiers makes sstables use UUID generation names
	// (me-3gdq_0bki_2cvk01yeujwqnzcpnb-big-Data.db) instead of integers
	// (me-5-big-Data.db). Default: false (integers).
	UUIDSSTableIdentifiers bool
	// Seed makes tokens, host IDs, table IDs and file contents
	// deterministic. Default: 1.
	Seed uint64
	// AuthToken is the agents' bearer token. Default: DefaultAuthToken.
	AuthToken string
	// CQLUser and CQLPassword enable PasswordAuthenticator on the CQL
	// endpoints when CQLUser is set. Default: AllowAllAuthenticator.
	CQLUser, CQLPassword string
	// Alternator enables the Alternator endpoint of every node.
	Alternator bool
	// AlternatorEnforceAuthorization is reported by the config API.
	AlternatorEnforceAuthorization bool
	// DataDir is the root under which every node gets its own Scylla data
	// directory. Default: a new temporary directory removed by Close.
	DataDir string
	// DiskSize is the size of every node's simulated data disk: its agent
	// reports it for data: (operations/about, node_info storage_size),
	// with the node's data directory as the used part, so backups see
	// the node's disk and not the test machine's (SetDiskFree changes the
	// free part). Default: DefaultDiskSize (1 TiB).
	DiskSize int64
	// OpenBucket is passed to every node's agent (agent.Options.OpenBucket).
	OpenBucket func(ctx context.Context, provider, bucket string) (*blob.Bucket, error)
	// Listen serves every node's Scylla REST API (10000), agent over HTTPS
	// (10001), CQL (9042), Alternator (8000) and Prometheus (9180) on its
	// own 127.x.y.z address. Default: false (in-process only, no sockets).
	Listen bool
	// ListenAgentToScyllaInProcess makes, in Listen mode, every agent reach
	// its node's Scylla REST API and Prometheus in-process (as without
	// Listen) rather than over TCP to the node's listeners: the clients of
	// the agents and of CQL still use sockets, but a node holds about half
	// as many, so one process simulates thousands of nodes under its
	// open-files limit (the fleet benchmark). Default: false.
	ListenAgentToScyllaInProcess bool
	// Memory is every node's total memory in bytes
	// (scylla_memory_total_memory, spread over the shards). Default:
	// DefaultMemory (4 GiB).
	Memory int64
	// RepairRangeDelay is how long a repair job spends per token range.
	// Default: 0.
	RepairRangeDelay time.Duration
	// RepairBytesPerSec, when > 0, adds to RepairRangeDelay the time to
	// repair a range's share of the job's tables on the coordinator
	// (their bytes on disk / the ring's ranges / RepairBytesPerSec).
	// Default: 0 (the cost per range is RepairRangeDelay alone).
	RepairBytesPerSec int64
	// AuthPenalty is the agents' delay before a 401. Default: 0 (none);
	// the real agent's default is 1s.
	AuthPenalty time.Duration
	// Logger receives the simulator's and the agents' logs. nil = discard.
	Logger *slog.Logger
}

// DC is one datacenter of the simulated cluster.
type DC struct {
	// Name of the DC, e.g. "dc1".
	Name string
	// Racks of the DC; each needs at least one node.
	Racks []Rack
}

// Rack is one rack and its node count.
type Rack struct {
	// Name of the rack, e.g. "rack1".
	Name string
	// Nodes is the number of nodes in the rack (≥ 1).
	Nodes int
}

// Replication is a keyspace's replication: Strategy SimpleStrategy with
// RF, or NetworkTopologyStrategy with DCRF (DC name → RF). It is an alias
// so that code outside this module can build one without importing the
// module's internal packages.
type Replication = ring.Replication

// Replication strategy names.
const (
	SimpleStrategy          = ring.SimpleStrategy
	NetworkTopologyStrategy = ring.NetworkTopologyStrategy
)

// Simple returns SimpleStrategy replication with factor rf.
func Simple(rf int) Replication { return Replication{Strategy: SimpleStrategy, RF: rf} }

// NTS returns NetworkTopologyStrategy replication with the given per-DC
// factors.
func NTS(dcrf map[string]int) Replication {
	return Replication{Strategy: NetworkTopologyStrategy, DCRF: dcrf}
}

// Keyspace is a user keyspace created at start.
type Keyspace struct {
	// Name of the keyspace.
	Name string
	// Replication of the keyspace, e.g. Simple(3) or
	// NTS(map[string]int{"dc1": 3}).
	Replication Replication
	// Tables of the keyspace.
	Tables []Table
}

// Table is a table and the sstables every node holds for it at start.
type Table struct {
	// Name of the table.
	Name string
	// SSTables is the number of sstables per node. Default: 0.
	SSTables int
	// DataSize is the size in bytes of each sstable's Data.db.
	// Default: 4096.
	DataSize int64
	// IndexSize is the size in bytes of each Index.db (the other
	// components are small fixed sizes). Default: 512.
	IndexSize int64
	// BaseTable, when set, makes this a materialized view of that table
	// of the same keyspace: listed with the tables by column_family/name
	// (as Scylla lists views) and in CQL's system_schema.views. Default:
	// "" (a base table).
	BaseTable string
}

// Topology3 returns a topology of one DC with one rack of n nodes.
func Topology3(n int) []DC { return []DC{{Name: "dc1", Racks: []Rack{{Name: "rack1", Nodes: n}}}} }

var nameRe = regexp.MustCompile(`^[A-Za-z0-9_]{1,48}$`)

// Validate reports the first invalid option, naming the field and the
// accepted form.
func (o Options) Validate() error {
	o = o.withDefaults()
	if o.TokensPerNode < 1 || o.TokensPerNode > 4096 {
		return fmt.Errorf("scyllatest: invalid Options.TokensPerNode %d: want 1..4096", o.TokensPerNode)
	}
	if o.Shards < 1 || o.Shards > 256 {
		return fmt.Errorf("scyllatest: invalid Options.Shards %d: want 1..256", o.Shards)
	}
	total := 0
	dcs := map[string]bool{}
	for i, dc := range o.Topology {
		if dc.Name == "" || dcs[dc.Name] {
			return fmt.Errorf("scyllatest: invalid Options.Topology[%d].Name %q: want a unique non-empty name", i, dc.Name)
		}
		dcs[dc.Name] = true
		if len(dc.Racks) == 0 {
			return fmt.Errorf("scyllatest: invalid Options.Topology[%d].Racks: want at least one rack", i)
		}
		racks := map[string]bool{}
		for j, r := range dc.Racks {
			if r.Name == "" || racks[r.Name] {
				return fmt.Errorf("scyllatest: invalid Options.Topology[%d].Racks[%d].Name %q: want a unique non-empty name", i, j, r.Name)
			}
			racks[r.Name] = true
			if r.Nodes < 1 {
				return fmt.Errorf("scyllatest: invalid Options.Topology[%d].Racks[%d].Nodes %d: want >= 1", i, j, r.Nodes)
			}
			total += r.Nodes
		}
	}
	if total > 250*250 {
		return fmt.Errorf("scyllatest: invalid Options.Topology: %d nodes, want at most %d", total, 250*250)
	}
	kss := map[string]bool{}
	for i, ks := range o.Keyspaces {
		if !nameRe.MatchString(ks.Name) || kss[ks.Name] || isSystemKeyspace(ks.Name) {
			return fmt.Errorf("scyllatest: invalid Options.Keyspaces[%d].Name %q: want a unique identifier matching %s, not a system keyspace", i, ks.Name, nameRe)
		}
		kss[ks.Name] = true
		if err := validateReplication(ks.Replication, dcs); err != nil {
			return fmt.Errorf("scyllatest: invalid Options.Keyspaces[%d].Replication: %w", i, err)
		}
		tbs := map[string]bool{}
		for j, t := range ks.Tables {
			if !nameRe.MatchString(t.Name) || tbs[t.Name] {
				return fmt.Errorf("scyllatest: invalid Options.Keyspaces[%d].Tables[%d].Name %q: want a unique identifier matching %s", i, j, t.Name, nameRe)
			}
			tbs[t.Name] = true
			if t.SSTables < 0 || t.DataSize < 0 || t.IndexSize < 0 {
				return fmt.Errorf("scyllatest: invalid Options.Keyspaces[%d].Tables[%d]: SSTables, DataSize and IndexSize want >= 0", i, j)
			}
		}
		for j, t := range ks.Tables {
			if t.BaseTable == "" {
				continue
			}
			if b := slices.IndexFunc(ks.Tables, func(x Table) bool { return x.Name == t.BaseTable }); b < 0 || ks.Tables[b].BaseTable != "" {
				return fmt.Errorf("scyllatest: invalid Options.Keyspaces[%d].Tables[%d].BaseTable %q: want the name of a table (not a view) of keyspace %s", i, j, t.BaseTable, ks.Name)
			}
		}
	}
	if o.Memory < 0 {
		return fmt.Errorf("scyllatest: invalid Options.Memory %d: want >= 0 bytes", o.Memory)
	}
	if o.RepairBytesPerSec < 0 {
		return fmt.Errorf("scyllatest: invalid Options.RepairBytesPerSec %d: want >= 0", o.RepairBytesPerSec)
	}
	if o.RepairRangeDelay < 0 {
		return fmt.Errorf("scyllatest: invalid Options.RepairRangeDelay %s: want >= 0", o.RepairRangeDelay)
	}
	return nil
}

func validateReplication(r ring.Replication, dcs map[string]bool) error {
	switch r.Strategy {
	case ring.SimpleStrategy:
		if r.RF < 1 {
			return fmt.Errorf("SimpleStrategy RF %d: want >= 1", r.RF)
		}
	case ring.NetworkTopologyStrategy:
		if len(r.DCRF) == 0 {
			return fmt.Errorf("NetworkTopologyStrategy: want DCRF with at least one DC")
		}
		for dc, rf := range r.DCRF {
			if rf < 0 {
				return fmt.Errorf("NetworkTopologyStrategy RF %d for %q: want >= 0", rf, dc)
			}
			if dcs != nil && !dcs[dc] {
				return fmt.Errorf("NetworkTopologyStrategy: unknown DC %q", dc)
			}
		}
	default:
		return fmt.Errorf("strategy %q: want %s or %s", r.Strategy, ring.SimpleStrategy, ring.NetworkTopologyStrategy)
	}
	return nil
}

func (o Options) withDefaults() Options {
	if len(o.Topology) == 0 {
		o.Topology = Topology3(3)
	}
	if o.TokensPerNode == 0 {
		o.TokensPerNode = DefaultTokensPerNode
	}
	if o.Shards == 0 {
		o.Shards = DefaultShards
	}
	if o.ClusterName == "" {
		o.ClusterName = DefaultClusterName
	}
	if o.ScyllaVersion == "" {
		o.ScyllaVersion = DefaultScyllaVersion
	}
	if o.Keyspaces == nil {
		o.Keyspaces = []Keyspace{{
			Name:        "ks",
			Replication: ring.Replication{Strategy: ring.SimpleStrategy, RF: 3},
			Tables:      []Table{{Name: "t", SSTables: 2}},
		}}
	}
	if o.Seed == 0 {
		o.Seed = DefaultSeed
	}
	if o.AuthToken == "" {
		o.AuthToken = DefaultAuthToken
	}
	if o.DiskSize == 0 {
		o.DiskSize = DefaultDiskSize
	}
	if o.Memory == 0 {
		o.Memory = DefaultMemory
	}
	if o.AuthPenalty == 0 {
		o.AuthPenalty = -1
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
