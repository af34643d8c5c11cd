// Package restore restores a backup (Scylla Manager's layout and manifest
// v2) into a cluster of any topology: the "restore" task type.
//
// A run either applies the snapshot's schema file through CQL
// (restore_schema) or restores tables (restore_tables) with Scylla
// Manager's stages: DROP_VIEWS, DISABLE_TGC, DATA, REPAIR, ENABLE_TGC,
// RECREATE_VIEWS. The DATA stage indexes the snapshot's manifests in
// every location, refuses a snapshot whose manifests do not cover each
// DC's token ring, resolves versioned files to the copy the snapshot
// needs, maps source DCs to target DCs, groups sstables into batches per
// target host and, batch by batch, downloads them through the agent into
// the table's upload/ directory and loads them with load&stream.
//
// RECREATE_VIEWS re-creates each dropped view and index and waits until
// every node reports its build done (storage_service/view_build_statuses).
//
// Every downloaded and every loaded sstable is recorded in the run's
// progress rows, so a resumed run (a crash, a takeover, a stop) downloads
// and loads only what is left; see data.go for the rule.
//
// The target cluster's nodes come from package topology (a view the
// Manager discovers now, through Topologies).
//
// NewAPI builds the Service and the API the Manager hands out
// (scyllaops.Manager.Restore): the Runner of TaskType and
// OneToOneTaskType, Target (the dry run) and RunProgress; its default CQL
// runs statements on the first node that answers with the cluster's
// credentials. Services never import each other: the repair of the
// restored tables goes through the Repairer interface (RepairFunc), which
// the Manager links to the repair service.
//
// # Concurrency
//
// All exported methods are safe for concurrent use.
//
// # Errors
//
// Bad properties and properties that do not fit the snapshot or the
// cluster (unknown tag, location, keyspace or DC, tables missing in the
// target) are *store.InvalidError (errors.Is store.ErrInvalid), returned
// before anything is downloaded. An incomplete snapshot matches
// ErrIncompleteSnapshot, a file missing from the bucket ErrMissingFile.
package restore
