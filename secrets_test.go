package scyllaops_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/store/memstore"
	"github.com/scyllaops/scyllaops/store/sealed"
)

func randomKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, sealed.KeyLen)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// Secrets sealed with a key file; rotation through the file (new key
// first, old after) and ResealSecrets; no key: plaintext and a warning.
func TestSecretsKeyRotation(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil))
	if _, err := scyllaops.New(st, nil, scyllaops.Options{Logger: logger}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "plaintext") {
		t.Errorf("no plaintext warning at New without a key: %s", logs.String())
	}
	mu.Unlock()

	file := filepath.Join(t.TempDir(), "secrets.key")
	oldK, newK := randomKey(t), randomKey(t)
	write := func(keys ...string) {
		if err := os.WriteFile(file, []byte(strings.Join(keys, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	open := func() *scyllaops.Manager {
		m, err := scyllaops.New(st, nil, scyllaops.Options{SkipConnectivityCheck: true, SecretsKeyFile: file})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = m.Close() })
		return m
	}
	write(oldK)
	m := open()
	c, err := m.CreateCluster(ctx, scyllaops.Cluster{Name: "c", Host: "127.0.0.1", AuthToken: "tok", Username: "u", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	write(newK, oldK)
	m = open()
	n, err := m.ResealSecrets(ctx)
	if err != nil || n != 2 {
		t.Fatalf("ResealSecrets = %d, %v; want 2 (token and CQL credentials)", n, err)
	}
	write(newK)
	m = open()
	if u, p, err := m.CQLCredentials(ctx, c.ID); err != nil || u != "u" || p != "pw" {
		t.Fatalf("CQLCredentials with only the new key = %q %q %v", u, p, err)
	}
	write(oldK)
	m = open()
	if _, _, err := m.CQLCredentials(ctx, c.ID); err == nil || !strings.Contains(err.Error(), "add that key") {
		t.Fatalf("CQLCredentials with only the old key = %v, want an error saying the key is missing", err)
	}
	if _, err := scyllaops.New(st, nil, scyllaops.Options{SecretsKeyEnv: "SCYLLAOPS_TEST_NO_SUCH_VAR"}); err == nil || !strings.Contains(err.Error(), "SCYLLAOPS_TEST_NO_SUCH_VAR") {
		t.Fatalf("New with an unset key variable = %v", err)
	}
}
