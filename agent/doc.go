// Package agent is the node-side library of scyllaops: an http.Handler that
// runs next to every ScyllaDB node and speaks the scylla-manager-agent wire
// protocol, so a scyllaops manager can drive existing scylla-manager-agents
// and this agent can stand in for one.
//
// The handler serves:
//
//   - GET /ping (204) and GET /version without authentication;
//   - GET /agent/node_info, built from the node's Scylla REST API
//     (/v2/config/* and /storage_service/scylla_release_version);
//   - POST /agent/rclone/<call>: the subset of the rclone remote-control
//     API that backup and restore use (listing, cat, put, delete, copy and
//     move of files and directories, asynchronous jobs with progress),
//     implemented on gocloud.dev/blob (s3, gcs, azure, file) rather than
//     rclone. The local Scylla data directory is the jailed "data:" remote;
//   - GET /metrics, proxied to the node's Prometheus endpoint;
//   - everything else, reverse-proxied to the node-local Scylla REST API.
//
// Every route but /ping and /version requires "Authorization: Bearer
// <token>" when Options.AuthToken is set. Serve the handler over TLS; use
// SelfSignedCert when no certificate is configured. examples/agent is the
// daemon.
//
// Uploads stream: a file is read, rate limited, checksummed and written in
// one pass through fixed-size buffers, so the agent's heap does not grow
// with file size.
//
// Downloads (and any copy into a local remote, data: or localstorage:) are
// written in 1 MiB writes around the page cache (O_DIRECT, where the file
// system takes it; ScyllaDB reads SSTables with direct I/O anyway) to a
// temporary file, whose size and CRC32C, computed in the same pass, are
// checked against the source's (its stored CRC32C, when it has one)
// before the file is renamed into place. A file under its name is thus
// complete after a process kill; there is no fsync, so a power loss may
// lose recent files (the contract is a process kill).
//
// # Concurrency
//
// All exported methods of Agent are safe for concurrent use. Asynchronous
// rclone jobs run on goroutines owned by the Agent; Close cancels them and
// waits for them to exit.
//
// # Errors
//
// New returns errors prefixed "agent:" that name the invalid option. Errors
// of rclone calls reach the client as JSON bodies
// {"status","message","input","path"} with HTTP status 400 (bad request or
// path), 403, 404 (unknown call or missing file), 405 (method), 413 (body
// too large) or 500.
package agent
