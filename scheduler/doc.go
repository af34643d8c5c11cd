// Package scheduler decides when tasks run and runs them.
//
// It has two layers. The planner is pure (no goroutines, no I/O):
// ParseSchedule turns a store.Schedule into a Plan that gives the next
// activation of a cron spec or interval in a time zone, maintenance window
// membership, and the retry backoff; Decide turns a task, its plan, its
// last run and the current time into the next thing to do. The run loop
// (Scheduler) is the thin shell around it: it keeps the tasks of a store,
// starts runs through a Runner registered per task type, persists run
// states (NEW, RUNNING, STOPPING, STOPPED, WAITING, DONE, ERROR, ABORTED)
// and events, and holds a lease with a fencing token for every run.
//
// Suspensions (Suspend, Resume) are the scheduler's, and so is the timed
// suspension task (SuspendTaskType, sctool suspend --duration): its Runner
// (SuspendTaskRunner) suspends the cluster, waits, and resumes it.
//
// # Several managers on one store
//
// Schedulers of several managers may share a store. Each activation runs
// exactly once: the run ID of a scheduled activation is derived from the
// task ID and the activation time (DeriveRunID), so racing managers create
// the same run and store.CreateRun refuses all but one; a run executes
// under leases (see lockNames) whose fencing token goes into the Runner's
// context (store.WithFence). A lease is renewed while the run lasts; if
// renewal fails the run's context is canceled with store.ErrLeaseLost.
// Another manager takes over a run whose lease expired: it marks the run
// ABORTED and resumes it with "continue": true, with a larger fencing
// token, so late writes of the old holder are refused by the store.
//
// # Exclusion and limits
//
// A run holds the lease "cluster/<id>/type/<type>": one run per task type
// per cluster, across managers (types in Options.ParallelTypes, health
// checks by default, hold "task/<id>" instead: one run per task). A
// restore also holds the leases of backup, repair and tablet_repair, so
// none of them overlaps it. Options.MaxRuns and MaxRunsPerCluster cap the
// runs of one scheduler; due work over a cap or behind a held lease waits,
// oldest first, and is never dropped.
//
// # Stops
//
// A run's context is canceled with a cause: ErrStopped (user stop, run
// STOPPED), ErrSuspended (cluster suspended, STOPPED), ErrOutOfWindow
// (window end, run WAITING, continued at the next window start),
// ErrClosed (scheduler shut down, ABORTED and resumed later) or
// store.ErrLeaseLost (another manager took over; nothing written).
// Runners read it with context.Cause.
//
// # Concurrency
//
// All exported methods are safe for concurrent use. Scheduler.Run owns
// every goroutine the scheduler starts and returns only after all of them
// exited. Plan and Window are immutable.
//
// # Errors
//
// Bad schedules give a *store.InvalidError (errors.Is store.ErrInvalid)
// naming the field and the accepted form. Methods called on a scheduler
// that is not running or has stopped return ErrClosed; store errors are
// wrapped with the "scheduler:" prefix.
package scheduler
