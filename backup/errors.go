package backup

import "errors"

// ErrSnapshotNotFound means no manifest of the requested snapshot exists in
// the locations.
var ErrSnapshotNotFound = errors.New("backup: snapshot not found")
