package backup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/internal/backupspec"
	"github.com/scyllaops/scyllaops/store"
)

// MethodRclone is the backup method that runs: files go through the
// agent's file jobs, as Scylla Manager's rclone method (its default; its
// "auto" picks it too where Scylla's native backup is not available).
const MethodRclone = "rclone"

// Properties are a backup task's properties, with Scylla Manager's JSON
// names. Unknown fields are refused.
type Properties struct {
	// Location is the required list of "[dc:]provider:bucket".
	Location []string `json:"location"`
	// Keyspace is a list of glob patterns "ks[.table]", "!" excluding.
	// Default: ["*"].
	Keyspace []string `json:"keyspace,omitempty"`
	// DC is a list of DC glob patterns. Default: ["*"].
	DC []string `json:"dc,omitempty"`
	// Retention is the number of snapshots kept. Default: 3 when neither
	// Retention nor RetentionDays is set.
	Retention *int `json:"retention,omitempty"`
	// RetentionDays keeps snapshots younger than this many days.
	RetentionDays *int `json:"retention_days,omitempty"`
	// RetentionMap is injected at run time by the Manager: the policy of
	// every backup task of the cluster, for purge.
	RetentionMap map[uuid.UUID]backupspec.RetentionPolicy `json:"retention_map,omitempty"`
	// RateLimit is a list of "[dc:]MiB/s". Default: 100; 0 = unlimited.
	RateLimit []string `json:"rate_limit,omitempty"`
	// SnapshotParallel, UploadParallel are lists of "[dc:]N" hosts at
	// once per DC. Default: 0 = all.
	SnapshotParallel []string `json:"snapshot_parallel,omitempty"`
	UploadParallel   []string `json:"upload_parallel,omitempty"`
	// Transfers is the number of files an agent uploads at once; -1 =
	// the agent's setting. Default: -1.
	Transfers *int `json:"transfers,omitempty"`
	// SkipSchema skips system_schema and the schema file.
	SkipSchema bool `json:"skip_schema,omitempty"`
	// PurgeOnly skips every stage before PURGE.
	PurgeOnly bool `json:"purge_only,omitempty"`
	// Continue resumes the previous unfinished run. Default: true.
	Continue *bool `json:"continue,omitempty"`
	// Method is accepted for compatibility: "", "auto" or "rclone"; each
	// runs MethodRclone (agent file jobs), which the dry run shows.
	Method string `json:"method,omitempty"`
	// RetentionLockMode is accepted for compatibility: "" or "disabled".
	RetentionLockMode string `json:"retention_lock_mode,omitempty"`
	// OverrideRetentionLock is accepted for compatibility.
	OverrideRetentionLock bool `json:"override_retention_lock,omitempty"`
}

// Defaults of Properties.
const (
	DefaultRetention = 3
	DefaultRateLimit = 100 // MiB/s
	DefaultTransfers = -1
)

// ParseProperties decodes and validates raw task properties. Every error
// is an *store.InvalidError naming the property (errors.Is ErrInvalid).
func ParseProperties(raw json.RawMessage) (Properties, error) {
	var p Properties
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		raw = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		var ute *json.UnmarshalTypeError
		switch {
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return p, store.Invalid("properties."+f, "a known backup property (location, keyspace, dc, retention, retention_days, rate_limit, snapshot_parallel, upload_parallel, transfers, skip_schema, purge_only, continue)", f)
		case errors.As(err, &ute) && ute.Field != "":
			return p, store.Invalid("properties."+ute.Field, "a JSON "+ute.Type.String(), ute.Value)
		default:
			return p, store.Invalid("properties", "a JSON object of backup properties", err.Error())
		}
	}
	return p, p.Validate()
}

// Validate checks the properties without side effects.
func (p Properties) Validate() error {
	if _, err := p.Locations(); err != nil {
		return err
	}
	if p.Retention != nil && *p.Retention < 0 {
		return store.Invalid("retention", "a number of snapshots >= 0", fmt.Sprint(*p.Retention))
	}
	if p.RetentionDays != nil && *p.RetentionDays < 0 {
		return store.Invalid("retention_days", "a number of days >= 0", fmt.Sprint(*p.RetentionDays))
	}
	if p.Transfers != nil && *p.Transfers < -1 {
		return store.Invalid("transfers", "-1 (agent setting) or a number of parallel files >= 1", fmt.Sprint(*p.Transfers))
	}
	for _, l := range []struct {
		name string
		v    []string
	}{{"rate_limit", p.RateLimit}, {"snapshot_parallel", p.SnapshotParallel}, {"upload_parallel", p.UploadParallel}} {
		if _, err := parseLimits(l.name, l.v); err != nil {
			return err
		}
	}
	switch p.Method {
	case "", "auto", "rclone":
	default:
		return store.Invalid("method", `"auto" or "rclone" (native backup is not supported)`, p.Method)
	}
	switch p.RetentionLockMode {
	case "", "disabled":
	default:
		return store.Invalid("retention_lock_mode", `"disabled" (retention locks are not supported)`, p.RetentionLockMode)
	}
	for _, k := range p.Keyspace {
		if _, err := newFilterPattern(k); err != nil {
			return err
		}
	}
	return nil
}

// Locations parses Location; at least one is required.
func (p Properties) Locations() ([]backupspec.Location, error) {
	if len(p.Location) == 0 {
		return nil, store.Invalid("location", backupspec.LocationForm, "")
	}
	out := make([]backupspec.Location, 0, len(p.Location))
	seen := map[string]bool{}
	for _, s := range p.Location {
		l, err := backupspec.ParseLocation(s)
		if err != nil {
			var ie *backupspec.InvalidError
			if errors.As(err, &ie) {
				return nil, store.Invalid("location", ie.Want, s)
			}
			return nil, err
		}
		if seen[l.DC] {
			return nil, store.Invalid("location", "at most one location per DC (and one without DC)", s)
		}
		seen[l.DC] = true
		out = append(out, l)
	}
	return out, nil
}

// Policy returns the retention policy: defaults to 3 snapshots when
// neither retention nor retention_days is set.
func (p Properties) Policy() backupspec.RetentionPolicy {
	if p.Retention == nil && p.RetentionDays == nil {
		return backupspec.RetentionPolicy{Retention: DefaultRetention}
	}
	var rp backupspec.RetentionPolicy
	if p.Retention != nil {
		rp.Retention = *p.Retention
	}
	if p.RetentionDays != nil {
		rp.RetentionDays = *p.RetentionDays
	}
	return rp
}

// ContinueRun reports whether an unfinished run is resumed (default true).
func (p Properties) ContinueRun() bool { return p.Continue == nil || *p.Continue }

// TransfersValue returns Transfers or its default.
func (p Properties) TransfersValue() int {
	if p.Transfers == nil {
		return DefaultTransfers
	}
	return *p.Transfers
}

func parseLimits(field string, v []string) ([]backupspec.DCLimit, error) {
	out := make([]backupspec.DCLimit, 0, len(v))
	for _, s := range v {
		l, err := backupspec.ParseDCLimit(field, s)
		if err != nil {
			var ie *backupspec.InvalidError
			if errors.As(err, &ie) {
				return nil, store.Invalid(field, ie.Want, s)
			}
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}
