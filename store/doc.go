// Package store defines what a scyllaops Manager persists: clusters,
// secrets, tasks, runs, per-run progress rows, events and leases. It holds
// the interfaces, the record types and the sentinel errors; drivers live in
// sub-packages (memstore, boltstore, cqlstore) and all pass the conformance
// suite in storetest.
//
// # Contract
//
// The method doc comments are the contract. Every method takes a context
// first; a canceled context makes a method return the context's error
// without side effects. Records are copied in and out: a caller may
// modify what it passed or got back without affecting the store.
//
// Arguments are validated (see the Check functions) before anything is
// written; a bad argument gives an *InvalidError, which names the field
// and the accepted form and matches ErrInvalid.
//
// Lists never fail with ErrNotFound: an unknown parent (cluster, task,
// run) gives an empty, non-nil slice, as does an empty store. A Get with
// uuid.Nil returns ErrNotFound. Where records are ordered by a UUID
// (ListTasks by ClusterID, then by ID), the order is the byte order, which
// is also the order of the UUIDs' string forms. Task IDs are unique across
// all clusters.
//
// # Fencing
//
// Runs and progress rows carry the fencing token (Lease.Fence) of the
// lease their writer holds. A write with a token lower than the stored one
// is refused with ErrLeaseLost, so a manager that lost its lease (paused,
// partitioned, presumed dead) can never overwrite the work of the manager
// that took over.
//
// # Concurrency
//
// All methods of every driver are safe for concurrent use.
//
// # Errors
//
// Drivers return errors that match the sentinels with errors.Is:
// ErrNotFound, ErrConflict, ErrClosed, ErrLeaseHeld, ErrLeaseLost and
// ErrInvalid.
package store
