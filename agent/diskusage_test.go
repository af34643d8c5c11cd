package agent_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/scyllaops/scyllaops/agent"
	"github.com/scyllaops/scyllaops/internal/agentapi"
)

// operations/about on data: answers Options.DiskUsage's figures for the
// jailed path; its error is the call's error.
func TestDiskUsageOption(t *testing.T) {
	dataDir := t.TempDir()
	var asked string
	fail := false
	a, _ := newAgent(t, agent.Options{AuthToken: "tok", DataDir: dataDir,
		DiskUsage: func(dir string) (int64, int64, int64, error) {
			asked = dir
			if fail {
				return 0, 0, 0, errors.New("volume gone")
			}
			return 1000, 70, 930, nil
		}})
	w := do(a, http.MethodPost, agentapi.PathRclone+agentapi.CallOperationsAbout, "Bearer tok", `{"fs":"data:","remote":"ks"}`)
	if w.Code != http.StatusOK {
		t.Fatalf("about = %d %s", w.Code, w.Body)
	}
	var got agentapi.FileSystemDetails
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got != (agentapi.FileSystemDetails{Total: 1000, Free: 70, Used: 930}) || asked != filepath.Join(dataDir, "ks") {
		t.Errorf("about = %+v for %q, want the option's figures for %q", got, asked, filepath.Join(dataDir, "ks"))
	}
	fail = true
	if w := do(a, http.MethodPost, agentapi.PathRclone+agentapi.CallOperationsAbout, "Bearer tok", `{"fs":"data:"}`); w.Code == http.StatusOK {
		t.Errorf("about with a failing DiskUsage = %d %s, want an error", w.Code, w.Body)
	}
}
