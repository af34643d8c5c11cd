package scyllatest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// sstableComponents are written for every simulated sstable, in TOC order.
var sstableComponents = []string{
	"CompressionInfo.db", "Data.db", "Digest.crc32", "Filter.db", "Index.db",
	"Scylla.db", "Statistics.db", "Summary.db", "TOC.txt",
}

// fixed sizes of the small components.
var componentSize = map[string]int64{
	"CompressionInfo.db": 48, "Filter.db": 32, "Scylla.db": 64,
	"Statistics.db": 160, "Summary.db": 96,
}

// sstableNameRe matches "<version>-<generation>-big-<component>".
var sstableNameRe = regexp.MustCompile(`^([a-z]{2})-([0-9]+|[0-9a-z]{4}_[0-9a-z]{4}_[0-9a-z]{18})-big-(.+)$`)

// genBase is the clock of UUID generations; each generation adds 1 ms.
var genBase = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// newGenerationLocked returns the next sstable generation of n, as an
// integer or as a UUID identifier depending on the cluster's options.
func (n *Node) newGenerationLocked() string {
	n.gen++
	if !n.c.opts.UUIDSSTableIdentifiers {
		return strconv.FormatInt(n.gen, 10)
	}
	return uuidGeneration(genBase.Add(time.Duration(n.gen)*time.Millisecond), n.rnd.Uint64())
}

// uuidGeneration encodes a time-UUID as Scylla's sstable identifier:
// days, seconds of the day and 100ns units of the second, then the UUID's
// low 64 bits, in base 36: "3gdq_0bki_2cvk01yeujwqnzcpnb".
func uuidGeneration(t time.Time, lsb uint64) string {
	u := timeUUID(t, lsb)
	sec, nsec := u.Time().UnixTime()
	pad := func(v uint64, w int) string {
		s := strconv.FormatUint(v, 36)
		return strings.Repeat("0", max(0, w-len(s))) + s
	}
	return pad(uint64(sec/86400), 4) + "_" + pad(uint64(sec%86400), 4) + "_" +
		pad(uint64(nsec/100), 5) + pad(binary.BigEndian.Uint64(u[8:]), 13)
}

// timeUUID builds a version-1 UUID for t with the given clock/node bits.
func timeUUID(t time.Time, lsb uint64) uuid.UUID {
	const gregorianOffset = 0x01B21DD213814000
	ts := uint64(t.UnixNano()/100) + gregorianOffset
	var u uuid.UUID
	binary.BigEndian.PutUint32(u[0:], uint32(ts))
	binary.BigEndian.PutUint16(u[4:], uint16(ts>>32))
	binary.BigEndian.PutUint16(u[6:], uint16(ts>>48)&0x0fff|0x1000)
	binary.BigEndian.PutUint64(u[8:], lsb&0x3fffffffffffffff|0x8000000000000000)
	return u
}

// sstablePrefix is "me-<gen>-big-".
func sstablePrefix(gen string) string { return "me-" + gen + "-big-" }

// contentRand returns the deterministic random source of one sstable.
func (n *Node) contentRand(parts ...string) *rand.Rand {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return rand.New(rand.NewPCG(n.c.opts.Seed, h.Sum64()))
}

// writeSSTableLocked writes one sstable of t into dir and returns its
// component file names.
func (n *Node) writeSSTableLocked(dir string, t *table, dataSize int64) ([]string, error) {
	gen := n.newGenerationLocked()
	prefix := sstablePrefix(gen)
	rnd := n.contentRand(n.IP, t.ks, t.name, gen)
	if dataSize <= 0 {
		dataSize = t.spec.DataSize
	}
	var names []string
	var digest uint32
	for _, comp := range sstableComponents {
		name := prefix + comp
		var body []byte
		switch comp {
		case "Data.db":
			body = randomBytes(rnd, dataSize)
			digest = crc32.ChecksumIEEE(body)
		case "Index.db":
			body = randomBytes(rnd, t.spec.IndexSize)
		case "Digest.crc32":
			body = []byte(strconv.FormatUint(uint64(digest), 10))
		case "TOC.txt":
			body = []byte(strings.Join(sstableComponents, "\n") + "\n")
		default:
			body = randomBytes(rnd, componentSize[comp])
		}
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
			return names, fmt.Errorf("scyllatest: write sstable: %w", err)
		}
		names = append(names, name)
	}
	n.writes[int(n.gen)%len(n.writes)] += dataSize / 64
	return names, nil
}

func randomBytes(rnd *rand.Rand, size int64) []byte {
	b := make([]byte, size+8)
	for i := int64(0); i < size; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], rnd.Uint64())
	}
	return b[:size]
}

// tableDir is the directory of t on n.
func (n *Node) tableDir(t *table) string {
	return filepath.Join(n.DataDir, t.ks, t.dirName())
}

// liveFiles lists the regular files directly in dir (the live sstables).
func liveFiles(dir string) ([]os.FileInfo, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []os.FileInfo
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed since the listing (a concurrent delete or compaction)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, fi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

func dirSize(dir string) (int64, error) {
	fis, err := liveFiles(dir)
	var s int64
	for _, fi := range fis {
		s += fi.Size()
	}
	return s, err
}

// createTableDirsLocked creates t's directory on every node and writes
// its initial sstables.
func (c *Cluster) createTableDirsLocked(t *table) error {
	for _, n := range c.nodes {
		if err := n.createTableDirLocked(t); err != nil {
			return err
		}
	}
	return nil
}

func (n *Node) createTableDirLocked(t *table) error {
	dir := n.tableDir(t)
	for _, d := range []string{dir, filepath.Join(dir, "upload"), filepath.Join(dir, "staging")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("scyllatest: create table dir: %w", err)
		}
	}
	for range t.spec.SSTables {
		if _, err := n.writeSSTableLocked(dir, t, 0); err != nil {
			return err
		}
	}
	return nil
}

// WriteData writes count new sstables of ks.table on node, as a flush
// after writes would, and returns the new file names.
func (c *Cluster) WriteData(node *Node, ks, tbl string, count int) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.tableLocked(ks, tbl)
	if err != nil {
		return nil, err
	}
	var all []string
	for range count {
		names, err := node.writeSSTableLocked(node.tableDir(t), t, 0)
		all = append(all, names...)
		if err != nil {
			return all, err
		}
	}
	return all, nil
}

// Compact replaces every live sstable of ks.table on node by a single new
// one holding their total data size, as a major compaction would. Files
// still linked from snapshots stay there. It returns the new file names.
func (c *Cluster) Compact(node *Node, ks, tbl string) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.tableLocked(ks, tbl)
	if err != nil {
		return nil, err
	}
	dir := node.tableDir(t)
	fis, err := liveFiles(dir)
	if err != nil {
		return nil, fmt.Errorf("scyllatest: compact: %w", err)
	}
	var total int64
	for _, fi := range fis {
		if strings.HasSuffix(fi.Name(), "-Data.db") {
			total += fi.Size()
		}
	}
	for _, fi := range fis {
		if sstableNameRe.MatchString(fi.Name()) {
			if err := os.Remove(filepath.Join(dir, fi.Name())); err != nil {
				return nil, fmt.Errorf("scyllatest: compact: %w", err)
			}
		}
	}
	if total == 0 {
		return nil, nil
	}
	return node.writeSSTableLocked(dir, t, total)
}

func (c *Cluster) tableLocked(ks, tbl string) (*table, error) {
	k, ok := c.keyspaces[ks]
	if !ok {
		return nil, fmt.Errorf("scyllatest: unknown keyspace %q", ks)
	}
	t, ok := k.tables[tbl]
	if !ok {
		return nil, fmt.Errorf("scyllatest: unknown table %q.%q", ks, tbl)
	}
	return t, nil
}
