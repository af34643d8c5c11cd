package repair

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"

	"github.com/scyllaops/scyllaops/store"
)

// Defaults of the properties, as Scylla Manager's.
const (
	DefaultIntensity           = 1
	DefaultSmallTableThreshold = 1 << 30
)

// Properties are a repair task's properties (Scylla Manager's JSON).
type Properties struct {
	Keyspace            []string `json:"keyspace,omitempty"`
	DC                  []string `json:"dc,omitempty"`
	Host                string   `json:"host,omitempty"`
	IgnoreDownHosts     bool     `json:"ignore_down_hosts,omitempty"`
	FailFast            bool     `json:"fail_fast,omitempty"`
	Continue            *bool    `json:"continue,omitempty"`
	Intensity           *float64 `json:"intensity,omitempty"`
	Parallel            int      `json:"parallel,omitempty"`
	SmallTableThreshold Size     `json:"small_table_threshold,omitempty"`
	KeyspaceReplication string   `json:"keyspace_replication,omitempty"`
	AllowEmpty          bool     `json:"allow_empty,omitempty"`
	IncrementalMode     string   `json:"incremental_mode,omitempty"`
}

// Size is a byte count that also reads the sizes sctool accepts ("1GiB",
// "500MiB", "10MB", "1024").
type Size int64

// UnmarshalJSON accepts a number or a size string.
func (s *Size) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		v, err := ParseSize(str)
		if err != nil {
			return err
		}
		*s = Size(v)
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil || f < 0 || f != math.Trunc(f) {
		return store.Invalid("small_table_threshold", `a size in bytes (1073741824) or with a unit ("1GiB", "500MiB")`, string(b))
	}
	*s = Size(f)
	return nil
}

// ParseSize parses "1GiB", "10MB", "512" (bytes).
func ParseSize(s string) (int64, error) {
	bad := store.Invalid("small_table_threshold", `a size in bytes (1073741824) or with a unit ("1GiB", "500MiB", "10MB")`, s)
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 {
		return 0, bad
	}
	mult := map[string]float64{"": 1, "b": 1, "k": 1 << 10, "kb": 1e3, "kib": 1 << 10, "m": 1 << 20, "mb": 1e6, "mib": 1 << 20,
		"g": 1 << 30, "gb": 1e9, "gib": 1 << 30, "t": 1 << 40, "tb": 1e12, "tib": 1 << 40}[unit]
	if mult == 0 {
		return 0, bad
	}
	return int64(f * mult), nil
}

// ParseProperties parses and checks properties (nil or empty = defaults).
// Errors match store.ErrInvalid and name the field and its accepted form.
func ParseProperties(raw json.RawMessage) (Properties, error) {
	var p Properties
	if len(bytes.TrimSpace(raw)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		if err := dec.Decode(&p); err != nil {
			if ie := (*store.InvalidError)(nil); errors.As(err, &ie) {
				return p, ie
			}
			return p, store.Invalid("properties", "a repair task's JSON properties (keyspace, dc, host, intensity, parallel, ...): "+err.Error(), string(raw))
		}
	}
	if p.Intensity != nil && *p.Intensity < 0 {
		return p, store.Invalid("intensity", "a number >= 0 (0 = max, 0 < x < 1 counts as 1)", strconv.FormatFloat(*p.Intensity, 'g', -1, 64))
	}
	if p.Parallel < 0 {
		return p, store.Invalid("parallel", "an integer >= 0 (0 = max)", strconv.Itoa(p.Parallel))
	}
	switch p.KeyspaceReplication {
	case "", "all", "vnodes":
	case "tablets":
		return p, store.Invalid("keyspace_replication", "all or vnodes (tablet keyspaces are not supported by this repair)", p.KeyspaceReplication)
	default:
		return p, store.Invalid("keyspace_replication", "all, vnodes or tablets", p.KeyspaceReplication)
	}
	switch p.IncrementalMode {
	case "", "incremental", "full", "disabled":
	default:
		return p, store.Invalid("incremental_mode", `"", incremental, full or disabled`, p.IncrementalMode)
	}
	if _, err := NewFilter(p.Keyspace); err != nil {
		return p, store.Invalid("keyspace", `keyspace[.table] globs, "!" to exclude (e.g. ["ks*","!ks2.t"]): `+err.Error(), strings.Join(p.Keyspace, ","))
	}
	if len(p.DC) > 0 {
		if _, err := newGlobs("dc", p.DC); err != nil {
			return p, store.Invalid("dc", `DC globs, "!" to exclude (e.g. ["dc1","!dc2"]): `+err.Error(), strings.Join(p.DC, ","))
		}
	}
	return p, nil
}

// ContinueRun reports whether an unfinished earlier run is continued
// (default true).
func (p Properties) ContinueRun() bool { return p.Continue == nil || *p.Continue }

// IntensityValue returns the intensity (default 1).
func (p Properties) IntensityValue() float64 {
	if p.Intensity == nil {
		return DefaultIntensity
	}
	return *p.Intensity
}

// Target returns the planner's target.
func (p Properties) Target() Target {
	th := int64(p.SmallTableThreshold)
	if th == 0 {
		th = DefaultSmallTableThreshold
	}
	return Target{Keyspace: p.Keyspace, DC: p.DC, Host: p.Host, IgnoreDownHosts: p.IgnoreDownHosts, SmallTableThreshold: th, AllowEmpty: p.AllowEmpty}
}

// effIntensity maps an intensity to ranges per job for a replica set
// whose max is max: 0 or more than max → max; 0 < x < 1 → 1.
func effIntensity(v float64, maxI int) int {
	if v <= 0 || v >= float64(maxI) {
		return maxI
	}
	return max(int(v), 1)
}
