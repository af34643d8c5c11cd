package scyllatest_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scyllaops/scyllaops/internal/schemacheck"
	"github.com/scyllaops/scyllaops/scyllatest"
)

// rawCall sends method path to host's agent through c.Transport with the
// bearer token and returns the status and body.
func rawCall(t *testing.T, c *scyllatest.Cluster, host, method, path string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, "https://"+host+":10001"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.AuthToken())
	resp, err := (&http.Client{Transport: c.Transport()}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func loadSchemas(t *testing.T) *schemacheck.Set {
	t.Helper()
	s, err := schemacheck.Load(os.DirFS("testdata"), "schemas")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func hasSuffix(list []string, suf string) int {
	n := 0
	for _, x := range list {
		if strings.HasSuffix(x, suf) {
			n++
		}
	}
	return n
}

// renameInto moves dir/name into dir/upload/name.
func renameInto(dir, name string) error {
	return os.Rename(filepath.Join(dir, name), filepath.Join(dir, "upload", name))
}
