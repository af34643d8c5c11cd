package backupspec

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"

	"github.com/google/uuid"
)

// ManifestVersion is the only manifest version written and read.
const ManifestVersion = "v2"

// Replication types of FilesMeta.ReplicationType.
const (
	ReplicationVnodes  = "vnodes"
	ReplicationTablets = "tablets"
)

// InstanceDetails says where a node runs.
type InstanceDetails struct {
	CloudProvider string `json:"cloud_provider,omitempty"`
	InstanceType  string `json:"instance_type,omitempty"`
}

// Manifest is the v2 manifest of one node's snapshot, without its index.
type Manifest struct {
	Version         string          `json:"version"`
	ScyllaVersion   string          `json:"scylla_version"`
	ClusterName     string          `json:"cluster_name"`
	IP              string          `json:"ip"`
	Size            int64           `json:"size"`
	Tokens          []int64         `json:"tokens"`
	Schema          string          `json:"schema"`
	Rack            string          `json:"rack"`
	ShardCount      int             `json:"shard_count"`
	CPUCount        int             `json:"cpu_count"`
	StorageSize     uint64          `json:"storage_size"`
	InstanceDetails InstanceDetails `json:"instance_details"`
	DC              string          `json:"dc"`
	ClusterID       uuid.UUID       `json:"cluster_id"`
	NodeID          string          `json:"node_id"`
	TaskID          uuid.UUID       `json:"task_id"`
	SnapshotTag     string          `json:"snapshot_tag"`
}

// FilesMeta is one table's entry of a manifest index.
type FilesMeta struct {
	Keyspace        string `json:"keyspace"`
	Table           string `json:"table"`
	ReplicationType string `json:"replication_type"`
	Version         string `json:"version"`
	// Files are base names in the table's SSTVersionDir.
	Files []string `json:"files"`
	Size  int64    `json:"size"`
	// ScyllaManifests are the renamed Scylla manifest names
	// (ScyllaManifestName) in the same directory.
	ScyllaManifests []string `json:"scylla_manifests"`
	Path            string   `json:"path,omitempty"`
}

// ManifestWithIndex is a whole manifest document.
type ManifestWithIndex struct {
	Manifest
	Index []FilesMeta `json:"index"`
}

// Info returns the path parts of the manifest (Temporary false).
func (m *Manifest) Info() ManifestInfo {
	return ManifestInfo{ClusterID: m.ClusterID, DC: m.DC, NodeID: m.NodeID, TaskID: m.TaskID, SnapshotTag: m.SnapshotTag}
}

// RemoteFiles returns the paths (relative to the bucket) of every file fm
// references: its SSTable files and renamed Scylla manifests, as stored
// for the node of m.
func (m *Manifest) RemoteFiles(fm FilesMeta) []string {
	dir := SSTVersionDir(m.ClusterID, m.DC, m.NodeID, fm.Keyspace, fm.Table, fm.Version)
	out := make([]string, 0, len(fm.Files)+len(fm.ScyllaManifests))
	for _, f := range fm.Files {
		out = append(out, path.Join(dir, f))
	}
	for _, f := range fm.ScyllaManifests {
		out = append(out, path.Join(dir, f))
	}
	return out
}

// WriteManifest writes m as one gzip-compressed JSON document.
func WriteManifest(w io.Writer, m *ManifestWithIndex) error {
	if m.Version == "" {
		return errors.New("backupspec: manifest version is empty")
	}
	zw := gzip.NewWriter(w)
	enc := json.NewEncoder(zw)
	if err := enc.Encode(m); err != nil {
		return fmt.Errorf("backupspec: encode manifest: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("backupspec: gzip manifest: %w", err)
	}
	return nil
}

// ReadManifest decodes a gzip JSON manifest from r, streaming: visit is
// called with each index entry in order as it is decoded, so a manifest
// with millions of files never sits in memory whole. visit may be nil. A
// non-nil error from visit stops decoding and is returned as is. The
// header fields are returned whatever their position in the document.
func ReadManifest(r io.Reader, visit func(FilesMeta) error) (*Manifest, error) {
	zr, err := gzip.NewReader(bufio.NewReader(r))
	if err != nil {
		return nil, fmt.Errorf("backupspec: manifest gzip: %w", err)
	}
	defer zr.Close()
	m := &Manifest{}
	if err := decodeManifest(json.NewDecoder(zr), m, visit); err != nil {
		return nil, err
	}
	if m.Version != ManifestVersion {
		return nil, fmt.Errorf("backupspec: manifest version %q: want %q", m.Version, ManifestVersion)
	}
	return m, nil
}

// ReadManifestAll decodes a whole manifest, index included.
func ReadManifestAll(r io.Reader) (*ManifestWithIndex, error) {
	var idx []FilesMeta
	m, err := ReadManifest(r, func(fm FilesMeta) error { idx = append(idx, fm); return nil })
	if err != nil {
		return nil, err
	}
	return &ManifestWithIndex{Manifest: *m, Index: idx}, nil
}

type visitError struct{ err error }

func (v visitError) Error() string { return v.err.Error() }
func (v visitError) Unwrap() error { return v.err }

func decodeManifest(dec *json.Decoder, m *Manifest, visit func(FilesMeta) error) error {
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	fields := map[string]any{
		"version": &m.Version, "scylla_version": &m.ScyllaVersion, "cluster_name": &m.ClusterName,
		"ip": &m.IP, "size": &m.Size, "tokens": &m.Tokens, "schema": &m.Schema, "rack": &m.Rack,
		"shard_count": &m.ShardCount, "cpu_count": &m.CPUCount, "storage_size": &m.StorageSize,
		"instance_details": &m.InstanceDetails, "dc": &m.DC, "cluster_id": &m.ClusterID,
		"node_id": &m.NodeID, "task_id": &m.TaskID, "snapshot_tag": &m.SnapshotTag,
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("backupspec: manifest: %w", err)
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("backupspec: manifest: unexpected token %v", tok)
		}
		if key == "index" {
			if err := decodeIndex(dec, visit); err != nil {
				var ve visitError
				if errors.As(err, &ve) {
					return ve.err
				}
				return err
			}
			continue
		}
		dst, known := fields[key]
		if !known {
			var skip json.RawMessage
			dst = &skip
		}
		if err := dec.Decode(dst); err != nil {
			return fmt.Errorf("backupspec: manifest field %q: %w", key, err)
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return err
	}
	return nil
}

func decodeIndex(dec *json.Decoder, visit func(FilesMeta) error) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("backupspec: manifest index: %w", err)
	}
	if tok == nil { // "index": null
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return fmt.Errorf("backupspec: manifest index: want an array, got %v", tok)
	}
	for dec.More() {
		var fm FilesMeta
		if err := dec.Decode(&fm); err != nil {
			return fmt.Errorf("backupspec: manifest index entry: %w", err)
		}
		if visit != nil {
			if err := visit(fm); err != nil {
				return visitError{err}
			}
		}
	}
	return expectDelim(dec, ']')
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("backupspec: manifest: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("backupspec: manifest: want %q, got %v", want, tok)
	}
	return nil
}
