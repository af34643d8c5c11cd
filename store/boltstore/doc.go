// Package boltstore is the embedded driver of store.Store: one file on
// local disk, kept with go.etcd.io/bbolt. It is what a single manager
// uses when no database is configured.
//
// Every write is one bbolt read-write transaction, committed (and fsynced)
// before the method returns: a write is either wholly on disk or not at
// all, even if the process is killed. Records are JSON values in one
// bucket per kind, with keys laid out for the orderings of the contract:
//
//	clusters      cluster ID                         -> Cluster
//	cluster_names name                               -> cluster ID (ListClusters scans it)
//	secrets       cluster ID | key                   -> 0x01 | value
//	tasks         cluster ID | task ID               -> Task
//	task_ids      task ID                            -> cluster ID
//	runs          task ID | UUID time | run ID       -> Run (ListRuns: reverse scan)
//	unfinished    UUID time | run ID | task ID       -> 0x01 (runs whose status is not final)
//	progress      run ID | key                       -> Progress
//	events        cluster ID | UUID time | event ID  -> Event
//	event_expiry  expiry time | events key           -> 0x01 (events with a TTL)
//	leases        name                               -> owner, fence, expiry
//
// UUID time is the 60-bit timestamp of a version-1 UUID, big-endian, so
// byte order is time order. Progress rows are addressed by run ID alone,
// as ListProgress is; run IDs are time-based UUIDs and never repeat across
// tasks in practice.
//
// Expired events are never returned; they are deleted lazily, a bounded
// batch at a time, by AppendEvent. A lease keeps its record after release
// or expiry so that its fence only grows. Leases and event TTLs follow
// this machine's wall clock.
//
// bbolt locks the file: a second Open of the same path, in this process or
// another, waits up to Options.Timeout and then fails.
//
// # Concurrency
//
// All methods of *Store are safe for concurrent use. bbolt serializes
// writes (one writer at a time) and runs reads concurrently with them.
//
// # Errors
//
// Errors match the store sentinels with errors.Is (store.ErrNotFound,
// store.ErrConflict, store.ErrClosed, store.ErrLeaseHeld,
// store.ErrLeaseLost, store.ErrInvalid) and carry the prefix
// "boltstore:". A canceled context makes a method return ctx.Err() without
// side effects. I/O and corruption errors from bbolt are wrapped as they
// are.
package boltstore
