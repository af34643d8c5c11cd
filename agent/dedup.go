package agent

import (
	"context"
	"fmt"
	"path"
	"sync"

	"gocloud.dev/blob"
	"golang.org/x/sync/errgroup"

	"github.com/scyllaops/scyllaops/internal/backupspec"
)

// maxDigestSize bounds the Digest.crc32 files read by uploadedBundles
// (Scylla's hold one decimal CRC32): a larger one is not trusted as a
// digest and its bundle is checked file by file.
const maxDigestSize = 64 << 10

// uploadedBundles returns the source keys (of objs, listed by a copydir or
// movedir) whose SSTable bundle the destination already holds by the
// deduplication rule of the backup layout (backupspec.Deduplicate), so
// they are skipped with no checksum and no request per file: a bundle
// with a UUID generation when every component is in the destination
// directory with the same name and size (UUIDs are never reused); one
// with an integer generation when, in addition, its Digest.crc32 (the
// CRC32 of Data.db) reads the same on both sides. Versioned remote names
// are ignored. Every other file (not an SSTable component, a bundle not
// proven) is left to the per-file checksum rule of sameContent. With no
// index of the destination (too large to list), nothing is skipped here.
func (s *rcServer) uploadedBundles(ctx context.Context, src, dst *blob.Bucket, objs []*blob.ListObject, dstKeyOf func(string) string, index dstIndex) (map[string]bool, error) {
	if index == nil || len(objs) == 0 {
		return nil, nil
	}
	// The destination's files per directory.
	remote := map[string][]backupspec.File{}
	for k, a := range index {
		d, name := path.Split(k)
		remote[d] = append(remote[d], backupspec.File{Name: name, Size: a.Size})
	}
	// The source's files per destination directory.
	type dir struct {
		local []backupspec.File
		src   map[string]string // name → source key
	}
	dirs := map[string]*dir{}
	var order []string
	for _, o := range objs {
		d, name := path.Split(dstKeyOf(o.Key))
		if len(remote[d]) == 0 {
			continue
		}
		e := dirs[d]
		if e == nil {
			e = &dir{src: map[string]string{}}
			dirs[d] = e
			order = append(order, d)
		}
		e.local = append(e.local, backupspec.File{Name: name, Size: o.Size})
		e.src[name] = o.Key
	}
	// First pass: which Digest.crc32 files the rule needs (bundles whose
	// names and sizes all match); they are then read concurrently.
	type digestKey struct{ dir, name string }
	var need []digestKey
	for _, d := range order {
		e := dirs[d]
		if _, err := backupspec.Deduplicate(e.local, remote[d], func(name string, remote bool) ([]byte, error) {
			if !remote {
				need = append(need, digestKey{d, name})
			}
			return []byte{byte(btoi(remote))}, nil // unequal: decided in the second pass
		}); err != nil {
			return nil, err
		}
	}
	type digests struct{ local, remote []byte }
	var (
		mu  sync.Mutex
		got = map[digestKey]digests{}
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(checkers)
	for _, k := range need {
		g.Go(func() error {
			srcKey, dstKey := dirs[k.dir].src[k.name], k.dir+k.name
			if a := index[dstKey]; a == nil || a.Size > maxDigestSize {
				return nil
			}
			l, err := src.ReadAll(gctx, srcKey)
			if err != nil {
				return fmt.Errorf("read %s: %w", srcKey, err)
			}
			r, err := dst.ReadAll(gctx, dstKey)
			if err != nil {
				return fmt.Errorf("read %s: %w", dstKey, err)
			}
			mu.Lock()
			got[k] = digests{l, r}
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, d := range order {
		e := dirs[d]
		res, err := backupspec.Deduplicate(e.local, remote[d], func(name string, remote bool) ([]byte, error) {
			v, ok := got[digestKey{d, name}]
			switch {
			case !ok:
				return []byte{byte(btoi(remote))}, nil // not read: unequal
			case remote:
				return v.remote, nil
			}
			return v.local, nil
		})
		if err != nil {
			return nil, err
		}
		for _, f := range res.Skip {
			known[e.src[f.Name]] = true
		}
	}
	return known, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
