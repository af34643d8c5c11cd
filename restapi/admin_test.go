package restapi_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/restapi"
	"github.com/scyllaops/scyllaops/store/boltstore"
)

// POST /api/v1/admin/store/backup streams a copy of the bbolt store while
// clusters are being added; the copy opens and holds them.
func TestStoreBackupEndpoint(t *testing.T) {
	ctx := t.Context()
	bs, err := boltstore.Open(ctx, filepath.Join(t.TempDir(), "state.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bs.Close() })
	m, err := scyllaops.New(bs, nil, scyllaops.Options{SkipConnectivityCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	srv := httptest.NewServer(restapi.NewHandler(m, restapi.Options{StoreBackup: bs.WriteTo}))
	t.Cleanup(srv.Close)
	c, err := restapi.NewClient(srv.URL+"/api/v1", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := m.CreateCluster(ctx, scyllaops.Cluster{Name: fmt.Sprint("before-", i), Host: "127.0.0.1"}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	var werr error
	wg.Go(func() {
		for i := range 20 {
			if _, err := m.CreateCluster(ctx, scyllaops.Cluster{Name: fmt.Sprint("during-", i), Host: "127.0.0.1"}); err != nil {
				werr = err
				return
			}
		}
	})
	out := filepath.Join(t.TempDir(), "copy.db")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	n, err := c.BackupStore(ctx, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	wg.Wait()
	if err != nil || werr != nil {
		t.Fatalf("BackupStore: %d bytes, %v (writer: %v)", n, err, werr)
	}
	cp, err := boltstore.Open(ctx, out, boltstore.Options{})
	if err != nil {
		t.Fatalf("open the copy: %v", err)
	}
	defer cp.Close()
	cs, err := cp.ListClusters(ctx)
	if err != nil || len(cs) < 5 {
		t.Fatalf("copy holds %d clusters (%v), want at least the 5 added before", len(cs), err)
	}

	// Without a store backup function (e.g. a CQL store): 501.
	e := newEnv(t, scyllaops.Options{})
	_, err = e.client.BackupStore(ctx, &nopWriter{})
	var ae *restapi.APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusNotImplemented {
		t.Fatalf("BackupStore without support = %v, want 501", err)
	}
	e.call("GET", restapi.StoreBackupPath, "", "", http.StatusMethodNotAllowed, "")
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }
