package backupspec

import (
	"regexp"
	"time"
)

const tagTimeLayout = "20060102150405"

var tagRe = regexp.MustCompile(`^sm_([0-9]{14})UTC$`)

// NewSnapshotTag returns the tag for t: "sm_" + t in UTC as
// YYYYMMDDhhmmss + "UTC". Lexicographic order of tags is chronological.
func NewSnapshotTag(t time.Time) string {
	return "sm_" + t.UTC().Format(tagTimeLayout) + "UTC"
}

// IsSnapshotTag reports whether s is a well-formed snapshot tag.
func IsSnapshotTag(s string) bool {
	_, err := ParseSnapshotTag(s)
	return err == nil
}

// ParseSnapshotTag returns the time (UTC, second precision) of a tag.
func ParseSnapshotTag(s string) (time.Time, error) {
	m := tagRe.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, invalid("snapshot_tag", "sm_YYYYMMDDhhmmssUTC, e.g. \"sm_20210809095541UTC\"", s)
	}
	t, err := time.ParseInLocation(tagTimeLayout, m[1], time.UTC)
	if err != nil {
		return time.Time{}, invalid("snapshot_tag", "sm_YYYYMMDDhhmmssUTC with a valid date and time", s)
	}
	return t, nil
}
