package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
)

// BenchmarkListFileblob compares gocloud's iterator (pages of 1,000) with
// the agent's lister (pages of 10,000) on a fileblob tree of 20,000 files.
func BenchmarkListFileblob(b *testing.B) {
	dir := b.TempDir()
	for i := range 20000 {
		p := filepath.Join(dir, fmt.Sprintf("ks%d", i%10), fmt.Sprintf("t%d", i%200), fmt.Sprintf("f%05d", i))
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		_ = os.WriteFile(p, []byte("x"), 0o644)
	}
	bk, err := fileblob.OpenBucket(dir, &fileblob.Options{NoTempDir: true})
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	count := func(next func(context.Context) (*blob.ListObject, error)) int {
		n := 0
		for {
			_, err := next(ctx)
			if errors.Is(err, io.EOF) {
				return n
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
	}
	b.Run("gocloud-iterator", func(b *testing.B) {
		for b.Loop() {
			if n := count(bk.List(nil).Next); n != 20000 {
				b.Fatalf("%d", n)
			}
		}
	})
	b.Run("agent-lister", func(b *testing.B) {
		for b.Loop() {
			if n := count(list(bk, nil).Next); n != 20000 {
				b.Fatalf("%d", n)
			}
		}
	})
}
