package backupspec

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
)

// File is a file name (base name within one table directory) and size.
type File struct {
	Name string
	Size int64
}

// DigestFunc returns the content of the file name (a Digest.crc32
// component), read locally when remote is false and from the bucket when
// remote is true.
type DigestFunc func(name string, remote bool) ([]byte, error)

// Dedup is the outcome of Deduplicate for one table directory.
type Dedup struct {
	// Skip are local files already in the bucket with the same content;
	// they are not uploaded (their local copies may be deleted).
	Skip []File
	// Upload are the local files to upload. Those whose name exists
	// remotely are uploaded with the versioned-suffix rule: the old
	// remote copy is first renamed to VersionedName(name, tag).
	Upload []File
	// SkippedBytes is the total size of Skip.
	SkippedBytes int64
}

// Deduplicate decides, for the local files of one table snapshot and the
// listing of the table's remote directory, which files are already
// uploaded. Files are grouped in SSTable bundles and decided per bundle:
//
//   - UUID generation: the bundle is skipped when every local component
//     exists remotely under the same name with the same size;
//   - integer generation: additionally the bundle must have a
//     Digest.crc32 component whose local and remote contents are equal
//     (read through digest), since integer IDs get reused.
//
// Remote names carrying a version suffix are ignored. Files that are not
// SSTable components are always uploaded. The result lists files in
// input order.
func Deduplicate(local, remote []File, digest DigestFunc) (Dedup, error) {
	rsize := make(map[string]int64, len(remote))
	for _, f := range remote {
		if _, _, ok := SplitVersioned(f.Name); ok {
			continue
		}
		rsize[f.Name] = f.Size
	}
	lsize := make(map[string]int64, len(local))
	names := make([]string, len(local))
	for i, f := range local {
		lsize[f.Name] = f.Size
		names[i] = f.Name
	}
	bundles, _ := GroupBundles(names)
	skip := map[string]bool{}
	for _, b := range bundles {
		ok, err := bundleUploaded(b, lsize, rsize, digest)
		if err != nil {
			return Dedup{}, err
		}
		if ok {
			for _, n := range b.Files {
				skip[n] = true
			}
		}
	}
	var d Dedup
	for _, f := range local {
		if skip[f.Name] {
			d.Skip = append(d.Skip, f)
			d.SkippedBytes += f.Size
		} else {
			d.Upload = append(d.Upload, f)
		}
	}
	return d, nil
}

func bundleUploaded(b Bundle, lsize, rsize map[string]int64, digest DigestFunc) (bool, error) {
	digestName := ""
	for _, n := range b.Files {
		rs, ok := rsize[n]
		if !ok || rs != lsize[n] {
			return false, nil
		}
		if s, _ := ParseSSTable(n); s.IsDigest() {
			digestName = n
		}
	}
	if b.IDType == UUIDID {
		return true, nil
	}
	if digestName == "" || digest == nil {
		return false, nil
	}
	l, err := digest(digestName, false)
	if err != nil {
		return false, fmt.Errorf("backupspec: read local %s: %w", digestName, err)
	}
	r, err := digest(digestName, true)
	if err != nil {
		return false, fmt.Errorf("backupspec: read remote %s: %w", digestName, err)
	}
	return bytes.Equal(l, r), nil
}

var versionedRe = regexp.MustCompile(`^(.+)\.(sm_[0-9]{14}UTC)$`)

// VersionedName is the name an older remote copy of name gets when the
// backup with snapshot tag tag uploads a different file of that name.
func VersionedName(name, tag string) string { return name + "." + tag }

// SplitVersioned splits "name.sm_…UTC" into name and tag; ok is false
// for names without a version suffix.
func SplitVersioned(name string) (base, tag string, ok bool) {
	m := versionedRe.FindStringSubmatch(name)
	if m == nil || !IsSnapshotTag(m[2]) {
		return name, "", false
	}
	return m[1], m[2], true
}

// Versions indexes the versioned copies in a directory listing: base
// name → suffix tags, sorted oldest first.
type Versions map[string][]string

// IndexVersions builds Versions from a directory listing (base names).
func IndexVersions(names []string) Versions {
	v := Versions{}
	for _, n := range names {
		if base, tag, ok := SplitVersioned(n); ok {
			v[base] = append(v[base], tag)
		}
	}
	for _, tags := range v {
		sort.Strings(tags)
	}
	return v
}

// Resolve returns the remote name holding the content that file name had
// in snapshot tag: the oldest versioned copy whose tag is newer than tag,
// or name itself when there is none.
func (v Versions) Resolve(name, tag string) string {
	for _, t := range v[name] {
		if t > tag {
			return VersionedName(name, t)
		}
	}
	return name
}
