package backupspec

import (
	"path"
	"regexp"
	"strings"

	"github.com/google/uuid"
)

// Remote layout (paths are relative to the bucket root):
//
//	backup/meta/cluster/<c>/dc/<dc>/node/<n>/task_<t>_tag_<tag>_manifest.json.gz[.tmp]
//	backup/schema/cluster/<c>/task_<t>_tag_<tag>_schema_with_internals.json.gz
//	backup/schema/cluster/<c>/task_<t>_tag_<tag>_alternator_schema.json.gz
//	backup/schema/cluster/<c>/task_<t>_tag_<tag>_schema.tar.gz
//	backup/sst/cluster/<c>/dc/<dc>/node/<n>/keyspace/<ks>/table/<table>/<version>/<files>
//	backup/sst/.../<version>/tag_<tag>_node_<n>_manifest.json
const (
	// RootDir is the top directory of everything in a bucket.
	RootDir = "backup"
	// MetaDir holds the manifests.
	MetaDir = "backup/meta"
	// SchemaDirName, SSTDirName name the schema and data subtrees.
	schemaDir = "backup/schema"
	sstDir    = "backup/sst"
	// TempSuffix marks a manifest whose backup is not finished.
	TempSuffix = ".tmp"
	// ManifestSuffix ends every manifest name.
	ManifestSuffix = "_manifest.json.gz"
)

// MetaClusterDir is the manifest tree of a cluster: backup/meta/cluster/<c>.
func MetaClusterDir(clusterID uuid.UUID) string {
	return path.Join(MetaDir, "cluster", clusterID.String())
}

// MetaNodeDir is backup/meta/cluster/<c>/dc/<dc>/node/<n>.
func MetaNodeDir(clusterID uuid.UUID, dc, nodeID string) string {
	return path.Join(MetaClusterDir(clusterID), "dc", dc, "node", nodeID)
}

// ManifestName is task_<t>_tag_<tag>_manifest.json.gz.
func ManifestName(taskID uuid.UUID, tag string) string {
	return "task_" + taskID.String() + "_tag_" + tag + ManifestSuffix
}

// ManifestPath is the final path of a node's manifest of a snapshot; add
// TempSuffix for the in-progress one.
func ManifestPath(clusterID uuid.UUID, dc, nodeID string, taskID uuid.UUID, tag string) string {
	return path.Join(MetaNodeDir(clusterID, dc, nodeID), ManifestName(taskID, tag))
}

// SchemaClusterDir is backup/schema/cluster/<c>.
func SchemaClusterDir(clusterID uuid.UUID) string {
	return path.Join(schemaDir, "cluster", clusterID.String())
}

// SchemaPath is the CQL schema (DESCRIBE SCHEMA WITH INTERNALS) file.
func SchemaPath(clusterID, taskID uuid.UUID, tag string) string {
	return path.Join(SchemaClusterDir(clusterID), "task_"+taskID.String()+"_tag_"+tag+"_schema_with_internals.json.gz")
}

// AlternatorSchemaPath is the Alternator schema file.
func AlternatorSchemaPath(clusterID, taskID uuid.UUID, tag string) string {
	return path.Join(SchemaClusterDir(clusterID), "task_"+taskID.String()+"_tag_"+tag+"_alternator_schema.json.gz")
}

// UnsafeSchemaPath is the legacy schema archive; only purge touches it.
func UnsafeSchemaPath(clusterID, taskID uuid.UUID, tag string) string {
	return path.Join(SchemaClusterDir(clusterID), "task_"+taskID.String()+"_tag_"+tag+"_schema.tar.gz")
}

// SchemaPaths lists every schema file of a snapshot (for purge).
func SchemaPaths(clusterID, taskID uuid.UUID, tag string) []string {
	return []string{
		SchemaPath(clusterID, taskID, tag),
		AlternatorSchemaPath(clusterID, taskID, tag),
		UnsafeSchemaPath(clusterID, taskID, tag),
	}
}

// SSTNodeDir is backup/sst/cluster/<c>/dc/<dc>/node/<n>: all data files
// of a node.
func SSTNodeDir(clusterID uuid.UUID, dc, nodeID string) string {
	return path.Join(sstDir, "cluster", clusterID.String(), "dc", dc, "node", nodeID)
}

// SSTTableDir is SSTNodeDir + keyspace/<ks>/table/<table>.
func SSTTableDir(clusterID uuid.UUID, dc, nodeID, keyspace, table string) string {
	return path.Join(SSTNodeDir(clusterID, dc, nodeID), "keyspace", keyspace, "table", table)
}

// SSTVersionDir is SSTTableDir + /<version>: where a table's files go.
func SSTVersionDir(clusterID uuid.UUID, dc, nodeID, keyspace, table, version string) string {
	return path.Join(SSTTableDir(clusterID, dc, nodeID, keyspace, table), version)
}

// ScyllaManifestName is the remote name of Scylla's own snapshot file
// name (e.g. "manifest.json"): tag_<tag>_node_<n>_<name>.
func ScyllaManifestName(tag, nodeID, name string) string {
	return "tag_" + tag + "_node_" + nodeID + "_" + name
}

// TableDirRe matches a table directory on a node, <table>-<32hex>.
var tableDirRe = regexp.MustCompile(`^([A-Za-z0-9_.-]+)-([a-f0-9]{32})$`)

// ParseTableDir splits a node's table directory name into table and
// version. ok is false for other names.
func ParseTableDir(name string) (table, version string, ok bool) {
	m := tableDirRe.FindStringSubmatch(name)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

var manifestPathRe = regexp.MustCompile(`^backup/meta/cluster/([0-9a-f-]{36})/dc/([^/]+)/node/([^/]+)/task_([0-9a-f-]{36})_tag_(sm_[0-9]{14}UTC)_manifest\.json\.gz(\.tmp)?$`)

// ManifestInfo is what a manifest path says.
type ManifestInfo struct {
	ClusterID   uuid.UUID
	DC          string
	NodeID      string
	TaskID      uuid.UUID
	SnapshotTag string
	// Temporary is true for a .tmp manifest (backup not finished).
	Temporary bool
}

// Path gives the manifest path back.
func (m ManifestInfo) Path() string {
	p := ManifestPath(m.ClusterID, m.DC, m.NodeID, m.TaskID, m.SnapshotTag)
	if m.Temporary {
		p += TempSuffix
	}
	return p
}

// SSTNodeDir is the node's data directory this manifest refers to.
func (m ManifestInfo) SSTNodeDir() string { return SSTNodeDir(m.ClusterID, m.DC, m.NodeID) }

// SchemaPaths are the schema files of the manifest's snapshot.
func (m ManifestInfo) SchemaPaths() []string {
	return SchemaPaths(m.ClusterID, m.TaskID, m.SnapshotTag)
}

// ParseManifestPath parses a manifest path (relative to the bucket) back
// into its parts. A leading "/" is tolerated. Anything else is an error;
// listings ignore such paths.
func ParseManifestPath(p string) (ManifestInfo, error) {
	p = strings.TrimPrefix(p, "/")
	m := manifestPathRe.FindStringSubmatch(p)
	if m == nil {
		return ManifestInfo{}, invalid("manifest path", "backup/meta/cluster/<uuid>/dc/<dc>/node/<node>/task_<uuid>_tag_sm_YYYYMMDDhhmmssUTC_manifest.json.gz[.tmp]", p)
	}
	c, err := uuid.Parse(m[1])
	if err != nil {
		return ManifestInfo{}, invalid("manifest path", "a cluster UUID", p)
	}
	t, err := uuid.Parse(m[4])
	if err != nil {
		return ManifestInfo{}, invalid("manifest path", "a task UUID", p)
	}
	if _, err := ParseSnapshotTag(m[5]); err != nil {
		return ManifestInfo{}, err
	}
	return ManifestInfo{ClusterID: c, DC: m[2], NodeID: m[3], TaskID: t, SnapshotTag: m[5], Temporary: m[6] != ""}, nil
}
