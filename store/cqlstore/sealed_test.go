package cqlstore_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"testing"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/sealed"
)

// The sealed layer over cqlstore: the database holds only ciphertext.
func TestSealedSecrets(t *testing.T) {
	ctx := t.Context()
	cs := openStore(t, testOptions(t))
	k := make([]byte, sealed.KeyLen)
	_, _ = rand.Read(k)
	kr, err := sealed.ParseKeyring("test", base64.StdEncoding.EncodeToString(k))
	if err != nil {
		t.Fatal(err)
	}
	s := sealed.Wrap(cs, kr)
	id := uuid.New()
	if err := s.CreateCluster(ctx, &store.Cluster{ID: id, Name: "sealed"}); err != nil {
		t.Fatal(err)
	}
	const pw = `{"username":"u","password":"cql-password-in-clear"}`
	if err := s.PutSecret(ctx, id, store.SecretCQLCreds, []byte(pw)); err != nil {
		t.Fatal(err)
	}
	raw, err := cs.GetSecret(ctx, id, store.SecretCQLCreds)
	if err != nil || !sealed.IsSealed(raw) || bytes.Contains(raw, []byte("cql-password")) {
		t.Fatalf("cqlstore holds %q (%v), want it sealed", raw, err)
	}
	if v, err := s.GetSecret(ctx, id, store.SecretCQLCreds); err != nil || string(v) != pw {
		t.Fatalf("GetSecret = %q, %v", v, err)
	}
}
