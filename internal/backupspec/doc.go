// Package backupspec is the wire format of a Scylla-Manager-compatible
// backup: the location string, DC limits, snapshot tags, the remote
// directory layout, the manifest v2 codec, SSTable name parsing, the
// deduplication decision and the retention/purge planner.
//
// Everything here is pure: no I/O except through the io.Reader and
// io.Writer a caller passes to the manifest codec, no goroutines, no
// clocks (callers pass "now"). The backup service drives agents and
// buckets; this package only decides.
//
// The formats follow Scylla Manager's (snapshot tags
// sm_YYYYMMDDhhmmssUTC, paths under backup/meta, backup/schema and
// backup/sst, gzip JSON manifests with a .tmp suffix until complete,
// versioned files with a .<tag> suffix), so that a backup written by one
// is listable and restorable by the other.
//
// # Concurrency
//
// All functions are safe for concurrent use; the types hold no shared
// state.
//
// # Errors
//
// Parse functions return an *InvalidError naming the field and the
// accepted form; errors.Is(err, ErrInvalid) holds for it. Manifest
// decoding errors are wrapped with the "backupspec:" prefix.
package backupspec
