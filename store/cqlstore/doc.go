// Package cqlstore is a driver of store.Store on ScyllaDB or Apache
// Cassandra, through github.com/gocql/gocql and
// github.com/scylladb/gocqlx/v2.
//
// Open connects, creates the keyspace if it does not exist (see
// Options.Replication), and applies the embedded schema migrations
// (schema/*.cql) with gocqlx/migrate; a keyspace whose recorded migrations
// this version does not know, or whose checksums differ, is refused with a
// clear error. The schema uses only CQL that ScyllaDB and Cassandra 2.1
// both accept; the tests run the storetest conformance suite against a
// real Cassandra 2.1 (set Options.ProtoVersion = 3 and
// Options.DisableInitialHostLookup for it; Open refuses with that advice a
// server whose host information the driver cannot read, where gocql
// v1.7.0 would panic).
//
// Several processes may open a fresh keyspace at once: migrations run
// under a lock row taken with a lightweight transaction, because
// concurrent CREATE TABLE statements for one table are unsafe on Cassandra
// and on ScyllaDB without Raft-managed schema ("Column family ID
// mismatch").
//
// When every host is down, the Store closes its session and opens a new
// one on the next call, at most once a second; calls meanwhile fail with
// an error saying the database is unreachable. Errors of an unreachable or
// overloaded database (connection lost, timeouts, not enough replicas)
// match store.ErrUnavailable; the REST API answers them with 503.
//
// # Consistency model
//
// Every write that must not be lost or duplicated is a lightweight
// transaction (Paxos):
//
//   - leases: INSERT ... IF NOT EXISTS, then UPDATE ... IF owner = ? AND
//     fence = ? AND expires = ?; a lease row never expires and is never
//     deleted, so its fencing token only grows;
//   - unique names: the cluster_name and task_name tables are claimed with
//     INSERT ... IF NOT EXISTS before the record is written; a claim whose
//     record is gone or renamed (a crash between the two writes) is taken
//     over;
//   - runs: CreateRun is INSERT ... IF NOT EXISTS; UpdateRun is
//     UPDATE ... IF fence = ?, which also serves as "if exists";
//   - progress rows live in one partition per run whose static column
//     fence mirrors the run's fence, so PutProgress is
//     UPDATE ... IF fence = ? within that partition, and PutProgressBatch
//     one conditional BEGIN BATCH of such UPDATEs, applied or refused
//     whole (a batch larger than 64 rows or 256 KiB is split into chunks,
//     each atomic; see PutProgressBatch). UpdateRun raises that fence
//     before it writes a run with a higher fence.
//
// Cassandra 2.1.0 accepts only equality in IF conditions, so a fenced
// write is an optimistic loop: it assumes the stored fence equals the
// writer's, and when the condition fails the answer carries the stored
// fence: higher means the writer is stale (store.ErrLeaseLost), none means
// no such run (store.ErrNotFound), lower means a new lease holder writes
// for the first time, and the write is retried against the stored value.
//
// Lease expiry is judged with the local clock of the manager that calls
// the store; managers sharing a keyspace need clocks synchronized well
// within a lease TTL.
//
// Progress rows expire after Options.ProgressTTL. Events expire after their
// own TTL (Event.TTL, or Options.EventTTL when that is 0).
//
// Cascading deletes (DeleteCluster, DeleteTask) take several statements;
// a failure half-way leaves rows that a repeated delete removes.
//
// # Concurrency
//
// All methods of *Store are safe for concurrent use, also by several
// processes sharing a keyspace.
//
// # Errors
//
// Errors match the store sentinels with errors.Is (store.ErrNotFound,
// store.ErrConflict, store.ErrClosed, store.ErrLeaseHeld,
// store.ErrLeaseLost, store.ErrInvalid) and carry the prefix "cqlstore:".
// Database errors (timeouts, unavailable replicas) are wrapped with %w. A
// write whose lightweight transaction timed out may or may not have been
// applied; the caller may retry it, and a retried create then reports
// store.ErrConflict if the first attempt had been applied.
package cqlstore
