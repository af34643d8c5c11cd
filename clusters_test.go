package scyllaops_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/memstore"
)

func newOfflineManager(t *testing.T) (*scyllaops.Manager, store.Store) {
	t.Helper()
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	m, err := scyllaops.New(st, nil, scyllaops.Options{SkipConnectivityCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m, st
}

func TestClusterSecretsAreWriteOnly(t *testing.T) {
	m, st := newOfflineManager(t)
	ctx := t.Context()
	c, err := m.CreateCluster(ctx, scyllaops.Cluster{
		Name: "prod", Host: "10.0.0.1", AuthToken: "tok-123",
		Username: "cassandra", Password: "p4ss", SSLUserCertFile: []byte("CERT"), SSLUserKeyFile: []byte("KEY"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.AuthToken != scyllaops.SecretSet || c.Password != scyllaops.SecretSet || c.Username != scyllaops.SecretSet {
		t.Fatalf("secrets not masked: %+v", c)
	}
	if len(c.SSLUserCertFile) != 0 || len(c.SSLUserKeyFile) != 0 {
		t.Fatalf("TLS identity returned: %+v", c)
	}
	if c.Port != scyllaops.DefaultAgentPort {
		t.Fatalf("port = %d, want default %d", c.Port, scyllaops.DefaultAgentPort)
	}
	// The secrets are stored apart, and really stored.
	sc, err := st.GetCluster(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Name != "prod" {
		t.Fatalf("stored cluster %+v", sc)
	}
	tok, err := st.GetSecret(ctx, c.ID, store.SecretAuthToken)
	if err != nil || string(tok) != "tok-123" {
		t.Fatalf("auth token secret = %q, %v", tok, err)
	}
	user, pass, err := m.CQLCredentials(ctx, c.ID)
	if err != nil || user != "cassandra" || pass != "p4ss" {
		t.Fatalf("CQL creds = %q %q %v", user, pass, err)
	}

	// Lookups by name and by ID agree.
	byName, err := m.GetCluster(ctx, "prod")
	if err != nil {
		t.Fatal(err)
	}
	byID, err := m.GetCluster(ctx, c.ID.String())
	if err != nil || byID.ID != byName.ID {
		t.Fatalf("by id %v / by name %v: %v", byID.ID, byName.ID, err)
	}

	// An update with "set" keeps the secrets.
	c.Labels = map[string]string{"env": "prod"}
	if _, err := m.UpdateCluster(ctx, "prod", c); err != nil {
		t.Fatal(err)
	}
	tok, _ = st.GetSecret(ctx, c.ID, store.SecretAuthToken)
	if string(tok) != "tok-123" {
		t.Fatalf("update with \"set\" changed the token to %q", tok)
	}
	// Deleting only the CQL credentials keeps the cluster.
	if err := m.DeleteCluster(ctx, "prod", scyllaops.DeleteWhat{CQLCreds: true}); err != nil {
		t.Fatal(err)
	}
	got, err := m.GetCluster(ctx, "prod")
	if err != nil || got.Username != "" || got.AuthToken != scyllaops.SecretSet {
		t.Fatalf("after deleting CQL creds: %+v, %v", got, err)
	}
	if err := m.DeleteCluster(ctx, "prod", scyllaops.DeleteWhat{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.GetCluster(ctx, "prod"); !errors.Is(err, scyllaops.ErrNotFound) {
		t.Fatalf("after delete: %v, want ErrNotFound", err)
	}
	if keys, _ := st.ListSecretKeys(ctx, c.ID); len(keys) != 0 {
		t.Fatalf("secrets left after delete: %v", keys)
	}
}

func TestClusterBadInputStoresNothing(t *testing.T) {
	m, st := newOfflineManager(t)
	ctx := t.Context()
	for _, tc := range []struct {
		name  string
		c     scyllaops.Cluster
		field string
	}{
		{"empty name", scyllaops.Cluster{Host: "h"}, "cluster.name"},
		{"uuid name", scyllaops.Cluster{Name: uuid.NewString(), Host: "h"}, "cluster.name"},
		{"no host", scyllaops.Cluster{Name: "a"}, "cluster.host"},
		{"host with port", scyllaops.Cluster{Name: "a", Host: "10.0.0.1:10001"}, "cluster.host"},
		{"bad port", scyllaops.Cluster{Name: "a", Host: "h", Port: 70000}, "cluster.port"},
		{"user without password", scyllaops.Cluster{Name: "a", Host: "h", Username: "u"}, "cluster.username/password"},
		{"alternator half", scyllaops.Cluster{Name: "a", Host: "h", AlternatorAccessKeyID: "k"}, "cluster.alternator_access_key_id/alternator_secret_access_key"},
		{"cert without key", scyllaops.Cluster{Name: "a", Host: "h", SSLUserCertFile: []byte("x")}, "cluster.ssl_user_cert_file/ssl_user_key_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.CreateCluster(ctx, tc.c)
			var ie *store.InvalidError
			if !errors.As(err, &ie) || !errors.Is(err, scyllaops.ErrInvalid) {
				t.Fatalf("err = %v, want an *store.InvalidError", err)
			}
			if ie.Field != tc.field || ie.Want == "" {
				t.Fatalf("field = %q want %q (want-form %q)", ie.Field, tc.field, ie.Want)
			}
		})
	}
	cs, err := st.ListClusters(ctx)
	if err != nil || len(cs) != 0 {
		t.Fatalf("clusters stored after bad input: %d, %v", len(cs), err)
	}
}

func TestClusterNameUnique(t *testing.T) {
	m, _ := newOfflineManager(t)
	ctx := t.Context()
	if _, err := m.CreateCluster(ctx, scyllaops.Cluster{Name: "b", Host: "h1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CreateCluster(ctx, scyllaops.Cluster{Name: "a", Host: "h2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CreateCluster(ctx, scyllaops.Cluster{Name: "a", Host: "h3"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate name: %v, want ErrConflict", err)
	}
	list, err := m.ListClusters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "a" || list[1].Name != "b" {
		t.Fatalf("list = %+v", list)
	}
	// Renaming onto another cluster's name conflicts.
	b := list[1]
	b.Name = "a"
	if _, err := m.UpdateCluster(ctx, b.ID.String(), b); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("rename onto existing: %v, want ErrConflict", err)
	}
}

func TestManagerClosed(t *testing.T) {
	m, _ := newOfflineManager(t)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := m.ListClusters(t.Context()); !errors.Is(err, scyllaops.ErrClosed) {
		t.Fatalf("after Close: %v, want ErrClosed", err)
	}
	if err := m.Run(t.Context()); !errors.Is(err, scyllaops.ErrClosed) {
		t.Fatalf("Run after Close: %v, want ErrClosed", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, o := range []scyllaops.Options{
		{AgentPort: -1}, {LeaseTTL: -1}, {LeaseTTL: 1}, {SyncInterval: -1}, {SyncInterval: time.Millisecond}, {MaxRuns: -1}, {MaxRunsPerCluster: -2}, {EventTTL: -1}, {ConnectTimeout: -1},
	} {
		if err := o.Validate(); !errors.Is(err, scyllaops.ErrInvalid) {
			t.Errorf("Validate(%+v) = %v, want ErrInvalid", o, err)
		}
		if _, err := scyllaops.New(memstore.New(), nil, o); !errors.Is(err, scyllaops.ErrInvalid) {
			t.Errorf("New with %+v = %v, want ErrInvalid", o, err)
		}
	}
	if err := (scyllaops.Options{}).Validate(); err != nil {
		t.Fatalf("zero Options invalid: %v", err)
	}
	if _, err := scyllaops.New(nil, nil, scyllaops.Options{}); !errors.Is(err, scyllaops.ErrInvalid) {
		t.Fatalf("nil store: %v", err)
	}
}
