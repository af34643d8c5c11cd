// Package healthcheck pings every node of a cluster over CQL, the Scylla
// REST API (through the node's agent) and Alternator, reports a status
// and a round-trip time per node, and exports them as Prometheus gauges
// with Scylla Manager's names (scylla_manager_healthcheck_*).
//
// A Service is created with New over a ClusterSource, which tells it, per
// cluster, which nodes exist (with DC and rack), how to reach their agents,
// and which CQL credentials and TLS identity to use.
//
// API (NewAPI) is the health check's Manager-facing call surface, what
// scyllaops.Manager.Healthcheck returns and restapi calls: it is the
// ClusterSource of production code over the Manager's clusters (the
// Clusters interface), its Service is the scheduler's Runner, and
// ClusterStatus is sctool status (one row per node with gossip and ring
// state, the three pings and node_info facts).
//
// Service.Run is the scheduler's Runner for tasks of type "healthcheck"
// with properties {"mode":"cql"|"rest"|"alternator"} (Service also
// implements the scheduler's optional ValidateProperties). Check runs one
// mode without touching the metrics; Status runs the three pings at once
// on chosen hosts of a cluster; PingCluster does the same for a Cluster
// the caller describes (the root package's cluster status, which pings
// only UN nodes).
//
// Metrics: scylla_manager_healthcheck_{cql,rest,alternator}_status (1 OK,
// -1 Scylla unavailable, -2 agent unavailable) and ..._rtt_ms, labeled
// {cluster,dc,rack,host}; the series of nodes that are gone (or where
// Alternator is off) are deleted at the next run, and ForgetCluster
// deletes a cluster's.
//
// The pings, as Scylla Manager does them:
//
//   - CQL without credentials: a raw native-protocol v4 OPTIONS frame over
//     TCP or TLS, expecting SUPPORTED, retried with exponential backoff
//     (1 ms doubling up to Timeout/3) until the deadline.
//   - CQL with credentials: STARTUP, SASL PLAIN authentication, then
//     SELECT now() FROM system.local WHERE key='local', over protocol v3.
//   - REST: GET /storage_service/scylla_release_version through the agent,
//     forced to the host, without retries.
//   - Alternator (only where it is enabled): GET / when the node enforces
//     authorization, else a DynamoDB Scan with Limit 1 of the table
//     .scylla.alternator.system_schema.tables with anonymous credentials.
//
// The CQL and Alternator addresses, ports and whether TLS is used come from
// the agent's node_info, cached per node for Options.NodeInfoTTL.
//
// Every ping has its own deadline (Options.Timeout), so a hung node never
// delays the others. The deadline starts once the node's node_info is
// known: a cache miss fetches it first under its own deadline
// (Options.NodeInfoTimeout), so a slow agent answer is not taken for a
// slow ping. A node whose agent cannot give its node_info in time is
// reported TIMEOUT (or ERROR when the agent fails), with the agent at
// fault (metric -2).
//
// The on-demand calls (Check, Status, PingCluster) ping every node at
// once (Options.Parallel can bound them) and take about one Timeout. A
// scheduled round (Run) is built for fleets: node i of n starts at a
// random moment of the i-th of n equal slots of min(Options.Spread, n ×
// SpreadPerNode), at most Options.Parallel (default DefaultRoundParallel)
// in flight, so that thousands of nodes are not pinged in one burst at
// the top of every minute; and when pings failed, the round logs one
// warning that sums them up (count per status, how many were the agent's,
// the first hosts and the first cause). Together with agentclient's
// transport, which keeps a connection per agent, a round costs no TLS
// handshake once the connections are open.
//
// # Concurrency
//
// All exported methods of Service are safe for concurrent use. Each call
// waits for every goroutine it starts before it returns.
//
// # Errors
//
// A failed ping is not an error: it is a status (DOWN, TIMEOUT,
// UNAUTHORIZED, ERROR, HTTP <code>) with its cause in the NodeStatus.
// Methods return errors only for bad input (matching store.ErrInvalid and
// naming the field), an unknown cluster (whatever the ClusterSource
// returns, wrapped), or a canceled context.
package healthcheck
