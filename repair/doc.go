// Package repair runs ScyllaDB repairs as Scylla Manager's repair task
// does, with a pure planner, a controller that never puts a node in two
// jobs at once, resumable progress, live tuning, back-pressure and
// hung-job recovery.
//
// # Plan
//
// MakePlan (no I/O) takes a View of the cluster — nodes with DC, status,
// shards and memory; keyspaces with their ring and tables with sizes —
// and a Target (keyspace and DC globs, host, ignored down
// hosts, small-table threshold). Ranges are filtered to the replicas in
// the repaired DCs without ignored hosts (and to the ranges of host when
// set), the wrap-around range is split at the token bounds, and ranges
// are grouped by replica set per keyspace. A keyspace whose ring has a
// range with fewer than 2 replicas left is skipped. Keyspaces and tables
// are ordered internal first (system_auth, system_replicated_keys, audit,
// system_distributed, system_distributed_everywhere, system_traces), then
// by size ascending, views after base tables (a ClusterResolver that is
// also a ViewLister tells views from tables, from CQL's
// system_schema.views; Scylla's REST API lists both as column families).
// max_parallel and each
// host's max intensity follow Scylla Manager's formulas; each replica
// set's coordinator is its member with the fewest shards, ties to the
// lowest-latency DC.
//
// The View is built on package topology's view of the cluster (ViewOf):
// nodes and, per keyspace, its ring (topology.RingAny, converted by
// KeyspaceOf); only table sizes and each node's memory are read here. A
// ClusterResolver that implements Topologies (the one NewAPI builds over
// the Manager) gives a view discovered now, whose changes the Manager
// records.
//
// # Call surface
//
// NewAPI builds the Service and the API the Manager hands out
// (scyllaops.Manager.Repair): Target (the dry run), SetIntensity and
// SetParallel by cluster ID or name, and RepairTables, which the Manager
// wires as restore's REPAIR stage.
//
// # Execution
//
// Service.Run (the scheduler's Runner for task type "repair") discovers
// the cluster, plans, continues an unfinished earlier run of the task
// (or its own rows after a takeover) and executes: at most parallel jobs
// (0 = max_parallel), no node in two jobs, tables in plan order with
// look-ahead to later tables when the next replica sets are blocked.
// A job carries all ranges left of a replica set (capped at 1000, or
// intensity ranges with Options.NoBatching) with ranges_parallelism =
// intensity; small tables get one small_table_optimization job. Every
// finished job is one progress row, so a resumed run repairs only what
// is left. SetIntensity and SetParallel apply to the next jobs. A view's
// jobs start once its base table has no range left to start or running.
//
// With Options.ShareSlots a node may be in several jobs at once as long
// as their ranges_parallelism fits its max intensity, and jobs carry
// whole waves: the partial waves the one-job-per-node rule leaves idle
// are used. SimulateSchedule runs the controller on a plan in virtual
// time (the repair benchmark's measure of the schedule).
//
// Beyond Scylla Manager: each job has a timeout (Options.JobTimeout, or
// JobTimeoutFactor × its range waves × the longest time per range seen,
// at least MinJobTimeout); a job that times out is aborted on its
// coordinator (storage_service/force_terminate_repair) and retried
// JobRetries times. Back-pressure: a node with more pending compactions
// (compaction_manager/metrics/pending_tasks) than PendingCompactions, or
// whose ping fails, gets no new job; the progress lists it as
// "NODE: WHY" in waiting. A node whose ping fails longer than DownWait
// is down: its ranges left fail and the run ends in error naming it.
//
// A stop (any cancellation of the run's context: stop, window end,
// suspension) lets running jobs finish for GracefulStopTimeout, then
// aborts the repairs left on every plan host and returns the cause.
//
// # Concurrency
//
// A Service is safe for concurrent use; it runs one repair per cluster at
// a time.
package repair
