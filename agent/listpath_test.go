package agent_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/scyllaops/scyllaops/agent"
)

// TestListPathRelativeToFs: like rclone, operations/list gives each Path
// relative to fs, so a non-empty remote is its prefix; with noModTime the
// items carry no time.
func TestListPathRelativeToFs(t *testing.T) {
	dataDir := t.TempDir()
	for _, f := range []string{"ks/t-1/a", "ks/t-1/sub/b"} {
		p := filepath.Join(dataDir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := newAgent(t, agent.Options{DataDir: dataDir})
	for _, tc := range []struct {
		body string
		want []string
	}{
		{`{"fs":"data:","remote":"ks/t-1","opt":{"recurse":true,"filesOnly":true,"noModTime":true}}`, []string{"ks/t-1/a", "ks/t-1/sub/b"}},
		{`{"fs":"data:ks","remote":"t-1","opt":{"recurse":true,"filesOnly":true,"noModTime":true}}`, []string{"t-1/a", "t-1/sub/b"}},
		{`{"fs":"data:ks/t-1","remote":"","opt":{"recurse":true,"filesOnly":true,"noModTime":true}}`, []string{"a", "sub/b"}},
		{`{"fs":"data:","remote":"ks/t-1","opt":{"noModTime":true}}`, []string{"ks/t-1/a", "ks/t-1/sub"}},
	} {
		w := do(a, http.MethodPost, "/agent/rclone/operations/list", "", tc.body)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", tc.body, w.Code, w.Body.String())
		}
		var out struct {
			List []map[string]any `json:"list"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, it := range out.List {
			got = append(got, it["Path"].(string))
			if _, ok := it["ModTime"]; ok {
				t.Errorf("%s: item %v has a ModTime with noModTime", tc.body, it)
			}
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%s: paths (-want +got):\n%s", tc.body, d)
		}
	}
}
