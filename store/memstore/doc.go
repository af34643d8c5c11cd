// Package memstore is an in-memory driver of store.Store.
//
// It is a complete implementation of the store contract, not a mock: it
// validates input with the store.Check functions, copies records in and
// out, enforces unique names, fences run and progress writes, expires
// leases and events, and cascades deletes. It passes the storetest
// conformance suite. Nothing survives the process; use boltstore or
// cqlstore for durable state.
//
// Leases and event TTLs follow the wall clock (time.Now).
//
// # Concurrency
//
// All methods of *Store are safe for concurrent use. One mutex guards the
// whole state, so every method is atomic.
//
// # Errors
//
// Errors match the store sentinels with errors.Is (store.ErrNotFound,
// store.ErrConflict, store.ErrClosed, store.ErrLeaseHeld,
// store.ErrLeaseLost, store.ErrInvalid). A canceled context makes a method
// return ctx.Err() without side effects.
package memstore
