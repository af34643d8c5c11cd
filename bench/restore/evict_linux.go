package main

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// evict drops the data set's files below dir from the page cache (after
// sync(2), none is dirty), so that the next download reads them from the
// disk whichever tool ran before: without it, the first tool after a
// backup written around the page cache read from the disk and the next
// ones from memory.
func (b *bench) evict(dir string) error {
	for _, f := range b.ds.Files {
		fd, err := os.Open(filepath.Join(dir, f.Path))
		if err != nil {
			return err
		}
		err = unix.Fadvise(int(fd.Fd()), 0, 0, unix.FADV_DONTNEED)
		fd.Close()
		if err != nil {
			return fmt.Errorf("evict %s: %w", f.Path, err)
		}
	}
	return nil
}
