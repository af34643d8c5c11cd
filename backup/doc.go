// Package backup backs up ScyllaDB clusters to object storage (s3, gcs,
// azure, localstorage) in Scylla Manager's format, so backups are
// listable and restorable by either tool.
//
// A Service has a scheduler-facing Run (the Runner seam) and direct calls
// for the Manager: GetTarget (dry run), List, ListFiles, Validate,
// DeleteSnapshot and Purge. It talks to nodes only through
// agentclient.Client (resolved per cluster by a ClusterResolver) and
// persists through a narrow Store (runs, progress rows, leases).
// ValidateRunner runs validate_backup tasks; Validate can also re-read a
// sample of Data.db files and compare them with their Digest.crc32.
//
// API (NewAPI) is the service's Manager-facing call surface, what
// scyllaops.Manager.Backup returns and restapi calls: the Runners the
// scheduler registers for TaskType and ValidateTaskType (every backup run
// gets the cluster's retention map, a validate_backup task without
// locations validates those of the cluster's backup tasks), and the
// direct calls by cluster ID or name (Target, List, ListFiles, Schema,
// Validate, DeleteSnapshots, Purge, DeleteLocalSnapshots, Progress). It
// reaches clusters through the Clusters interface the Manager implements.
//
// # Stages
//
// A run goes INIT → SNAPSHOT → AWAIT_SCHEMA → INDEX → MANIFEST → SCHEMA →
// DEDUPLICATE → UPLOAD → MOVE_MANIFEST → PURGE → DONE. The stage, the
// plan (hosts, units, locations, limits) and one row per host/table are
// progress rows of the run, written with the run's fencing token. When
// "continue" is true (the default) and the previous run of the task
// stopped before DONE with a snapshot younger than Options.AgeMax, a new
// run copies its rows and continues at its stage: finished tables are not
// touched, and a table's upload moves the local files, so an uploaded
// file is never uploaded again.
//
// DEDUPLICATE, UPLOAD and MOVE_MANIFEST run under the store lease
// "backup-upload/<cluster>"; so do purges (PURGE, Purge, DeleteSnapshot)
// and Validate with orphan deletion. A purge therefore never deletes a
// file that an in-flight backup has decided not to upload, and never a
// file that a kept manifest references (see backupspec.PlanPurge).
// Unfinished (.tmp) manifests younger than Options.TempGrace are
// protected as well.
//
// # Differences from Scylla Manager
//
// The schema file is written only when Options.Schema provides the CQL
// schema; views are not filtered out (no CQL). Nodes of the selected DCs
// that are down fail the run at INIT, naming them. Native backup and
// retention locks are refused at validation.
//
// # Concurrency
//
// All exported methods are safe for concurrent use. Per-host work runs in
// goroutines that every call waits for.
//
// # Errors
//
// Bad properties are *store.InvalidError values (errors.Is
// store.ErrInvalid) naming the property, returned before any side effect.
// Node failures wrap *agentclient.HostError and name the node.
package backup
