package main

import (
	"testing"
)

func TestParseConfigSecurityKeys(t *testing.T) {
	cfg, err := ParseConfig([]byte("http: 127.0.0.1:5080\nagent_tls:\n  ca_file: /etc/scyllaops/agents-ca.pem\nsecrets_key_file: /etc/scyllaops/secrets.key\nsecrets_key_env: SCYLLAOPS_SECRETS_KEY\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AgentTLS.CAFile != "/etc/scyllaops/agents-ca.pem" || cfg.AgentTLS.InsecureSkipVerify ||
		cfg.SecretsKeyFile != "/etc/scyllaops/secrets.key" || cfg.SecretsKeyEnv != "SCYLLAOPS_SECRETS_KEY" {
		t.Fatalf("parsed %+v", cfg)
	}
	if _, err := ParseConfig([]byte("http: 127.0.0.1:5080\nagent_tls:\n  ca_fil: x\n")); err == nil {
		t.Fatal("an unknown agent_tls key was accepted")
	}
}
