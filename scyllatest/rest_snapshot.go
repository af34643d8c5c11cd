package scyllatest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

type snapshotDetail struct {
	KS    string `json:"ks"`
	CF    string `json:"cf"`
	Total int64  `json:"total"`
	Live  int64  `json:"live"`
}

type snapshotsEntry struct {
	Key   string           `json:"key"`
	Value []snapshotDetail `json:"value"`
}

// Snapshot describes one snapshot of one table on a node.
type Snapshot struct {
	Tag, Keyspace, Table string
	// Dir is the snapshot directory.
	Dir string
	// Files are the file names in Dir, sorted (manifest.json and
	// schema.cql included).
	Files []string
}

// Snapshots lists the snapshots on node, sorted by tag, keyspace, table.
func (c *Cluster) Snapshots(node *Node) ([]Snapshot, error) {
	c.mu.Lock()
	tables := c.allTablesLocked()
	c.mu.Unlock()
	var out []Snapshot
	for _, t := range tables {
		sdir := filepath.Join(node.tableDir(t), "snapshots")
		ents, err := os.ReadDir(sdir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("scyllatest: snapshots: %w", err)
		}
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			dir := filepath.Join(sdir, e.Name())
			fis, err := liveFiles(dir)
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted since the listing
			}
			if err != nil {
				return nil, fmt.Errorf("scyllatest: snapshots: %w", err)
			}
			s := Snapshot{Tag: e.Name(), Keyspace: t.ks, Table: t.name, Dir: dir}
			for _, fi := range fis {
				s.Files = append(s.Files, fi.Name())
			}
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Tag != b.Tag {
			return a.Tag < b.Tag
		}
		if a.Keyspace != b.Keyspace {
			return a.Keyspace < b.Keyspace
		}
		return a.Table < b.Table
	})
	return out, nil
}

func (c *Cluster) allTablesLocked() []*table {
	var out []*table
	for _, k := range c.sortedKeyspacesLocked() {
		out = append(out, sortedTables(k)...)
	}
	return out
}

func (n *Node) getSnapshots(w http.ResponseWriter, _ *http.Request) {
	snaps, err := n.c.Snapshots(n)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	out := []snapshotsEntry{}
	for _, s := range snaps {
		var total, live int64
		for _, f := range s.Files {
			fi, err := os.Stat(filepath.Join(s.Dir, f))
			if err != nil {
				continue
			}
			total += fi.Size()
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink <= 1 {
				live += fi.Size()
			}
		}
		d := snapshotDetail{KS: s.Keyspace, CF: s.Table, Total: total, Live: live}
		if len(out) > 0 && out[len(out)-1].Key == s.Tag {
			out[len(out)-1].Value = append(out[len(out)-1].Value, d)
		} else {
			out = append(out, snapshotsEntry{Key: s.Tag, Value: []snapshotDetail{d}})
		}
	}
	writeJSON(w, out)
}

// targetTables resolves the kn/cf parameters of snapshot calls.
func (c *Cluster) targetTablesLocked(kn, cf string) ([]*table, error) {
	kss := splitList(kn)
	cfs := splitList(cf)
	if len(cfs) > 0 && len(kss) != 1 {
		return nil, fmt.Errorf("cf requires exactly one keyspace in kn, got %q", kn)
	}
	if len(kss) == 0 {
		for _, k := range c.sortedKeyspacesLocked() {
			kss = append(kss, k.name)
		}
	}
	var out []*table
	for _, ks := range kss {
		k, ok := c.keyspaces[ks]
		if !ok {
			return nil, fmt.Errorf("Keyspace %s does not exist", ks) //nolint:staticcheck // Scylla's message
		}
		if len(cfs) == 0 {
			out = append(out, sortedTables(k)...)
			continue
		}
		for _, name := range cfs {
			t, ok := k.tables[name]
			if !ok {
				return nil, fmt.Errorf("Table %s.%s does not exist", ks, name) //nolint:staticcheck // Scylla's message
			}
			out = append(out, t)
		}
	}
	return out, nil
}

func (n *Node) postSnapshot(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	tag := q.Get("tag")
	if tag == "" || strings.ContainsAny(tag, "/\\") || tag == "." || tag == ".." {
		writeError(w, http.StatusBadRequest, "You must supply a snapshot name (a single path element), got %q", tag)
		return
	}
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	tables, err := n.c.targetTablesLocked(q.Get("kn"), q.Get("cf"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	for _, t := range tables {
		if _, err := os.Stat(filepath.Join(n.tableDir(t), "snapshots", tag)); err == nil {
			writeError(w, http.StatusInternalServerError, "Keyspace %s: snapshot %s already exists.", t.ks, tag)
			return
		}
	}
	for _, t := range tables {
		if err := n.snapshotTableLocked(t, tag); err != nil {
			writeError(w, http.StatusInternalServerError, "%v", err)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

// snapshotTableLocked hard-links t's live files into snapshots/<tag> and
// writes Scylla's manifest.json and schema.cql there.
func (n *Node) snapshotTableLocked(t *table, tag string) error {
	dir := n.tableDir(t)
	sdir := filepath.Join(dir, "snapshots", tag)
	if err := os.MkdirAll(sdir, 0o755); err != nil {
		return fmt.Errorf("scyllatest: snapshot: %w", err)
	}
	fis, err := liveFiles(dir)
	if err != nil {
		return fmt.Errorf("scyllatest: snapshot: %w", err)
	}
	files := []string{}
	var sstables []map[string]any
	for _, fi := range fis {
		if err := os.Link(filepath.Join(dir, fi.Name()), filepath.Join(sdir, fi.Name())); err != nil {
			return fmt.Errorf("scyllatest: snapshot: %w", err)
		}
		files = append(files, fi.Name())
		if m := sstableNameRe.FindStringSubmatch(fi.Name()); m != nil && m[3] == "TOC.txt" {
			sstables = append(sstables, map[string]any{"id": m[2], "toc_name": fi.Name()})
		}
	}
	manifest := map[string]any{
		"manifest": map[string]any{"version": "1.0", "scope": "node"},
		"node":     map[string]any{"host_id": n.HostID.String(), "datacenter": n.DC, "rack": n.Rack},
		"snapshot": map[string]any{"name": tag, "created_at": time.Now().Unix()},
		"table":    map[string]any{"keyspace_name": t.ks, "table_name": t.name, "table_id": t.id.String(), "tablets_type": "none"},
		"sstables": sstables,
		"files":    files,
	}
	b, _ := json.MarshalIndent(manifest, "", "  ")
	if err := os.WriteFile(filepath.Join(sdir, "manifest.json"), b, 0o644); err != nil {
		return fmt.Errorf("scyllatest: snapshot: %w", err)
	}
	if err := os.WriteFile(filepath.Join(sdir, "schema.cql"), []byte(t.createStatement()+"\n"), 0o644); err != nil {
		return fmt.Errorf("scyllatest: snapshot: %w", err)
	}
	return nil
}

func (n *Node) deleteSnapshot(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	tag := q.Get("tag")
	if strings.ContainsAny(tag, "/\\") || tag == "." || tag == ".." {
		writeError(w, http.StatusBadRequest, "Invalid snapshot name %q", tag)
		return
	}
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	tables, err := n.c.targetTablesLocked(q.Get("kn"), q.Get("cf"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	for _, t := range tables {
		p := filepath.Join(n.tableDir(t), "snapshots")
		if tag != "" {
			p = filepath.Join(p, tag)
		}
		if err := os.RemoveAll(p); err != nil {
			writeError(w, http.StatusInternalServerError, "%v", err)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}
