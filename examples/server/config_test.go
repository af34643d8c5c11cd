package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte("http: 127.0.0.1:5080\nhealthcheck:\n  max_timeout: 1s\nrepair:\n  poll_interval: 50ms\n" +
		"backup:\n  disk_space_free_min_percent: 10\n  age_max: 12h\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Prometheus != ":5090" || c.DataDir != "data" || c.TLSVersion != "TLSv1.2" || c.Database.Port != 9042 || c.Database.Keyspace != "scyllaops" {
		t.Errorf("defaults not applied: %+v", c)
	}
	if c.Backup.LongPollingTimeoutSeconds != 10 || c.Backup.AgeMax != 12*time.Hour || c.Backup.backupDiskFreeMin() != 10 {
		t.Errorf("backup section = %+v, want long_polling_timeout_seconds 10 (default), age_max 12h, disk_space_free_min_percent 10", c.Backup)
	}
	if got := strings.Join(slices.Sorted(slices.Values(c.Ignored())), ","); got != "healthcheck,repair" {
		t.Errorf("Ignored() = %s, want healthcheck,repair", got)
	}
	// disk_space_free_min_percent: absent or empty = 10; 0 disables the
	// check (a negative backup.Options value); other values pass through.
	for _, tc := range []struct {
		yaml string
		want int
	}{
		{"", 10},
		{"backup:\n  disk_space_free_min_percent:\n", 10},
		{"backup:\n  disk_space_free_min_percent: 0\n", -1},
		{"backup:\n  disk_space_free_min_percent: 25\n", 25},
		{"backup:\n  disk_space_free_min_percent: 100\n", 100},
	} {
		c, err := ParseConfig([]byte("http: 127.0.0.1:5080\n" + tc.yaml))
		if err != nil {
			t.Fatalf("ParseConfig(%q): %v", tc.yaml, err)
		}
		if got := c.Backup.backupDiskFreeMin(); got != tc.want {
			t.Errorf("ParseConfig(%q): backup.Options.DiskSpaceFreeMinPercent %d, want %d", tc.yaml, got, tc.want)
		}
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"no listener", "prometheus: :5090\n", "set http or https"},
		{"unknown key", "http: 127.0.0.1:5080\nhtp: x\n", "htp"},
		{"bad addr", "http: localhost\n", "http"},
		{"bad tls version", "https: 127.0.0.1:5443\ntls_version: SSLv3\n", "tls_version"},
		{"half identity", "https: 127.0.0.1:5443\ntls_cert_file: a.pem\n", "tls_key_file"},
		{"ca without https", "http: 127.0.0.1:5080\ntls_ca_file: ca.pem\n", "tls_ca_file"},
		{"bad level", "http: 127.0.0.1:5080\nlogger:\n  level: loud\n", "logger.level"},
		{"bad yaml", "http: [\n", "config"},
		{"bad sync interval", "http: 127.0.0.1:5080\nsync_interval: 1ms\n", "sync_interval"},
		{"bad proto version", "http: 127.0.0.1:5080\ndatabase:\n  proto_version: 2\n", "database.proto_version"},
		{"bad long poll", "http: 127.0.0.1:5080\nbackup:\n  long_polling_timeout_seconds: -1\n", "backup.long_polling_timeout_seconds"},
		{"bad age max", "http: 127.0.0.1:5080\nbackup:\n  age_max: -1h\n", "backup.age_max"},
		{"free min over 100", "http: 127.0.0.1:5080\nbackup:\n  disk_space_free_min_percent: 101\n", `invalid backup.disk_space_free_min_percent "101": want an integer percentage from 0 to 100`},
		{"free min negative", "http: 127.0.0.1:5080\nbackup:\n  disk_space_free_min_percent: -1\n", `invalid backup.disk_space_free_min_percent "-1"`},
		{"free min not int", "http: 127.0.0.1:5080\nbackup:\n  disk_space_free_min_percent: 10%\n", `invalid backup.disk_space_free_min_percent "10%" (line 3): want an integer percentage`},
		{"negative db timeout", "http: 127.0.0.1:5080\ndatabase:\n  timeout: -1s\n", "database.timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseConfig(%q) = %v, want an error mentioning %q", tc.yaml, err, tc.want)
			}
		})
	}
}

func TestLoggerRedactsSecrets(t *testing.T) {
	var buf bytes.Buffer
	log := newLogger(&buf, "info")
	cfg, err := ParseConfig([]byte("http: 127.0.0.1:5080\ndatabase:\n  hosts: [10.0.0.1]\n  user: admin\n  password: hunter2\n"))
	if err != nil {
		t.Fatal(err)
	}
	log.Info("starting", "config", cfg.Redacted(), "auth_token", "tok-123", "nested", map[string]any{"db": map[string]any{"password": "pw-456"}})
	out := buf.String()
	for _, secret := range []string{"hunter2", "tok-123", "pw-456"} {
		if strings.Contains(out, secret) {
			t.Errorf("log leaks %q: %s", secret, out)
		}
	}
	if !strings.Contains(out, redacted) || !strings.Contains(out, `"user":"admin"`) {
		t.Errorf("log lacks the redaction marker or the non-secret fields: %s", out)
	}
}

func TestSampleConfig(t *testing.T) {
	c, err := LoadConfig("server.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP != "127.0.0.1:5080" || c.Prometheus != ":5090" || len(c.Database.Hosts) != 0 || c.Database.ReplicationFactor != 3 ||
		c.Backup.backupDiskFreeMin() != 10 {
		t.Errorf("server.yaml = %+v", c)
	}
}
