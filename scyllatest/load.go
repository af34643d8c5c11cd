package scyllatest

import (
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/scyllaops/scyllaops/internal/ring"
)

// Loading sstables from a table's upload/ directory
// (POST /storage_service/sstables/{keyspace}?cf=…).
//
// Each sstable of the simulation stands for one partition: its token is
// derived from the content of its Data.db (tokenOf). With
// load_and_stream=true the sstable is streamed to the nodes that own that
// token in the keyspace's current ring (only the primary replica with
// primary_replica_only=true); with load_and_stream=false it is loaded
// into the node's own table directory, as nodetool refresh does. Every
// landed copy gets a new generation on its node. The cluster keeps one
// LoadedSSTable per loaded sstable, so tests can check where each one
// went and that nothing was loaded twice.

// LoadRecord describes one finished storage_service/sstables call.
type LoadRecord struct {
	Host, Keyspace, Table string
	// SSTables and Bytes loaded from the upload directory.
	SSTables int
	Bytes    int64
	// LoadAndStream and PrimaryReplicaOnly echo the call's parameters.
	LoadAndStream, PrimaryReplicaOnly bool
	// AutoCompaction is whether auto-compaction of the table was enabled
	// on the node when the load started.
	AutoCompaction bool
}

// LoadedSSTable is one sstable taken from an upload/ directory.
type LoadedSSTable struct {
	// Host is the node whose upload/ directory held it.
	Host, Keyspace, Table string
	// Name is the sstable's Data.db file name in the upload directory.
	Name string
	// DataCRC32 is the IEEE CRC-32 of its Data.db; Bytes the size of all
	// its components.
	DataCRC32 uint32
	Bytes     int64
	// Token is the token the simulation gives its data.
	Token int64
	// Landed are the nodes (IPs) that received a copy, in replica order.
	Landed []string
}

// LoadsInProgress returns the number of storage_service/sstables calls
// being served, on all nodes.
func (c *Cluster) LoadsInProgress() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, x := range c.nodes {
		n += len(x.loading)
	}
	return n
}

// slowLoad spends the time the node's slow disk (SlowDisk) needs to load
// total bytes. Like Scylla, the node finishes a load whose caller went
// away (a manager killed mid-load): only the node's shutdown (Close)
// interrupts it, reported as false. A SlowDisk change applies at once.
func (n *Node) slowLoad(total int64) bool {
	start := time.Now()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		n.c.mu.Lock()
		rate, closing := n.slowDisk, n.c.closing
		n.c.mu.Unlock()
		if closing {
			return false
		}
		if rate <= 0 || time.Since(start) >= time.Duration(float64(total)/float64(rate)*float64(time.Second)) {
			return true
		}
		<-tick.C
	}
}

// Loads returns every finished load of sstables, in completion order.
func (c *Cluster) Loads() []LoadRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]LoadRecord(nil), c.loaded...)
}

// LoadedSSTables returns every sstable loaded so far, in load order.
func (c *Cluster) LoadedSSTables() []LoadedSSTable {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]LoadedSSTable, len(c.loadedSSTables))
	for i, l := range c.loadedSSTables {
		l.Landed = append([]string(nil), l.Landed...)
		out[i] = l
	}
	return out
}

// SSTableToken is the token the simulation gives an sstable whose Data.db
// holds data: the first 8 bytes of its FNV-1a hash as a signed token.
func SSTableToken(data []byte) int64 {
	h := fnv.New64a()
	h.Write(data)
	return int64(h.Sum64()) //nolint:gosec // a token is any int64
}

// ReplicasOf returns the replicas of token among ranges, primary first
// (ranges are (Start, End], the one with Start >= End wraps around).
func ReplicasOf(ranges []ring.Range, token int64) []string {
	for _, r := range ranges {
		if r.Start < r.End {
			if token > r.Start && token <= r.End {
				return r.Replicas
			}
			continue
		}
		if token > r.Start || token <= r.End {
			return r.Replicas
		}
	}
	return nil
}

type uploadBundle struct {
	version string
	comps   []string // component file names
	size    int64
}

func (n *Node) postLoadSSTables(w http.ResponseWriter, r *http.Request) {
	ks := r.PathValue("keyspace")
	cf := r.URL.Query().Get("cf")
	if cf == "" {
		writeError(w, http.StatusBadRequest, "Missing mandatory parameter 'cf'")
		return
	}
	stream := r.URL.Query().Get("load_and_stream") == "true"
	primaryOnly := r.URL.Query().Get("primary_replica_only") == "true"
	key := ks + ":" + cf
	n.c.mu.Lock()
	t, err := n.c.tableLocked(ks, cf)
	if err != nil {
		n.c.mu.Unlock()
		writeError(w, http.StatusBadRequest, "No such column family: %s", key)
		return
	}
	if n.loading[key] {
		n.c.mu.Unlock()
		writeError(w, http.StatusInternalServerError, "Already loading SSTables for %s. Try again later.", key)
		return
	}
	n.loading[key] = true
	enabled, set := n.autocompaction[key]
	autoCompaction := enabled || !set
	n.c.mu.Unlock()
	defer func() {
		n.c.mu.Lock()
		delete(n.loading, key)
		n.c.mu.Unlock()
	}()

	up := filepath.Join(n.tableDir(t), "upload")
	bundles, ids, total, err := uploadBundles(up)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	if !n.slowLoad(total) {
		writeError(w, http.StatusInternalServerError, "load of %s interrupted: the node shut down", key)
		return
	}
	var ranges []ring.Range
	if stream {
		if ranges, _, err = n.c.describeRing(ks, n.IP); err != nil {
			writeError(w, http.StatusInternalServerError, "%v", err)
			return
		}
	}
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	for _, id := range ids {
		rec, err := n.loadBundleLocked(t, up, bundles[id], stream, primaryOnly, ranges)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "%v", err)
			return
		}
		n.c.loadedSSTables = append(n.c.loadedSSTables, rec)
	}
	n.c.loaded = append(n.c.loaded, LoadRecord{Host: n.IP, Keyspace: ks, Table: cf, SSTables: len(ids), Bytes: total,
		LoadAndStream: stream, PrimaryReplicaOnly: primaryOnly, AutoCompaction: autoCompaction})
	w.WriteHeader(http.StatusOK)
}

// uploadBundles groups the sstable files of dir by generation.
func uploadBundles(dir string) (map[string]*uploadBundle, []string, int64, error) {
	fis, err := liveFiles(dir)
	if err != nil {
		return nil, nil, 0, err
	}
	bundles := map[string]*uploadBundle{}
	var ids []string
	var total int64
	for _, fi := range fis {
		m := sstableNameRe.FindStringSubmatch(fi.Name())
		if m == nil {
			continue
		}
		b := bundles[m[2]]
		if b == nil {
			b = &uploadBundle{version: m[1]}
			bundles[m[2]] = b
			ids = append(ids, m[2])
		}
		b.comps = append(b.comps, fi.Name())
		b.size += fi.Size()
		total += fi.Size()
	}
	sort.Strings(ids)
	return bundles, ids, total, nil
}

// loadBundleLocked copies the bundle b of upload dir up to the nodes that
// own it (or to n) under new generations, then removes it from up.
func (n *Node) loadBundleLocked(t *table, up string, b *uploadBundle, stream, primaryOnly bool, ranges []ring.Range) (LoadedSSTable, error) {
	rec := LoadedSSTable{Host: n.IP, Keyspace: t.ks, Table: t.name, Bytes: b.size}
	for _, name := range b.comps {
		if m := sstableNameRe.FindStringSubmatch(name); m[3] == "Data.db" {
			data, err := os.ReadFile(filepath.Join(up, name))
			if err != nil {
				return rec, err
			}
			rec.Name, rec.DataCRC32, rec.Token = name, crc32.ChecksumIEEE(data), SSTableToken(data)
		}
	}
	targets := []*Node{n}
	if stream {
		reps := ReplicasOf(ranges, rec.Token)
		if primaryOnly && len(reps) > 1 {
			reps = reps[:1]
		}
		targets = targets[:0]
		for _, ip := range reps {
			if x := n.c.byIP[ip]; x != nil {
				targets = append(targets, x)
			}
		}
		if len(targets) == 0 {
			return rec, fmt.Errorf("no replica owns token %d of %s.%s", rec.Token, t.ks, t.name)
		}
	}
	for _, x := range targets {
		gen := x.newGenerationLocked()
		dir := x.tableDir(t)
		for _, name := range b.comps {
			m := sstableNameRe.FindStringSubmatch(name)
			if err := copyFile(filepath.Join(up, name), filepath.Join(dir, b.version+"-"+gen+"-big-"+m[3])); err != nil {
				return rec, err
			}
		}
		rec.Landed = append(rec.Landed, x.IP)
	}
	for _, name := range b.comps {
		if err := os.Remove(filepath.Join(up, name)); err != nil {
			return rec, err
		}
	}
	return rec, nil
}

func copyFile(src, dst string) error {
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}
