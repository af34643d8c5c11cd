package restore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/scyllaops/scyllaops/internal/backupspec"
	"github.com/scyllaops/scyllaops/store"
)

// Properties are a restore task's properties, with Scylla Manager's JSON
// names. Unknown fields are refused.
type Properties struct {
	// Location is the required list of "[dc:]provider:bucket" to read the
	// snapshot from; every one is indexed.
	Location []string `json:"location"`
	// SnapshotTag is the required snapshot, "sm_YYYYMMDDhhmmssUTC".
	SnapshotTag string `json:"snapshot_tag"`
	// Keyspace is a list of glob patterns "ks[.table]", "!" excluding.
	// Default: every table of the snapshot.
	Keyspace []string `json:"keyspace,omitempty"`
	// BatchSize is the number of sstables per shard in one batch; 0 =
	// sized by the expected per-shard workload. Default: 2.
	BatchSize *int `json:"batch_size,omitempty"`
	// Parallel is how many hosts restore at once; 0 = all. Default: 0.
	Parallel int `json:"parallel,omitempty"`
	// Transfers is the number of files a host downloads at once; 0 = 2 ×
	// shards. Default: 0.
	Transfers int `json:"transfers,omitempty"`
	// RateLimit is a list of "[dc:]MiB/s" download limits; 0 = none.
	RateLimit []string `json:"rate_limit,omitempty"`
	// DCMapping maps source DCs (of the snapshot) to target DCs. Empty =
	// every snapshot DC goes to the target DC of the same name, or, when
	// the target has one DC, to it.
	DCMapping map[string]string `json:"dc_mapping,omitempty"`
	// RestoreSchema and RestoreTables: exactly one must be true.
	RestoreSchema bool `json:"restore_schema,omitempty"`
	RestoreTables bool `json:"restore_tables,omitempty"`
	// AllowCompaction keeps auto-compaction on during the restore.
	AllowCompaction bool `json:"allow_compaction,omitempty"`
	// UnpinAgentCPU is accepted for compatibility (the agent is not pinned).
	UnpinAgentCPU bool `json:"unpin_agent_cpu,omitempty"`
	// Continue resumes the task's previous unfinished run. Default: true.
	Continue *bool `json:"continue,omitempty"`
	// Method is accepted for compatibility: "", "auto" or "rclone".
	Method string `json:"method,omitempty"`
	// NodesMapping makes the run a 1-1 restore (Scylla Manager's
	// 1_1_restore): each target node downloads the sstables of its source
	// node and loads them without streaming. The topologies must be
	// identical (DCs, racks, node count, tokens). It implies
	// restore_tables.
	NodesMapping []NodeMapping `json:"nodes_mapping,omitempty"`
	// SourceClusterID is accepted for compatibility with 1_1_restore (the
	// snapshot tag and locations select the backup).
	SourceClusterID string `json:"source_cluster_id,omitempty"`
}

// NodeMapping maps one source node to one target node.
type NodeMapping struct {
	Source NodeRef `json:"source"`
	Target NodeRef `json:"target"`
}

// NodeRef names a node by DC, rack and host ID.
type NodeRef struct {
	DC     string `json:"dc"`
	Rack   string `json:"rack"`
	HostID string `json:"host_id"`
}

// DefaultBatchSize is the batch_size of Properties when unset.
const DefaultBatchSize = 2

const knownProperties = "a known restore property (location, snapshot_tag, keyspace, batch_size, parallel, transfers, rate_limit, dc_mapping, restore_schema, restore_tables, allow_compaction, unpin_agent_cpu, continue, method)"

// ParseProperties decodes and validates raw task properties. Every error
// is a *store.InvalidError naming the property (errors.Is ErrInvalid).
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
			return p, store.Invalid("properties."+f, knownProperties, f)
		case errors.As(err, &ute) && ute.Field != "":
			return p, store.Invalid("properties."+ute.Field, "a JSON "+ute.Type.String(), ute.Value)
		default:
			return p, store.Invalid("properties", "a JSON object of restore properties", err.Error())
		}
	}
	if len(p.NodesMapping) > 0 && !p.RestoreSchema {
		p.RestoreTables = true
	}
	return p, p.Validate()
}

// Validate checks the properties without side effects.
func (p Properties) Validate() error {
	if _, err := p.Locations(); err != nil {
		return err
	}
	if p.SnapshotTag == "" || !backupspec.IsSnapshotTag(p.SnapshotTag) {
		return store.Invalid("snapshot_tag", `a snapshot tag "sm_YYYYMMDDhhmmssUTC", e.g. "sm_20210809095541UTC"`, p.SnapshotTag)
	}
	if len(p.NodesMapping) > 0 {
		if p.RestoreSchema {
			return store.Invalid("restore_schema", "false with nodes_mapping (a 1-1 restore restores tables)", "true")
		}
		for i, m := range p.NodesMapping {
			if m.Source.DC == "" || m.Source.Rack == "" || m.Source.HostID == "" || m.Target.DC == "" || m.Target.Rack == "" || m.Target.HostID == "" {
				return store.Invalid(fmt.Sprintf("nodes_mapping[%d]", i), "source and target with dc, rack and host_id each (sctool's <dc>:<rack>:<host_id>=<dc>:<rack>:<host_id>)", fmt.Sprintf("%+v", m))
			}
		}
		p.RestoreTables = true
	}
	if p.RestoreSchema == p.RestoreTables {
		return store.Invalid("restore_tables", "exactly one of restore_tables and restore_schema set to true", fmt.Sprintf("restore_tables=%t restore_schema=%t", p.RestoreTables, p.RestoreSchema))
	}
	if p.BatchSize != nil && *p.BatchSize < 0 {
		return store.Invalid("batch_size", "a number of sstables per shard >= 0 (0 = sized by the workload)", fmt.Sprint(*p.BatchSize))
	}
	if p.Parallel < 0 {
		return store.Invalid("parallel", "a number of hosts >= 0 (0 = all)", fmt.Sprint(p.Parallel))
	}
	if p.Transfers < 0 {
		return store.Invalid("transfers", "a number of parallel files >= 0 (0 = 2 x shards)", fmt.Sprint(p.Transfers))
	}
	for _, s := range p.RateLimit {
		if _, err := backupspec.ParseDCLimit("rate_limit", s); err != nil {
			return err
		}
	}
	for src, dst := range p.DCMapping {
		if src == "" || dst == "" {
			return store.Invalid("dc_mapping", `a map of source DC to target DC, e.g. {"dc1": "dc2"}`, src+"="+dst)
		}
	}
	switch p.Method {
	case "", "auto", "rclone":
	default:
		return store.Invalid("method", `"auto" or "rclone" (native restore is not supported)`, p.Method)
	}
	for _, k := range p.Keyspace {
		if _, err := newPattern(k); err != nil {
			return err
		}
	}
	return nil
}

// Locations parses Location.
func (p Properties) Locations() ([]backupspec.Location, error) {
	if len(p.Location) == 0 {
		return nil, store.Invalid("location", `a list of "[dc:]provider:bucket", e.g. ["s3:my-bucket"]`, "")
	}
	out := make([]backupspec.Location, 0, len(p.Location))
	for _, s := range p.Location {
		l, err := backupspec.ParseLocation(s)
		if err != nil {
			return nil, store.Invalid("location", `"[dc:]provider:bucket" with provider s3, gcs, azure or localstorage`, s)
		}
		out = append(out, l)
	}
	return out, nil
}

// oneToOne reports whether the run is a 1-1 restore.
func (p Properties) oneToOne() bool { return len(p.NodesMapping) > 0 }

// ContinueRun reports whether a run resumes the previous unfinished one.
func (p Properties) ContinueRun() bool { return p.Continue == nil || *p.Continue }

func (p Properties) batchSize() int {
	if p.BatchSize == nil {
		return DefaultBatchSize
	}
	return *p.BatchSize
}

// pattern is one "[!]ks[.table]" glob.
type pattern struct {
	exclude   bool
	ks, table string
}

const keyspaceForm = `glob patterns "ks" or "ks.table" (path.Match syntax), "!" to exclude, e.g. ["ks1", "!ks1.big"]`

func newPattern(s string) (pattern, error) {
	raw := s
	var p pattern
	if strings.HasPrefix(s, "!") {
		p.exclude, s = true, s[1:]
	}
	ks, table, ok := strings.Cut(s, ".")
	if !ok {
		table = "*"
	}
	if ks == "" || table == "" {
		return p, store.Invalid("keyspace", keyspaceForm, raw)
	}
	if _, err := path.Match(ks, ""); err != nil {
		return p, store.Invalid("keyspace", keyspaceForm, raw)
	}
	if _, err := path.Match(table, ""); err != nil {
		return p, store.Invalid("keyspace", keyspaceForm, raw)
	}
	p.ks, p.table = ks, table
	return p, nil
}

// filter selects tables: the last matching pattern decides; with no
// pattern every table is selected. System keyspaces never are (their data
// is the schema, restored with restore_schema).
type filter []pattern

func newFilter(patterns []string) filter {
	var f filter
	for _, s := range patterns {
		p, _ := newPattern(s) // validated by Properties.Validate
		f = append(f, p)
	}
	return f
}

func (f filter) match(ks, table string) bool {
	if isSystemKeyspace(ks) {
		return false
	}
	if len(f) == 0 {
		return true
	}
	in := false
	for _, p := range f {
		a, _ := path.Match(p.ks, ks)
		b, _ := path.Match(p.table, table)
		if a && b {
			in = !p.exclude
		}
	}
	return in
}

// isSystemKeyspace: restore never loads data into these.
func isSystemKeyspace(ks string) bool {
	return strings.HasPrefix(ks, "system") || ks == "audit" || ks == "dse_system"
}
