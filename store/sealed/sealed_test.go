package sealed_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/boltstore"
	"github.com/scyllaops/scyllaops/store/memstore"
	"github.com/scyllaops/scyllaops/store/sealed"
	"github.com/scyllaops/scyllaops/store/storetest"
)

func newKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, sealed.KeyLen)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func keyring(t *testing.T, keys ...string) *sealed.Keyring {
	t.Helper()
	kr, err := sealed.ParseKeyring("test keys", strings.Join(keys, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func TestConformance(t *testing.T) {
	kr := keyring(t, newKey(t))
	t.Run("memstore", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store { return sealed.Wrap(memstore.New(), kr) })
	})
	t.Run("boltstore", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store {
			s, err := boltstore.Open(t.Context(), filepath.Join(t.TempDir(), "state.db"), boltstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return sealed.Wrap(s, kr)
		})
	})
}

func addCluster(t *testing.T, s store.Store) uuid.UUID {
	t.Helper()
	id := uuid.New()
	if err := s.CreateCluster(t.Context(), &store.Cluster{ID: id, Name: "c-" + id.String()[:8]}); err != nil {
		t.Fatal(err)
	}
	return id
}

// The secret never reaches the driver in clear: not memstore's values,
// not boltstore's file.
func TestAtRest(t *testing.T) {
	ctx := t.Context()
	kr := keyring(t, newKey(t))
	path := filepath.Join(t.TempDir(), "state.db")
	bs, err := boltstore.Open(ctx, path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := sealed.Wrap(bs, kr)
	id := addCluster(t, s)
	const token = "very-secret-agent-token-0123456789"
	if err := s.PutSecret(ctx, id, store.SecretAuthToken, []byte(token)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetSecret(ctx, id, store.SecretAuthToken); err != nil || string(got) != token {
		t.Fatalf("GetSecret = %q, %v", got, err)
	}
	raw, err := bs.GetSecret(ctx, id, store.SecretAuthToken)
	if err != nil || !sealed.IsSealed(raw) || bytes.Contains(raw, []byte(token)) {
		t.Fatalf("driver holds %q (%v), want it sealed", raw, err)
	}
	if err := bs.Close(); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(file, []byte(token)) {
		t.Fatal("the token is in the store file in clear")
	}

	// A sealed value copied to another cluster does not open.
	ms := memstore.New()
	m := sealed.Wrap(ms, kr)
	a, b := addCluster(t, m), addCluster(t, m)
	if err := m.PutSecret(ctx, a, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	rawA, _ := ms.GetSecret(ctx, a, "k")
	if err := ms.PutSecret(ctx, b, "k", rawA); err != nil {
		t.Fatal(err)
	}
	if _, err := m.GetSecret(ctx, b, "k"); err == nil {
		t.Fatal("a value moved to another cluster opened")
	}
}

// Rotation: a keyring with the new key first and the old one after opens
// both; Reseal rewrites what the old key (or no key) sealed; then the old
// key can go. Without the right key the error says what to do.
func TestRotation(t *testing.T) {
	ctx := t.Context()
	oldK, newK := newKey(t), newKey(t)
	ms := memstore.New()
	plain := sealed.Wrap(ms, nil)
	id := addCluster(t, plain)
	if err := plain.PutSecret(ctx, id, "legacy", []byte("stored before encryption")); err != nil {
		t.Fatal(err)
	}
	old := sealed.Wrap(ms, keyring(t, oldK))
	for _, k := range []string{"a", "b"} {
		if err := old.PutSecret(ctx, id, k, []byte("value "+k)); err != nil {
			t.Fatal(err)
		}
	}
	// Without a key, sealed values are refused with a clear error; the
	// plaintext one still reads.
	if _, err := plain.GetSecret(ctx, id, "a"); !errors.Is(err, sealed.ErrNoKey) || !strings.Contains(err.Error(), "add that key") {
		t.Fatalf("GetSecret without a key = %v, want ErrNoKey saying what to do", err)
	}
	if v, err := old.GetSecret(ctx, id, "legacy"); err != nil || string(v) != "stored before encryption" {
		t.Fatalf("legacy value = %q, %v", v, err)
	}

	rotated := sealed.Wrap(ms, keyring(t, newK, oldK))
	for _, k := range []string{"a", "b"} {
		if v, err := rotated.GetSecret(ctx, id, k); err != nil || string(v) != "value "+k {
			t.Fatalf("old-key value %s through the rotated keyring = %q, %v", k, v, err)
		}
	}
	n, err := rotated.Reseal(ctx)
	if err != nil || n != 3 {
		t.Fatalf("Reseal = %d, %v; want 3 (two old-key values and one plaintext)", n, err)
	}
	if n, err := rotated.Reseal(ctx); err != nil || n != 0 {
		t.Fatalf("second Reseal = %d, %v; want 0", n, err)
	}
	onlyNew := sealed.Wrap(ms, keyring(t, newK))
	for k, want := range map[string]string{"a": "value a", "b": "value b", "legacy": "stored before encryption"} {
		if v, err := onlyNew.GetSecret(ctx, id, k); err != nil || string(v) != want {
			t.Fatalf("%s with only the new key = %q, %v", k, v, err)
		}
		raw, _ := ms.GetSecret(ctx, id, k)
		if !sealed.IsSealed(raw) {
			t.Fatalf("%s not sealed after Reseal", k)
		}
	}
	if _, err := old.GetSecret(ctx, id, "a"); !errors.Is(err, sealed.ErrNoKey) {
		t.Fatalf("old key after rotation = %v, want ErrNoKey", err)
	}
}

func TestLoadKeyring(t *testing.T) {
	k := newKey(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "key")
	if err := os.WriteFile(file, []byte("# current\n"+k+"\n\n# old\n"+newKey(t)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kr, err := sealed.LoadKeyring(file, "")
	if err != nil || kr.Len() != 2 {
		t.Fatalf("LoadKeyring(file) = %v, %v", kr, err)
	}
	t.Setenv("SCYLLAOPS_TEST_SECRETS_KEY", k)
	if kr, err := sealed.LoadKeyring("", "SCYLLAOPS_TEST_SECRETS_KEY"); err != nil || kr.Len() != 1 {
		t.Fatalf("LoadKeyring(env) = %v, %v", kr, err)
	}
	if kr, err := sealed.LoadKeyring("", ""); kr != nil || err != nil {
		t.Fatalf("LoadKeyring() = %v, %v; want nil, nil", kr, err)
	}
	short := filepath.Join(dir, "short")
	_ = os.WriteFile(short, []byte(base64.StdEncoding.EncodeToString([]byte("short"))), 0o600)
	for _, tc := range []struct{ file, env, want string }{
		{filepath.Join(dir, "missing"), "", "secrets key file"},
		{short, "", "32 bytes"},
		{"", "SCYLLAOPS_TEST_UNSET_VAR", "SCYLLAOPS_TEST_UNSET_VAR"},
	} {
		_, err := sealed.LoadKeyring(tc.file, tc.env)
		if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LoadKeyring(%q, %q) = %v, want an error naming %q", tc.file, tc.env, err, tc.want)
		}
	}
}
