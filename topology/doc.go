// Package topology is the cluster model of scyllaops — datacenters, racks
// and nodes with their host IDs, status, ring state, tokens and shard
// counts — and its discovery from one contact host through the agent API
// (package agentclient), as Scylla Manager's cluster and status views do.
//
// It is the one place that asks a cluster what it looks like: no other
// package of the module (tests, agentclient, the agent and scyllatest
// aside) calls the agent's node-listing, placement, token or
// describe_ring endpoints (the root's TestDiscoveryOnlyInTopology fails
// otherwise). Services take their view from here: the Manager's Tracker
// (last view and known hosts per cluster), DiscoverAny / ListNodesAny /
// RingAny hedged over a cluster's hosts, Hosts (the host-ID map's
// addresses) and NodeTokens (a node's tokens, for backup manifests).
//
// Discover asks the contact host for the host-ID map, the gossip view
// (live nodes), the joining/leaving/moving lists, the cluster name and,
// per node, its DC, rack and tokens; then it asks every live node for its
// shard count (series of scylla_database_total_writes). Diff compares two
// discoveries: nodes added, removed, moved (DC/rack or tokens), readdressed,
// down, up and ring-state changes.
//
// # Concurrency
//
// Discover is safe for concurrent use; it runs at most
// DiscoverParallelism per-node calls at once and returns after all of
// them. A *Cluster is a value: do not modify one that other goroutines
// read.
//
// # Errors
//
// Discover fails (error prefixed "topology: ", wrapping the
// *agentclient.HostError, so errors.Is(err, agentclient.ErrUnreachable)
// works) if the contact host cannot answer the cluster-wide calls. A node
// whose agent cannot be reached for metrics is not an error: its Shards
// is 0 and its ShardsErr says why.
package topology
