package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/scyllaops/scyllaops/store"
)

var (
	_ store.Store           = (*Store)(nil)
	_ store.ProgressBatcher = (*Store)(nil)
)

// Bucket names.
var (
	bClusters    = []byte("clusters")
	bNames       = []byte("cluster_names")
	bSecrets     = []byte("secrets")
	bTasks       = []byte("tasks")
	bTaskIDs     = []byte("task_ids")
	bRuns        = []byte("runs")
	bUnfinished  = []byte("unfinished")
	bProgress    = []byte("progress")
	bEvents      = []byte("events")
	bEventExpiry = []byte("event_expiry")
	bLeases      = []byte("leases")
	bMeta        = []byte("meta")
)

var allBuckets = [][]byte{
	bClusters, bNames, bSecrets, bTasks, bTaskIDs, bRuns, bUnfinished,
	bProgress, bEvents, bEventExpiry, bLeases, bMeta,
}

// schemaVersion is stored under meta/version; Open refuses other versions.
const schemaVersion = "1"

// present is the value of index entries.
var present = []byte{1}

// DefaultTimeout is the default of Options.Timeout.
const DefaultTimeout = 250 * time.Millisecond

// Options tunes Open. The zero value is valid.
type Options struct {
	// Timeout is how long Open waits for the file lock when another
	// Store (in this or another process) has the file open; then Open
	// fails with ErrInUse. Default: 250ms (a lock held that long is held
	// by a running server, not by one closing).
	Timeout time.Duration
	// FileMode is the permission of a file Open creates. Default: 0600.
	FileMode os.FileMode
	// Logger receives open/close and housekeeping messages. Default:
	// nil, which discards them.
	Logger *slog.Logger
}

// Validate reports whether the options are usable.
func (o Options) Validate() error {
	if o.Timeout < 0 {
		return fmt.Errorf("boltstore: %w", store.Invalid("options.timeout", "a duration >= 0 (0 = default 250ms)", o.Timeout.String()))
	}
	if o.FileMode&^os.ModePerm != 0 {
		return fmt.Errorf("boltstore: %w", store.Invalid("options.file_mode", "permission bits only, e.g. 0600", o.FileMode.String()))
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.FileMode == 0 {
		o.FileMode = 0o600
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Store is a store.Store in a bbolt file. Create it with Open.
type Store struct {
	db     *bolt.DB
	log    *slog.Logger
	closed atomic.Bool
}

// Open opens (creating if needed) the store file at path; its directory
// must exist. ctx is checked before and after opening; the wait for the
// file lock is bounded by Options.Timeout, not by ctx. The caller must
// Close the store.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if path == "" {
		return nil, fmt.Errorf("boltstore: %w", store.Invalid("path", "a file path, e.g. /var/lib/scyllaops/store.db", ""))
	}
	opts = opts.withDefaults()
	if err := checkFile(path); err != nil {
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	db, err := openDB(path, opts)
	if err != nil {
		return nil, err
	}
	err = safely(path, func() error { return db.Update(initTx) })
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	log := opts.Logger.With("component", "boltstore", "path", path)
	log.Info("store opened")
	return &Store{db: db, log: log}, nil
}

// openDB opens the bbolt file, naming a held lock and a damaged file.
func openDB(path string, opts Options) (*bolt.DB, error) {
	var db *bolt.DB
	err := safely(path, func() error {
		var err error
		db, err = bolt.Open(path, opts.FileMode, &bolt.Options{Timeout: opts.Timeout})
		return err
	})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("boltstore: open %s: %w (another scyllaops server on the same data directory?); "+
			"stop it, or give this one another data directory: %w", path, ErrInUse, err)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch):
		return nil, fmt.Errorf("boltstore: open %s: %w", path, corrupt(path, err.Error()))
	case err != nil:
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	return db, nil
}

// safely runs fn, turning a bbolt panic (it panics on some damaged
// pages) into an ErrCorrupt error.
func safely(path string, fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = corrupt(path, fmt.Sprint(p))
		}
	}()
	return fn()
}

// initTx creates the buckets and checks the schema version.
func initTx(tx *bolt.Tx) error {
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	meta := tx.Bucket(bMeta)
	switch v := meta.Get([]byte("version")); {
	case v == nil:
		return meta.Put([]byte("version"), []byte(schemaVersion))
	case string(v) != schemaVersion:
		return fmt.Errorf("file has schema version %q, this build reads %q", v, schemaVersion)
	}
	return nil
}

// Close closes the file after the transactions in flight end. It is
// idempotent; later calls of any other method return store.ErrClosed.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("boltstore: close: %w", err)
	}
	s.log.Info("store closed")
	return nil
}

// Path returns the path of the store file.
func (s *Store) Path() string { return s.db.Path() }

// begin checks ctx and whether the store is closed.
func (s *Store) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return fmt.Errorf("boltstore: %w", store.ErrClosed)
	}
	return nil
}

// update runs fn in one read-write transaction; fn's error aborts it.
func (s *Store) update(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	return wrap(s.db.Update(fn))
}

// view runs fn in a read-only transaction.
func (s *Store) view(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	return wrap(s.db.View(fn))
}

func wrap(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, berrors.ErrDatabaseNotOpen):
		return fmt.Errorf("boltstore: %w", store.ErrClosed)
	}
	return fmt.Errorf("boltstore: %w", err)
}

// invalid wraps a validation error.
func invalid(err error) error { return fmt.Errorf("boltstore: %w", err) }

func notFound(what string, id any) error {
	return fmt.Errorf("%s %v: %w", what, id, store.ErrNotFound)
}

// Keys.

// uuidTime is the 60-bit timestamp of a version-1 UUID, 8 bytes
// big-endian, so that byte order is time order.
func uuidTime(id uuid.UUID) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(id.Time()))
	return b[:]
}

func cat(parts ...[]byte) []byte {
	return bytes.Join(parts, nil)
}

func runKey(taskID, runID uuid.UUID) []byte {
	return cat(taskID[:], uuidTime(runID), runID[:])
}

func unfinishedKey(taskID, runID uuid.UUID) []byte {
	return cat(uuidTime(runID), runID[:], taskID[:])
}

func taskKey(clusterID, taskID uuid.UUID) []byte { return cat(clusterID[:], taskID[:]) }

func eventKey(e *store.Event) []byte {
	return cat(e.ClusterID[:], uuidTime(e.ID), e.ID[:])
}

// timeKey encodes t so that byte order is time order, also before 1970.
func timeKey(t time.Time) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(t.UnixNano())^(1<<63))
	return b[:]
}

// prefixScan calls fn for every key with prefix, in key order. fn must not
// modify the bucket.
func prefixScan(b *bolt.Bucket, prefix []byte, fn func(k, v []byte) error) error {
	c := b.Cursor()
	first := func() ([]byte, []byte) {
		if len(prefix) == 0 {
			return c.First()
		}
		return c.Seek(prefix)
	}
	for k, v := first(); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

// deletePrefix deletes every key with prefix and returns the deleted keys.
func deletePrefix(b *bolt.Bucket, prefix []byte) ([][]byte, error) {
	var keys [][]byte
	_ = prefixScan(b, prefix, func(k, _ []byte) error {
		keys = append(keys, bytes.Clone(k))
		return nil
	})
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// Values. JSON, with the json.RawMessage fields as []byte (base64) so
// that any bytes, and nil, round-trip.

type taskJSON struct {
	*store.Task
	Properties []byte
}

type runJSON struct {
	*store.Run
	Properties []byte
}

type progressJSON struct {
	*store.Progress
	Data []byte
}

type leaseJSON struct {
	Owner   string    `json:"owner"` // "" once released
	Fence   int64     `json:"fence"`
	Expires time.Time `json:"expires"`
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode record %x: %w", key, err)
	}
	return b.Put(key, data)
}

func decode(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode record: %w", err)
	}
	return nil
}

func encodeTask(t *store.Task) taskJSON { return taskJSON{Task: t, Properties: t.Properties} }

func decodeTask(data []byte) (*store.Task, error) {
	t := new(store.Task)
	rec := taskJSON{Task: t}
	if err := decode(data, &rec); err != nil {
		return nil, err
	}
	t.Properties = rec.Properties
	return t, nil
}

func encodeRun(r *store.Run) runJSON { return runJSON{Run: r, Properties: r.Properties} }

func decodeRun(data []byte) (*store.Run, error) {
	r := new(store.Run)
	rec := runJSON{Run: r}
	if err := decode(data, &rec); err != nil {
		return nil, err
	}
	r.Properties = rec.Properties
	return r, nil
}

func encodeProgress(p *store.Progress) progressJSON { return progressJSON{Progress: p, Data: p.Data} }

func decodeProgress(data []byte) (*store.Progress, error) {
	p := new(store.Progress)
	rec := progressJSON{Progress: p}
	if err := decode(data, &rec); err != nil {
		return nil, err
	}
	p.Data = rec.Data
	return p, nil
}

func decodeCluster(data []byte) (*store.Cluster, error) {
	c := new(store.Cluster)
	if err := decode(data, c); err != nil {
		return nil, err
	}
	return c, nil
}

func decodeEvent(data []byte) (*store.Event, error) {
	e := new(store.Event)
	if err := decode(data, e); err != nil {
		return nil, err
	}
	return e, nil
}
