package restapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/store"
)

// APIError is an error answer of the API as the Client sees it.
type APIError struct {
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Message, Details and TraceID are the fields of the error body.
	Message string
	Details string
	TraceID string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("restapi: %s (HTTP %d", e.Message, e.StatusCode)
	if e.TraceID != "" {
		s += ", trace_id " + e.TraceID
	}
	s += ")"
	if e.Details != "" && !strings.Contains(e.Message, e.Details) {
		s += ": " + e.Details
	}
	return s
}

// Is makes errors.Is match the store sentinels by status code: 404 is
// store.ErrNotFound, 409 store.ErrConflict, 400 store.ErrInvalid.
func (e *APIError) Is(target error) bool {
	switch target {
	case store.ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case store.ErrConflict:
		return e.StatusCode == http.StatusConflict
	case store.ErrInvalid:
		return e.StatusCode == http.StatusBadRequest
	}
	return false
}

// httpError is an error that carries its own status (request decoding,
// routing).
type httpError struct {
	status  int
	message string
	err     error
}

func (e *httpError) Error() string {
	if e.err != nil {
		return e.err.Error()
	}
	return e.message
}

func (e *httpError) Unwrap() error { return e.err }

func badRequest(err error) error {
	return &httpError{status: http.StatusBadRequest, message: "invalid input", err: err}
}

func notFound(msg string) error {
	return &httpError{status: http.StatusNotFound, message: msg}
}

// errStatus maps an error to the HTTP status the API answers with.
func errStatus(err error) int {
	var he *httpError
	switch {
	case errors.As(err, &he):
		return he.status
	case errors.Is(err, store.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, scyllaops.ErrClosed), errors.Is(err, store.ErrClosed), errors.Is(err, store.ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// writeError writes the error body. msg says what was being done, as
// Scylla Manager does ("get cluster", "create task").
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, msg string, err error) {
	status := errStatus(err)
	body := ErrorResponse{Message: msg, Details: cleanErr(err), TraceID: traceID(r.Context())}
	if body.Message == "" {
		body.Message = body.Details
	} else if status != http.StatusInternalServerError {
		body.Message += ": " + body.Details
	}
	if status >= 500 {
		h.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "status", status, "error", err, "trace_id", body.TraceID)
	}
	writeJSON(w, status, body)
}

// cleanErr drops the package prefixes that mean nothing to an API user.
func cleanErr(err error) string {
	s := err.Error()
	for _, p := range []string{"scyllaops: ", "restapi: "} {
		s = strings.ReplaceAll(s, p, "")
	}
	return s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v == nil {
		return
	}
	_ = json.NewEncoder(w).Encode(v)
}

// maxBody bounds request bodies: every API body is small.
const maxBody = 4 << 20

// decodeJSON decodes the request body into v; strict refuses unknown
// fields. Errors are 400s naming the field and the expected form.
func decodeJSON(r *http.Request, v any, strict bool) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody+1))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &httpError{status: http.StatusRequestEntityTooLarge, message: "request body too large",
				err: fmt.Errorf("body: want at most %d bytes", mbe.Limit)}
		}
		return badRequest(describeJSONErr(err))
	}
	if dec.More() {
		return badRequest(errors.New("body: want a single JSON document, got trailing data"))
	}
	return nil
}

func describeJSONErr(err error) error {
	var inv *store.InvalidError
	if errors.As(err, &inv) {
		return inv
	}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return errors.New("body: want a JSON document, got an empty body")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("body: malformed JSON: unexpected end of input")
	case errors.As(err, &se):
		return fmt.Errorf("body: malformed JSON at byte %d: %w", se.Offset, err)
	case errors.As(err, &te):
		f := te.Field
		if f == "" {
			f = "body"
		}
		return fmt.Errorf("%s: want a JSON %s, got %s", f, jsonKind(te.Type.Kind().String()), te.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return fmt.Errorf("body: %s; want only the documented fields", strings.TrimPrefix(err.Error(), "json: "))
	}
	return fmt.Errorf("body: %w", err)
}

func jsonKind(k string) string {
	switch k {
	case "int", "int64", "int32", "uint", "uint64", "float64", "float32":
		return "number"
	case "slice", "array":
		return "array"
	case "map", "struct":
		return "object"
	case "bool":
		return "boolean"
	}
	return k
}
