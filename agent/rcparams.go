package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/scyllaops/scyllaops/internal/agentapi"
)

// rcError is an error with the HTTP status it is answered with.
type rcError struct {
	status int
	err    error
}

func (e *rcError) Error() string { return e.err.Error() }
func (e *rcError) Unwrap() error { return e.err }

func badRequest(format string, args ...any) error {
	return &rcError{status: http.StatusBadRequest, err: fmt.Errorf(format, args...)}
}

func withStatus(status int, err error) error { return &rcError{status: status, err: err} }

// params are the input of an rc call: query and form values (strings) and
// the JSON body's members, the body winning.
type params map[string]any

// decodeParams builds the params of an rc call from the query, the
// content type and the body (read up to agentapi.MaxRCBodyBytes). It never
// panics on any input; errors are *rcError with status 400 or 413.
func decodeParams(query url.Values, contentType string, body io.Reader) (params, error) {
	p := make(params, len(query))
	for k, v := range query {
		if len(v) > 0 {
			p[k] = v[0]
		}
	}
	if body == nil {
		return p, nil
	}
	b, err := io.ReadAll(io.LimitReader(body, agentapi.MaxRCBodyBytes+1))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, tooLarge()
		}
		return nil, badRequest("read request body: %w", err)
	}
	if int64(len(b)) > agentapi.MaxRCBodyBytes {
		return nil, tooLarge()
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	switch {
	case mt == "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(b))
		if err != nil {
			return nil, badRequest("invalid form body: %w", err)
		}
		for k, v := range vals {
			if len(v) > 0 {
				p[k] = v[0]
			}
		}
		return p, nil
	case len(bytes.TrimSpace(b)) == 0:
		return p, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, badRequest("invalid JSON body: want a JSON object: %w", err)
	}
	if dec.More() {
		return nil, badRequest("invalid JSON body: want a single JSON object, found trailing data")
	}
	if m == nil {
		return nil, badRequest("invalid JSON body: want a JSON object, got null")
	}
	for k, v := range m {
		p[k] = v
	}
	return p, nil
}

func tooLarge() error {
	return withStatus(http.StatusRequestEntityTooLarge,
		fmt.Errorf("request body too large: the limit of rc call bodies is %d bytes", agentapi.MaxRCBodyBytes))
}

// str returns the string parameter k ("" when absent).
func (p params) str(k string) (string, error) {
	v, ok := p[k]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", badRequest("invalid parameter %q: want a string, got %s", k, jsonType(v))
	}
	return s, nil
}

// int returns the integer parameter k (def when absent). Strings holding
// integers are accepted (query parameters).
func (p params) int(k string, def int64) (int64, error) {
	v, ok := p[k]
	if !ok || v == nil {
		return def, nil
	}
	var s string
	switch t := v.(type) {
	case json.Number:
		s = t.String()
	case string:
		s = t
	case float64:
		if t != math.Trunc(t) || math.Abs(t) > 1<<53 {
			return 0, badRequest("invalid parameter %q: want an integer, got %v", k, t)
		}
		return int64(t), nil
	default:
		return 0, badRequest("invalid parameter %q: want an integer, got %s", k, jsonType(v))
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return 0, badRequest("invalid parameter %q: want an integer, got %q", k, s)
		}
		n = int64(f)
	}
	return n, nil
}

// bool returns the boolean parameter k (false when absent); "true" and
// "false" strings are accepted.
func (p params) bool(k string) (bool, error) {
	v, ok := p[k]
	if !ok || v == nil {
		return false, nil
	}
	switch t := v.(type) {
	case bool:
		return t, nil
	case string:
		b, err := strconv.ParseBool(t)
		if err != nil {
			return false, badRequest("invalid parameter %q: want true or false, got %q", k, t)
		}
		return b, nil
	}
	return false, badRequest("invalid parameter %q: want a boolean, got %s", k, jsonType(v))
}

// strs returns the string-list parameter k; a JSON list of strings or a
// comma-separated string.
func (p params) strs(k string) ([]string, error) {
	v, ok := p[k]
	if !ok || v == nil {
		return nil, nil
	}
	switch t := v.(type) {
	case string:
		if t == "" {
			return nil, nil
		}
		return strings.Split(t, ","), nil
	case []any:
		out := make([]string, len(t))
		for i, e := range t {
			s, ok := e.(string)
			if !ok {
				return nil, badRequest("invalid parameter %q: want a list of strings, item %d is %s", k, i, jsonType(e))
			}
			out[i] = s
		}
		return out, nil
	}
	return nil, badRequest("invalid parameter %q: want a list of strings, got %s", k, jsonType(v))
}

// obj returns the object parameter k (nil when absent).
func (p params) obj(k string) (params, error) {
	v, ok := p[k]
	if !ok || v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, badRequest("invalid parameter %q: want an object, got %s", k, jsonType(v))
	}
	return params(m), nil
}

// required returns the non-empty string parameter k.
func (p params) required(k string) (string, error) {
	s, err := p.str(k)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", badRequest("missing parameter %q", k)
	}
	return s, nil
}

func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// parseRate parses an rclone bandwidth like "100M", "512k", "1.5G", "0" or
// "off" into bytes per second (0 = unlimited). Suffixes are binary
// (k = 1024); a bare number is KiB/s, as in rclone.
func parseRate(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "off" || s == "0" {
		return 0, nil
	}
	// rclone accepts "up:down" and timetables; only one plain rate is
	// supported here.
	if strings.ContainsAny(s, ": ,") {
		return 0, badRequest("invalid bandwidth rate %q: want a single rate like 100M, 512k or off", s)
	}
	mult := float64(1 << 10)
	switch s[len(s)-1] {
	case 'b', 'B':
		mult, s = 1, s[:len(s)-1]
	case 'k', 'K':
		mult, s = 1<<10, s[:len(s)-1]
	case 'm', 'M':
		mult, s = 1<<20, s[:len(s)-1]
	case 'g', 'G':
		mult, s = 1<<30, s[:len(s)-1]
	case 't', 'T':
		mult, s = 1<<40, s[:len(s)-1]
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) || f*mult > 1<<50 {
		return 0, badRequest("invalid bandwidth rate %q: want a single rate like 100M, 512k or off", s)
	}
	return int64(f * mult), nil
}

// formatRate is the inverse of parseRate, for answers.
func formatRate(bps int64) string {
	if bps <= 0 {
		return "off"
	}
	for _, u := range []struct {
		n    int64
		unit string
	}{{1 << 30, "G"}, {1 << 20, "M"}, {1 << 10, "k"}} {
		if bps%u.n == 0 {
			return strconv.FormatInt(bps/u.n, 10) + u.unit
		}
	}
	return strconv.FormatInt(bps, 10) + "B"
}
