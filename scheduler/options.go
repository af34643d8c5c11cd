package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/scyllaops/scyllaops/store"
)

// Stop causes. A run's context is canceled with one of them (see
// context.Cause); the run's final status follows from it.
var (
	// ErrStopped: a user stopped the run. Status STOPPED.
	ErrStopped = errors.New("task was stopped")
	// ErrSuspended: the cluster was suspended. Status STOPPED.
	ErrSuspended = errors.New("cluster was suspended")
	// ErrOutOfWindow: the maintenance window ended. Status WAITING; the
	// run continues at the next window start.
	ErrOutOfWindow = errors.New("task got out of --window")
	// ErrClosed: the scheduler is shutting down, or not running. Status
	// ABORTED; the run is resumed later by this or another manager.
	ErrClosed = errors.New("scheduler and all tasks were stopped")
)

// Task types the scheduler knows by name.
const (
	// TypeHealthcheck runs regardless of suspension and may run several
	// tasks at once per cluster.
	TypeHealthcheck = "healthcheck"
	TypeBackup      = "backup"
	TypeRepair      = "repair"
	TypeRestore     = "restore"
)

// Runner executes one run of a task type. ctx carries the stop cause
// (context.Cause) and the fencing token (store.FenceFrom) that the runner
// must copy into the records it writes. properties are the task's, with
// a "continue" key set by the scheduler when it resumes a run (true) or a
// user starts from scratch (false). A nil return means success; wrap an
// error with Permanent to prevent retries.
type Runner interface {
	Run(ctx context.Context, clusterID, taskID, runID uuid.UUID, properties json.RawMessage) error
}

// RunnerFunc adapts a function to Runner.
type RunnerFunc func(ctx context.Context, clusterID, taskID, runID uuid.UUID, properties json.RawMessage) error

// Run calls f.
func (f RunnerFunc) Run(ctx context.Context, clusterID, taskID, runID uuid.UUID, properties json.RawMessage) error {
	return f(ctx, clusterID, taskID, runID, properties)
}

// ProgressReader is an optional interface of a Runner: the progress of a
// run as JSON (the "progress" of the run-progress API).
type ProgressReader interface {
	Progress(ctx context.Context, clusterID, taskID, runID uuid.UUID) (json.RawMessage, error)
}

// PropertiesValidator is an optional interface of a Runner: it checks
// task properties at task creation (unknown fields, bad values) and
// returns an *store.InvalidError naming the field.
type PropertiesValidator interface {
	ValidateProperties(properties json.RawMessage) error
}

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying: the run ends in ERROR and no
// retry is scheduled.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// RunEnd describes a run that ended (DONE, STOPPED, WAITING, ERROR or
// ABORTED); it is what Options.OnRunEnd receives.
type RunEnd struct {
	Run store.Run
	// TaskName is the task's name (may be empty).
	TaskName string
	// Final is false when a retry of the run is scheduled or the run will
	// continue (WAITING, ABORTED).
	Final bool
}

// Options tunes a Scheduler. The zero value is valid.
type Options struct {
	// OwnerID names this manager in leases and runs. It must be unique
	// among the live managers of a store. A manager that restarts with
	// the same OwnerID takes its unfinished runs back at once; with
	// another ID it waits for their leases to expire.
	// Default: "<hostname>:<pid>".
	OwnerID string
	// LeaseTTL is how long a run's lease lives without renewal; it is
	// renewed every LeaseTTL/3. A dead manager's runs are taken over
	// after about LeaseTTL + SyncInterval. Default: 30s.
	LeaseTTL time.Duration
	// SyncInterval is how often tasks, runs and suspensions are reloaded
	// from the store (changes made by other managers). Default: 10s.
	SyncInterval time.Duration
	// MaxRuns caps concurrent runs of this scheduler; more wait in a
	// queue (by due time), they are never dropped. Default: 0 = no cap.
	MaxRuns int
	// MaxRunsPerCluster caps concurrent runs per cluster, likewise.
	// Default: 0 = no cap.
	MaxRunsPerCluster int
	// ParallelTypes are task types of which several tasks may run at
	// once on a cluster (one run per task). Every other type runs one
	// task at a time per cluster. Default: ["healthcheck"].
	ParallelTypes []string
	// ReuseRunTypes are task types whose runs overwrite one run record
	// per task (FixedRunID), so frequent tasks do not grow the store; a
	// failed run is also copied under a fresh ID for the history.
	// Default: ["healthcheck"].
	ReuseRunTypes []string
	// EventTTL is the lifetime of the events the scheduler appends.
	// Default: 720h (30 days).
	EventTTL time.Duration
	// OnRunEnd, if set, is called after a run's final write. It runs on
	// a scheduler goroutine and must not block (enqueue and return).
	OnRunEnd func(RunEnd)
	// Logger receives the scheduler's logs. Default: discard.
	Logger *slog.Logger
	// Registerer registers the scheduler_* metrics. Default: nil = not
	// registered.
	Registerer prometheus.Registerer
}

// Validate reports bad options.
func (o Options) Validate() error {
	switch {
	case o.LeaseTTL < 0:
		return store.Invalid("scheduler.lease_ttl", `a duration >= 0 like "30s" (0 = default)`, o.LeaseTTL.String())
	case o.LeaseTTL > 0 && o.LeaseTTL < 3*time.Millisecond:
		return store.Invalid("scheduler.lease_ttl", `a duration >= 3ms like "30s"`, o.LeaseTTL.String())
	case o.SyncInterval < 0:
		return store.Invalid("scheduler.sync_interval", `a duration >= 0 like "10s" (0 = default)`, o.SyncInterval.String())
	case o.MaxRuns < 0:
		return store.Invalid("scheduler.max_runs", "a number >= 0 (0 = no cap)", fmt.Sprint(o.MaxRuns))
	case o.MaxRunsPerCluster < 0:
		return store.Invalid("scheduler.max_runs_per_cluster", "a number >= 0 (0 = no cap)", fmt.Sprint(o.MaxRunsPerCluster))
	case o.EventTTL < 0:
		return store.Invalid("scheduler.event_ttl", `a duration >= 0 like "720h" (0 = default)`, o.EventTTL.String())
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.OwnerID == "" {
		h, _ := os.Hostname()
		o.OwnerID = fmt.Sprintf("%s:%d", h, os.Getpid())
	}
	if o.LeaseTTL == 0 {
		o.LeaseTTL = 30 * time.Second
	}
	if o.SyncInterval == 0 {
		o.SyncInterval = DefaultSyncInterval
	}
	if o.ParallelTypes == nil {
		o.ParallelTypes = []string{TypeHealthcheck}
	}
	if o.ReuseRunTypes == nil {
		o.ReuseRunTypes = []string{TypeHealthcheck}
	}
	if o.EventTTL == 0 {
		o.EventTTL = 720 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// DefaultSyncInterval is the default of Options.SyncInterval.
const DefaultSyncInterval = 10 * time.Second
