// Package agentclient is a typed client for the node agent (package agent,
// or an upstream scylla-manager-agent) and for the Scylla REST API calls the
// services make through the agent's proxy.
//
// Every call takes the target host (the node's address as the cluster knows
// it) and goes over an http.RoundTripper: by default TCP+TLS to
// https://<host>:10001 with the bearer token, retries and exponential
// backoff (go-retryablehttp); or any RoundTripper, such as
// InProcessTransport, which routes requests to registered agent handlers
// without sockets.
//
// Per-call timeouts follow Scylla Manager's client: Options.Timeout by
// default, longer for describe_ring and snapshots, none for repair_status
// and load&stream, wait+Timeout for long polls; a timed-out attempt is
// retried with the timeout doubled, capped by Options.MaxTimeout. Streamed
// listings use an inactivity timeout (Options.ListTimeout) instead.
//
// Retries (exponential backoff with jitter) cover transport errors, 5xx,
// 408 and 429, never 4xx answers such as 401 or 404, nor final Scylla
// errors ("snapshot already exists", "unknown repair id"). Streamed
// request bodies (Put with a non-seekable reader) are sent once.
//
// # Concurrency
//
// Client and InProcessTransport are safe for concurrent use.
//
// # Errors
//
// Every error returned by a call is a *HostError naming the host and the
// operation. Callers branch with errors.Is on ErrUnreachable (the request
// did not get an HTTP answer), ErrUnauthorized (401/403) and ErrNotFound
// (404); errors.As with *StatusError gives the HTTP status and message.
package agentclient
