// Package agentapi holds the wire types shared by the node agent (package
// agent) and its client (package agentclient): the JSON bodies of the
// agent's own endpoints, of the rclone-rc subset under /agent/rclone/, and
// of the Scylla REST API calls the client makes through the agent proxy.
//
// JSON names follow the scylla-manager-agent swagger specification and the
// Scylla REST API specifications, so that either side can talk to the
// upstream counterpart.
//
// # Concurrency
//
// The package holds only types, constants and pure functions; all are safe
// for concurrent use.
//
// # Errors
//
// ParseRemote and ParseBandwidth return errors prefixed "agentapi:".
package agentapi
