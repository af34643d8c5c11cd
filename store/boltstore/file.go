package boltstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"

	"github.com/scyllaops/scyllaops/store"
)

// ErrInUse is the cause of Open's error when another process (or another
// Store of this process) has the file open: bbolt holds an exclusive lock
// on it for as long as it is open.
var ErrInUse = errors.New("boltstore: file in use by another process")

// ErrCorrupt is the cause of Open's error when the file is truncated, is
// not a store file, or its pages do not hold together.
var ErrCorrupt = errors.New("boltstore: file is corrupt")

// Layout of a bbolt file, as far as checkFile reads it: two meta pages at
// the start of the file, each a 16-byte page header then the meta record
// (little-endian on every platform this module builds for).
const (
	pageHeaderSize = 16
	metaSize       = 64
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
)

type fileMeta struct {
	pageSize uint32
	hwm      uint64 // high-water mark: pages in use
	txid     uint64
}

// parseMeta decodes and checks one meta record.
func parseMeta(b []byte) (fileMeta, bool) {
	if len(b) < metaSize {
		return fileMeta{}, false
	}
	le := binary.LittleEndian
	if le.Uint32(b[0:]) != boltMagic || le.Uint32(b[4:]) != boltVersion {
		return fileMeta{}, false
	}
	h := fnv.New64a()
	_, _ = h.Write(b[:56])
	if h.Sum64() != le.Uint64(b[56:]) {
		return fileMeta{}, false
	}
	return fileMeta{pageSize: le.Uint32(b[8:]), hwm: le.Uint64(b[40:]), txid: le.Uint64(b[48:])}, true
}

// checkFile refuses, before bbolt maps it, a file whose meta pages are
// both bad or whose size is smaller than the pages its newest good meta
// page says are in use (a truncated copy): bbolt would panic, or fault on
// the mapping, reading it. An absent or empty file is fine (Open
// initializes it).
func checkFile(path string) error {
	f, err := os.Open(path) //nolint:gosec // the caller's store path
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() == 0 {
		return nil
	}
	head := make([]byte, pageHeaderSize+metaSize)
	if _, err := io.ReadFull(f, head); err != nil {
		return corrupt(path, fmt.Sprintf("%d bytes is too short for a store file", fi.Size()))
	}
	var best fileMeta
	ok0 := false
	if m, ok := parseMeta(head[pageHeaderSize:]); ok {
		best, ok0 = m, true
	}
	// The second meta page sits one page further; take the page size from
	// whichever meta is readable (the first may be the damaged one).
	for _, ps := range []int64{int64(best.pageSize), 4096, 8192, 16384, 65536} {
		if ps <= 0 || ps > fi.Size() {
			continue
		}
		b := make([]byte, pageHeaderSize+metaSize)
		if _, err := f.ReadAt(b, ps); err != nil {
			continue
		}
		if m, ok := parseMeta(b[pageHeaderSize:]); ok && int64(m.pageSize) == ps {
			if !ok0 || m.txid > best.txid {
				best = m
			}
			ok0 = true
			break
		}
	}
	if !ok0 {
		return corrupt(path, "no valid meta page (not a store file, or overwritten)")
	}
	if need := int64(best.hwm) * int64(best.pageSize); need > fi.Size() {
		return corrupt(path, fmt.Sprintf("truncated: %d bytes, its pages need %d", fi.Size(), need))
	}
	return nil
}

func corrupt(path, why string) error {
	return fmt.Errorf("%w: %s: %s; restore it from a copy made with the store backup "+
		"(see README \"Backing up the store\") or move it away to start with an empty store", ErrCorrupt, path, why)
}

// WriteTo writes a consistent copy of the whole store file to w while the
// store stays open for reads and writes: the copy is one read-only
// transaction's view (bbolt's Tx.WriteTo), so it holds every write
// committed before it started and none after. It returns the bytes
// written. The copy opens with Open like the original.
func (s *Store) WriteTo(ctx context.Context, w io.Writer) (int64, error) {
	if err := s.begin(ctx); err != nil {
		return 0, err
	}
	var n int64
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(&ctxWriter{ctx: ctx, w: w})
		return err
	})
	if err != nil {
		return n, fmt.Errorf("boltstore: backup: %w", wrap(err))
	}
	return n, nil
}

// BackupFile writes a consistent copy of the store (see WriteTo) to path,
// atomically: to a temporary file in the same directory, fsynced, then
// renamed, so path holds either a whole copy or what it held before. The
// file gets mode 0600. It returns the copy's size.
func (s *Store) BackupFile(ctx context.Context, path string) (int64, error) {
	if path == "" {
		return 0, fmt.Errorf("boltstore: %w", store.Invalid("backup path", "a file path, e.g. /var/backups/state.db", ""))
	}
	abs, err1 := filepath.Abs(path)
	own, err2 := filepath.Abs(s.Path())
	if err1 == nil && err2 == nil && abs == own {
		return 0, fmt.Errorf("boltstore: %w", store.Invalid("backup path", "a path other than the store file itself", path))
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return 0, fmt.Errorf("boltstore: backup: %w", err)
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone after the rename
	n, err := s.WriteTo(ctx, tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return 0, fmt.Errorf("boltstore: backup to %s: %w", path, err)
	}
	return n, nil
}

// ctxWriter stops a long copy when ctx is done.
type ctxWriter struct {
	ctx context.Context //nolint:containedctx // an io.Writer for Tx.WriteTo, which takes no context
	w   io.Writer
}

func (c *ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
