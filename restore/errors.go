package restore

import "errors"

// Errors callers branch on.
var (
	// ErrIncompleteSnapshot: the snapshot's manifests do not cover the
	// token ring of a DC they name (a backup that never finished).
	ErrIncompleteSnapshot = errors.New("restore: incomplete snapshot")
	// ErrMissingFile: a file the snapshot's manifests name is not in the
	// bucket.
	ErrMissingFile = errors.New("restore: file missing from the bucket")
)
