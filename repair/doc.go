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
// Small tables get one small_table_optimization job. SetIntensity and
// SetParallel apply to the next jobs. A view's jobs start once its base
// table has no range left to start or running.
//
// # Jobs fill their slots across tables
//
// A job holds one replica set — its nodes are in no other job — from its
// start until its last call ends, and has intensity slots (ranges at once
// on each of its nodes). Scylla Manager's job is one repair_async call on
// one table: all ranges left of the replica set (capped at 1000) with
// ranges_parallelism = intensity. When a replica set has few ranges per
// table (256 vnodes, RF 3 on 12 nodes: ~14, so 2 waves of 8), the last
// wave is partial and the slots it leaves idle cannot be used by anyone
// else under the rule: ~1.27× the lower bound on the benchmark's ring.
// Here a job is the same hold, but it may run several calls at once on
// its coordinator, one per table of the keyspace, each on its own ranges
// of the replica set: the first table's ranges left go in the fewest
// waves on the fewest slots that hold them (14 ranges, 8 slots: 2 waves
// on 7), and the slots left, for the same waves, go to the next tables in
// plan order (1 slot, 2 ranges of the next table), so the call lengths
// match and the ranges_parallelism of the calls sum to at most intensity.
// The rule holds literally (a node is in one job at a time); what changes
// is that a job's slots are busy through its last wave. Calls are not
// started inside a running job (the job's length is fixed when it starts,
// so the controller picks again, by the critical path, as often as
// before), and tables are never mixed across keyspaces (a call names one
// keyspace). Filling respects plan order: internal keyspaces and small
// tables first, a table repaired by a small-table job is not filled, a
// view is filled only once its base table has nothing left or running.
// Options.NoBatching gives Scylla Manager's unbatched jobs (one call of
// at most intensity ranges, no filling): the benchmark's baseline.
//
// Every finished call is one progress row (its table and ranges), so a
// resumed run repairs only what is left; the metrics count jobs per host
// (inflight_jobs) and the ranges of their calls (inflight_token_ranges).
//
// With Options.ShareSlots a node may instead be in several jobs at once
// as long as their ranges_parallelism fits its max intensity, and jobs
// carry whole waves (one call each). It departs from the rule; it stays
// for comparison (the benchmark prints both) and for clusters whose
// operators accept it. SimulateSchedule runs the controller on a plan in
// virtual time (the repair benchmark's measure of the schedule).
//
// Beyond Scylla Manager: each call has a timeout (Options.JobTimeout, or
// JobTimeoutFactor × its range waves × the longest time per range seen,
// at least MinJobTimeout); a call that times out is aborted on its
// coordinator (storage_service/force_terminate_repair, which ends every
// repair there: the other calls of its job, ending FAILED by it, are
// requeued without counting as attempts) and retried JobRetries times.
// Back-pressure: a node with more pending compactions
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
