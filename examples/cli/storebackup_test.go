package main

import (
	"bytes"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/restapi"
	"github.com/scyllaops/scyllaops/store/boltstore"
)

func TestStoreBackupCommand(t *testing.T) {
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
	if _, err := m.CreateCluster(ctx, scyllaops.Cluster{Name: "kept", Host: "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(restapi.NewHandler(m, restapi.Options{StoreBackup: bs.WriteTo}))
	t.Cleanup(srv.Close)
	out := filepath.Join(t.TempDir(), "copy.db")
	var stdout, stderr bytes.Buffer
	env := map[string]string{"SCYLLA_MANAGER_API_URL": srv.URL + "/api/v1"}
	if code := run(ctx, []string{"store-backup", "-o", out}, &stdout, &stderr, func(k string) string { return env[k] }); code != 0 {
		t.Fatalf("store-backup: exit %d: %s%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "Store copied to "+out) {
		t.Errorf("output %q", stdout.String())
	}
	cp, err := boltstore.Open(ctx, out, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	if c, err := cp.GetClusterByName(ctx, "kept"); err != nil || c.Name != "kept" {
		t.Fatalf("copy: %v %v", c, err)
	}
	stdout.Reset()
	stderr.Reset()
	if code := run(ctx, []string{"store-backup"}, &stdout, &stderr, func(k string) string { return env[k] }); code == 0 || !strings.Contains(stderr.String(), "--output") {
		t.Fatalf("store-backup without -o: exit %d, %s", code, stderr.String())
	}
}
