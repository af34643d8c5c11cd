// Package restapi serves Scylla Manager's REST API (/api/v1) over a
// scyllaops.Manager, and holds a Go client for it.
//
// The handler speaks the same paths, JSON field names and status codes as
// Scylla Manager 3.x, so the sctool users already have works against it:
// clusters CRUD, cluster status, tasks CRUD, start/stop, history and run
// progress, backup target (dry run), backup listing, files, schema and
// deletion, and suspend/resume. Paths with {cluster_id} accept a cluster
// UUID or name.
//
// Task types plug in through a small registry (types.go): a type with
// API specifics (a dry-run target endpoint, the shape of an empty
// progress) is one file type_<name>.go and one line in the list; every
// registered runner type works through the generic task endpoints
// without it. The Manager calls are confined to manager.go, which adapts
// *scyllaops.Manager to the handler's backend interface.
//
// # Concurrency
//
// The handler and the Client are safe for concurrent use.
//
// # Errors
//
// Every error answer has the body {"message","details","trace_id"}. Bad
// input (malformed JSON, a field the Manager rejects with
// store.ErrInvalid) is a 400 whose details name the field and the accepted
// form; an unknown cluster, task, run or path is a 404; a conflict (a
// duplicate name, suspend with fail_if_running_tasks while tasks run) is a
// 409; anything else is a 500. The Client returns an *APIError carrying
// the same fields.
package restapi
