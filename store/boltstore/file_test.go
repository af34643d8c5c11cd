package boltstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/boltstore"
)

// filled returns the path of a closed store file with n clusters, each
// with a secret.
func filled(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := boltstore.Open(t.Context(), path, boltstore.Options{})
	must(t, err)
	for i := range n {
		c := &store.Cluster{ID: uuid.New(), Name: fmt.Sprintf("c%03d-%s", i, strings.Repeat("x", 240))}
		must(t, s.CreateCluster(t.Context(), c))
		must(t, s.PutSecret(t.Context(), c.ID, "k", bytes.Repeat([]byte{'s'}, 300)))
	}
	must(t, s.Close())
	return path
}

func TestOpenInUseSaysSoAtOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := boltstore.Open(t.Context(), path, boltstore.Options{})
	must(t, err)
	defer s.Close()
	_, err = boltstore.Open(t.Context(), path, boltstore.Options{})
	if !errors.Is(err, boltstore.ErrInUse) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("second Open = %v, want ErrInUse naming %s", err, path)
	}
	if boltstore.DefaultTimeout > time.Second {
		t.Errorf("DefaultTimeout = %s, want a short wait", boltstore.DefaultTimeout)
	}
}

func TestOpenDamagedFileErrorsWithoutPanic(t *testing.T) {
	src := filled(t, 300)
	data, err := os.ReadFile(src)
	must(t, err)
	if len(data) < 64*1024 {
		t.Fatalf("file of %d bytes, want a bigger one", len(data))
	}
	cases := map[string][]byte{
		"garbage":              []byte(strings.Repeat("not a bbolt file ", 1000)),
		"short garbage":        []byte("garbage"),
		"truncated to half":    data[:len(data)/2],
		"truncated to 3 pages": data[:3*4096],
		"truncated mid page":   data[:2*4096+100],
		"zeroed first meta": func() []byte {
			b := bytes.Clone(data)
			clear(b[:4096])
			b = b[:len(b)/2]
			return b
		}(),
		"garbage after meta pages": func() []byte {
			b := bytes.Clone(data)
			for i := 2 * 4096; i < len(b); i++ {
				b[i] = byte(i * 7)
			}
			return b
		}(),
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			must(t, os.WriteFile(path, content, 0o600))
			s, err := boltstore.Open(t.Context(), path, boltstore.Options{})
			if err == nil {
				_ = s.Close()
				t.Fatal("Open of a damaged file succeeded")
			}
			if !errors.Is(err, boltstore.ErrCorrupt) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "restore it from a copy") {
				t.Fatalf("Open = %v, want ErrCorrupt naming the file and what to do", err)
			}
		})
	}
}

func TestOpenEmptyFileInitializes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	must(t, os.WriteFile(path, nil, 0o600))
	s, err := boltstore.Open(t.Context(), path, boltstore.Options{})
	must(t, err)
	must(t, s.Close())
}

// TestBackupWhileWriting copies the store while writers go on; the copy
// opens and holds a prefix of the writes: every cluster it lists has its
// secret (one transaction each), and at least those created before the
// copy began.
func TestBackupWhileWriting(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s, err := boltstore.Open(ctx, filepath.Join(dir, "state.db"), boltstore.Options{})
	must(t, err)
	defer s.Close()
	write := func(i int) error {
		c := &store.Cluster{ID: uuid.New(), Name: fmt.Sprintf("c%05d", i)}
		if err := s.CreateCluster(ctx, c); err != nil {
			return err
		}
		return s.PutSecret(ctx, c.ID, "auth_token", []byte(c.Name))
	}
	for i := range 50 {
		must(t, write(i))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var written atomic.Int64
	written.Store(50)
	var werr atomic.Value
	wg.Go(func() {
		for i := 50; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := write(i); err != nil {
				werr.Store(err)
				return
			}
			written.Add(1)
		}
	})
	// Wait until the writer has written some more, without sleeping.
	for deadline := time.Now().Add(time.Minute); written.Load() < 60 && time.Now().Before(deadline); {
		runtime.Gosched()
	}
	before := written.Load()
	bpath := filepath.Join(dir, "copy.db")
	n, err := s.BackupFile(ctx, bpath)
	must(t, err)
	close(stop)
	wg.Wait()
	if e := werr.Load(); e != nil {
		t.Fatalf("writer: %v", e)
	}
	fi, err := os.Stat(bpath)
	must(t, err)
	if n != fi.Size() || fi.Mode().Perm() != 0o600 {
		t.Errorf("copy: %d bytes mode %s, BackupFile said %d; want mode 0600", fi.Size(), fi.Mode().Perm(), n)
	}

	cp, err := boltstore.Open(ctx, bpath, boltstore.Options{})
	must(t, err)
	defer cp.Close()
	cs, err := cp.ListClusters(ctx)
	must(t, err)
	if int64(len(cs)) < before {
		t.Errorf("copy holds %d clusters, want >= %d (every write committed before it began)", len(cs), before)
	}
	for _, c := range cs {
		v, err := cp.GetSecret(ctx, c.ID, "auth_token")
		if err != nil {
			// The last cluster may have been copied between its two
			// transactions; only it may lack its secret.
			if c.Name != cs[len(cs)-1].Name {
				t.Errorf("cluster %s without its secret in the copy: %v", c.Name, err)
			}
			continue
		}
		if string(v) != c.Name {
			t.Errorf("secret of %s = %q", c.Name, v)
		}
	}
	_, err = s.BackupFile(ctx, s.Path())
	if !errors.Is(err, store.ErrInvalid) {
		t.Errorf("BackupFile onto the store itself = %v, want ErrInvalid", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.WriteTo(canceled, &bytes.Buffer{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("WriteTo(canceled) = %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
