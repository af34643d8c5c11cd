// Package scyllaops automates ScyllaDB operations — topology discovery, a
// scheduler, backup, restore, repair and health checks — for many
// clusters, as a library. It is what Scylla Manager is as a server, in a
// form other Go control planes and test suites import, and it speaks Scylla
// Manager's wire formats: its agent API, its backup layout and manifests,
// its REST API (package restapi) and its metric names.
//
// # Usage
//
// A Manager needs a store and a way to reach the nodes' agents:
//
//	st, err := boltstore.Open(ctx, "/var/lib/scyllaops/state.db", boltstore.Options{})
//	// or memstore.New() in tests, or cqlstore.Open(ctx, …) for several managers
//	m, err := scyllaops.New(st, nil, scyllaops.Options{Logger: logger, Registerer: reg})
//	go m.Run(ctx) // the scheduler; returns after every goroutine it started exited
//	defer m.Close()
//
// A nil transport reaches each node's agent over TCP+TLS on port 10001
// with the cluster's bearer token. Tests pass the in-process transport of a
// simulated cluster (package scyllatest) instead: no sockets, and every
// request still goes through the real agent handler.
//
// Add a cluster by one contact host; the Manager discovers the others and
// creates the default tasks:
//
//	c, err := m.CreateCluster(ctx, scyllaops.Cluster{Name: "prod", Host: "10.0.0.1", AuthToken: token})
//
// Secrets (the auth token, CQL and Alternator credentials, TLS identity)
// are stored apart from the cluster record and are never returned: reads
// show them as SecretSet.
//
// # Services
//
// The root composes; each service package owns its logic and its
// Manager-facing call surface (its API type, built by its NewAPI over the
// Manager's clusters): Manager.Backup returns the backup service's
// (sctool backup list, validate, delete, purge …), Manager.Repair the
// repair's (dry run, live tuning, ad-hoc table repair), Manager.Restore
// the restore's (dry run, progress), Manager.Healthcheck the health
// check's (the cluster status). Services never import each other: the
// Manager links restore's REPAIR stage to the repair service. Every
// service takes its view of a cluster from package topology, the only
// package that asks a cluster what it looks like. Timed suspensions are
// the scheduler's (scheduler.SuspendTaskType); run ends go to webhooks
// (package webhook). A new task type adds its package and one line of
// wiring in New; RegisterRunner adds one from outside.
//
// # Files
//
// manager.go (New, the wiring, Run), options.go, clusters.go (clusters,
// their secrets and agent keys), topology.go (each cluster's last view
// and known hosts), tasks.go (tasks and suspensions), runs.go, events.go.
//
// # Concurrency
//
// All exported methods of Manager are safe for concurrent use. Two Managers
// in one process never interfere: there is no package-level mutable state,
// no global logger, registry or mux. Several Managers may share one store
// (cqlstore, or memstore in tests): leases with fencing tokens make every
// scheduled activation run exactly once, and a crashed Manager's runs are
// taken over after Options.LeaseTTL.
//
// # Errors
//
// Bad input gives an error matching ErrInvalid that names the field and the
// accepted form (a *store.InvalidError); nothing is stored then. Unknown
// clusters, tasks and runs give ErrNotFound; a duplicate name gives
// store.ErrConflict; every method after Close gives ErrClosed.
package scyllaops
