// Package storemetrics wraps a store.Store so that every call is counted
// and timed in Prometheus metrics, without changing what the store does.
//
// Wrap returns a *Store (a store.Store) whose methods call the wrapped store's and
// return its values and errors unchanged (errors.Is on them keeps
// working), and records:
//
//	scyllaops_store_requests_total{op, result}         counter
//	scyllaops_store_request_duration_seconds{op}       histogram
//
// op is the method name in snake_case (get_cluster, put_progress_batch,
// acquire_lease, close…). result classifies the returned error with
// errors.Is, first match wins:
//
//	ok           nil
//	not_found    store.ErrNotFound
//	conflict     store.ErrConflict
//	lease_lost   store.ErrLeaseLost (a stale fencing token)
//	lease_held   store.ErrLeaseHeld (another owner holds the lease: routine
//	             when several Managers share a database)
//	invalid      store.ErrInvalid
//	closed       store.ErrClosed
//	canceled     context.Canceled or context.DeadlineExceeded
//	unavailable  store.ErrUnavailable
//	error        anything else
//
// canceled is tested before unavailable because cqlstore marks a call cut
// short by its context's deadline as unavailable too (the context error
// is a net.Error): a caller giving up is not a database outage. The
// driver's own timeouts (gocql's) carry no context error and count as
// unavailable.
//
// The duration histogram has buckets from 0.1 ms (memstore, boltstore
// reads) to 10 s (cqlstore's lightweight transactions under load take
// milliseconds to seconds). Every (op, result) series and every op's
// histogram exist from Wrap on, at zero, so rate() and alerts work
// before the first failure.
//
// # Registration
//
// Wrap registers both collectors on the Registerer it is given (nil:
// create them, register nothing). A Registerer that already holds them,
// for example a second Wrap on the same registry, makes Wrap return an
// error wrapping prometheus.AlreadyRegisteredError and register nothing;
// it never panics. To wrap several stores on one registry, give each a
// prometheus.WrapRegistererWith(prometheus.Labels{...}, reg).
//
// Close is forwarded to the wrapped store (and counted as op "close"); it
// does not unregister the collectors, so the last values (and the
// closed results of calls after Close) stay readable; a registry that
// outlives the store keeps them.
//
// # Concurrency
//
// The wrapper adds no locking: it is as safe for concurrent use as the
// store it wraps (every driver of this module is).
package storemetrics
