package restapi_test

import (
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/internal/testenv"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/sealed"
)

// Secrets are sealed in the store and never in an API answer or a log
// line (debug level included).
func TestSecretsNeverShown(t *testing.T) {
	k := make([]byte, sealed.KeyLen)
	_, _ = rand.Read(k)
	t.Setenv("SCYLLAOPS_TEST_KEY", base64.StdEncoding.EncodeToString(k))
	logs := &testenv.Buffer{}
	e := newEnv(t, scyllaops.Options{SkipConnectivityCheck: true, SecretsKeyEnv: "SCYLLAOPS_TEST_KEY",
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	secrets := []string{"agent-token-S3CR3T", "cql-pass-S3CR3T", "alt-secret-S3CR3T"}
	e.call("POST", "/api/v1/clusters", `{"name":"c1","host":"10.0.0.1","auth_token":"agent-token-S3CR3T","username":"u","password":"cql-pass-S3CR3T",`+
		`"alternator_access_key_id":"ak","alternator_secret_access_key":"alt-secret-S3CR3T"}`, "cluster", http.StatusCreated, "")
	e.call("PUT", "/api/v1/cluster/c1", `{"name":"c1","host":"10.0.0.1","password":"cql-pass-S3CR3T","username":"u2"}`, "", http.StatusOK, "")
	_, get := e.call("GET", "/api/v1/cluster/c1", "", "", http.StatusOK, "cluster")
	_, list := e.call("GET", "/api/v1/clusters", "", "", http.StatusOK, "")
	if !strings.Contains(string(get), `"auth_token":"set"`) {
		t.Errorf("GET cluster %s does not show the token as set", get)
	}
	for _, s := range secrets {
		for what, text := range map[string]string{"GET cluster": string(get), "list clusters": string(list), "logs": logs.String()} {
			if strings.Contains(text, s) {
				t.Errorf("%s shows the secret %q", what, s)
			}
		}
	}
	// The Manager reads them back; the store under the seal holds none.
	c, err := e.m.GetCluster(t.Context(), "c1")
	if err != nil {
		t.Fatal(err)
	}
	if u, p, err := e.m.CQLCredentials(t.Context(), c.ID); err != nil || u != "u2" || p != "cql-pass-S3CR3T" {
		t.Fatalf("CQLCredentials = %q %q %v", u, p, err)
	}
	for _, key := range []string{store.SecretAuthToken, store.SecretCQLCreds, store.SecretAlternatorCreds} {
		raw, err := e.st.GetSecret(t.Context(), c.ID, key)
		if err != nil || !sealed.IsSealed(raw) {
			t.Errorf("stored %s = %q (%v), want it sealed", key, raw, err)
		}
	}
}
