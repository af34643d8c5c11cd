// Package scyllatest is a simulated ScyllaDB cluster for tests — ours and
// embedders'. No ScyllaDB binary is needed: every node is a Scylla REST
// API (paths and JSON shapes of Scylla's swagger specs), a data directory
// on disk in Scylla's layout (<ks>/<table>-<32hex>/ with sstable component
// files), a CQL endpoint (native protocol v3/v4) and optionally an
// Alternator endpoint — and every node sits behind the real agent handler
// (package agent), so tests exercise the agent too.
//
// # Usage
//
//	c := scyllatest.New(t, scyllatest.Options{
//		Topology: []scyllatest.DC{{Name: "dc1", Racks: []scyllatest.Rack{{Name: "rack1", Nodes: 3}}}},
//	})
//	client := c.Client()                  // *agentclient.Client over c.Transport()
//	ids, err := client.HostIDMap(ctx, c.ContactHost())
//
// What is simulated: host IDs, gossip (live/down), node states
// (joining/leaving), snitch DC/rack, a vnode token ring with describe_ring
// honoring SimpleStrategy and NetworkTopologyStrategy (rack-aware), system
// and user keyspaces, sstables with integer or UUID generations and a
// Digest.crc32 matching Data.db, snapshots as hard links with Scylla's
// manifest.json and schema.cql, repair_async jobs that take
// Options.RepairRangeDelay per range, load&stream of a table's upload/
// directory (a node finishes a load whose caller went away, as Scylla
// does), /v2/config keys, Prometheus metrics, CQL OPTIONS/STARTUP/
// AUTH (PasswordAuthenticator), SELECT now() FROM system.local, system.local
// and system.peers rows, DESCRIBE SCHEMA WITH INTERNALS and
// CREATE/DROP KEYSPACE/TABLE.
//
// Faults: Stop/Start a node, Partition/Heal, SetLatency, FailNext (the next
// matching Scylla REST call fails), SlowDisk. Mutations: WriteData,
// Compact, AddNode, SetState, and CQL DDL. Inspection: Snapshots,
// RepairedRanges, Loads, LoadedSSTables, LoadsInProgress, Downloads (the
// copies into data directories the agents accepted), Schema, TableDir,
// AutoCompaction, and Topology (the
// simulator's ground truth as a *topology.Cluster).
//
// Keyspace replication is given with Simple(rf) or NTS(map[string]int{...})
// (Replication is an alias of the module's internal ring type, usable from
// any module).
//
// By default nothing listens on a socket: Transport routes requests by
// host to the in-process agents (agentclient.InProcessTransport) and
// DialCQL/CQLDialer connect through net.Pipe. With Options.Listen every
// node gets its own 127.x.y.z address with Scylla's standard ports: REST
// 10000, agent 10001 (HTTPS, self-signed), CQL 9042, Alternator 8000,
// Prometheus 9180.
//
// Only tests and examples should import this package.
//
// # Concurrency
//
// All exported methods of Cluster are safe for concurrent use. Node's
// exported fields are immutable.
//
// # Errors
//
// Start and Options.Validate return errors prefixed "scyllatest: " naming
// the invalid field; methods of a closed Cluster return ErrClosed where
// they would start new work. The simulated REST API answers errors with
// Scylla's JSON body {"message": ..., "code": ...}.
package scyllatest
