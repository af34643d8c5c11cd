package boltstore_test

import (
	"path/filepath"
	"testing"

	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/boltstore"
	"github.com/scyllaops/scyllaops/store/storetest"
)

// open opens a store in a new file under t.TempDir and closes it at the
// end of the test.
func open(t *testing.T, opts boltstore.Options) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(t.Context(), filepath.Join(t.TempDir(), "store.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, boltstore.Options{}) })
}
