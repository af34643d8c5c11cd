package agentclient

import (
	"errors"
	"fmt"
	"net/http"
)

// Sentinel errors; test with errors.Is on any error a call returns.
var (
	// ErrUnreachable: the request got no HTTP answer (connection refused,
	// timeout, unknown host, TLS failure).
	ErrUnreachable = errors.New("agentclient: host unreachable")
	// ErrUnauthorized: the agent answered 401 or 403 (wrong or missing
	// token).
	ErrUnauthorized = errors.New("agentclient: unauthorized")
	// ErrNotFound: the agent (or Scylla behind it) answered 404, e.g. an
	// unknown job, file or endpoint.
	ErrNotFound = errors.New("agentclient: not found")
)

// HostError is the error of every call: which host, which operation, and
// the cause.
type HostError struct {
	// Host is the host the call targeted.
	Host string
	// Op names the operation, e.g. "snapshot" or "rclone operations/list".
	Op string
	// Err is the cause; a *StatusError when the agent answered.
	Err error
}

func (e *HostError) Error() string {
	return fmt.Sprintf("agentclient: %s: %s: %v", e.Host, e.Op, e.Err)
}

// Unwrap returns the cause.
func (e *HostError) Unwrap() error { return e.Err }

// StatusError is a non-2xx answer.
type StatusError struct {
	// Code is the HTTP status code.
	Code int
	// Message is the "message" of a JSON error body, else the raw body.
	Message string
	// Body is the raw body (first 64 KiB).
	Body string
}

func (e *StatusError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("status %d %s", e.Code, http.StatusText(e.Code))
	}
	return fmt.Sprintf("status %d: %s", e.Code, e.Message)
}

// Is maps status codes to the sentinels.
func (e *StatusError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.Code == http.StatusUnauthorized || e.Code == http.StatusForbidden
	case ErrNotFound:
		return e.Code == http.StatusNotFound
	}
	return false
}

// StatusCode returns the HTTP status of err's *StatusError, or 0.
func StatusCode(err error) int {
	if se, ok := errors.AsType[*StatusError](err); ok {
		return se.Code
	}
	return 0
}
