// Package storetest is the conformance suite of the store contract. Every
// driver of store.Store runs it from its tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return memstore.New() })
//	}
//
// or, with tuning for drivers whose clock is coarse (a CQL TTL has
// one-second resolution):
//
//	storetest.Harness{New: newStore, ShortTTL: time.Second}.Run(t)
//
// The suite runs named subtests (NotFound, Conflict, ListOrder,
// Validation, EventTTL, EventQuery, LeaseAcquireRenewRelease,
// LeaseExpiryAndSteal, StaleFenceRefused, ProgressBatch, Cascade,
// CopySemantics, ConcurrentWriters, CanceledContext, UseAfterClose,
// Secrets), each on a fresh store from Harness.New, so
// `go test -run 'Conformance/Lease'` selects a part.
//
// Expiry is tested with the real clock: the suite gives a lease or an
// event Harness.ShortTTL and waits for it to disappear, allowing
// Harness.ExpiryGrace of lateness. No test asserts that something happens
// quickly, so a slow machine makes the suite slower, never red.
//
// Times in the records the suite writes are UTC and whole milliseconds, so
// drivers whose timestamps have millisecond precision round-trip them.
//
// # Concurrency
//
// Run and Harness.Run must be called from the test goroutine. The
// ConcurrentWriters subtest calls the store from many goroutines and
// waits for all of them.
//
// # Errors
//
// The suite reports failures through testing.T; it returns nothing.
package storetest
