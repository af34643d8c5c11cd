package backup

import "errors"

// ErrSnapshotNotFound: no manifest of the requested snapshot exists in
// the locations.
var ErrSnapshotNotFound = errors.New("backup: snapshot not found")
