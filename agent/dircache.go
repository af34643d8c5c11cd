package agent

import (
	"context"
	"fmt"
	"os"
	"path"
	"sync"
)

// dirCache keeps the destination directories of one download job open
// (an *os.Root each, opened through the bucket's root, so the same
// confinement holds): a file is then created, renamed into place and
// checked in its directory with one system call each, instead of
// os.Root walking every component of the path again for each of them
// (openat and close per component: about a tenth of a restore's CPU with
// thousands of small files in a few directories). Directories are
// created on first use. A directory removed or replaced while the job
// runs would leave the files written into the old one out of sight:
// close compares every cached directory with what its path holds now
// and reports the difference as the job's error.
type dirCache struct {
	mu   sync.Mutex
	rb   *rootBucket
	dirs map[string]*os.Root
}

type dirCacheKey struct{}

// withDirCache returns ctx with a directory cache for writes to rb.
func withDirCache(ctx context.Context, rb *rootBucket) (context.Context, *dirCache) {
	dc := &dirCache{rb: rb, dirs: map[string]*os.Root{}}
	return context.WithValue(ctx, dirCacheKey{}, dc), dc
}

// dirCacheOf returns the cache of ctx for writes to rb, or nil.
func dirCacheOf(ctx context.Context, rb *rootBucket) *dirCache {
	if dc, ok := ctx.Value(dirCacheKey{}).(*dirCache); ok && dc.rb == rb {
		return dc
	}
	return nil
}

// dir returns the open directory dir (a slash-separated key, "." for the
// root), creating it.
func (c *dirCache) dir(dir string) (*os.Root, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.dirs[dir]; ok {
		return r, nil
	}
	if dir != "." {
		if err := c.rb.root.MkdirAll(osPath(dir), 0o755); err != nil {
			return nil, err
		}
	}
	r, err := c.rb.root.OpenRoot(osPath(dir))
	if err != nil {
		return nil, err
	}
	c.dirs[dir] = r
	return r, nil
}

// split returns the directory and the name of key.
func splitKey(key string) (dir, name string) {
	return path.Dir(key), path.Base(key)
}

// close closes the directories; it reports a directory that its path no
// longer leads to.
func (c *dirCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var first error
	for dir, r := range c.dirs {
		held, err := r.Stat(".")
		if err == nil {
			var now os.FileInfo
			if now, err = c.rb.root.Stat(osPath(dir)); err == nil && !os.SameFile(held, now) {
				err = fmt.Errorf("directory %s was replaced while files were written into it", dir)
			}
		}
		if err != nil && first == nil {
			first = fmt.Errorf("directory %s: %w", dir, err)
		}
		_ = r.Close()
	}
	clear(c.dirs)
	return first
}
