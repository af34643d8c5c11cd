package main

import (
	"bytes"
	"os"
	"reflect"
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
		{"client cert without key", "http: 127.0.0.1:5080\nssl:\n  user_cert_file: c.pem\n", "set ssl.user_cert_file and ssl.user_key_file together"},
		{"client key without cert", "http: 127.0.0.1:5080\nssl:\n  user_key_file: k.pem\n", "set ssl.user_cert_file and ssl.user_key_file together"},
		{"validate not bool", "http: 127.0.0.1:5080\nssl:\n  validate: maybe\n", "maybe"},
		{"unknown ssl key", "http: 127.0.0.1:5080\nssl:\n  ca_file: ca.pem\n", "ca_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseConfig(%q) = %v, want an error mentioning %q", tc.yaml, err, tc.want)
			}
		})
	}
}

// TestParseConfigSSL: the ssl section (TLS to the database) is a real
// section, no longer ignored; it is used with database.ssl only, and
// warned about otherwise.
func TestParseConfigSSL(t *testing.T) {
	c, err := ParseConfig([]byte("http: 127.0.0.1:5080\ndatabase:\n  hosts: [10.0.0.1]\n  ssl: true\n" +
		"ssl:\n  cert_file: /etc/ca.crt\n  user_cert_file: /etc/db.crt\n  user_key_file: /etc/db.key\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := SSLConfig{CertFile: "/etc/ca.crt", UserCertFile: "/etc/db.crt", UserKeyFile: "/etc/db.key"}
	if c.SSL != want || !c.SSL.validate() || !c.Database.SSL {
		t.Errorf("ssl = %+v (validate %v), database.ssl %v; want %+v, validate true (default), database.ssl true", c.SSL, c.SSL.validate(), c.Database.SSL, want)
	}
	if len(c.Ignored()) != 0 || c.sslUnused() != "" {
		t.Errorf("Ignored() = %v, sslUnused() = %q; want none", c.Ignored(), c.sslUnused())
	}
	// Redacted shows the paths, which hold the key material.
	if r := c.Redacted()["ssl"]; !reflect.DeepEqual(r, map[string]any{"cert_file": "/etc/ca.crt", "validate": true,
		"user_cert_file": "/etc/db.crt", "user_key_file": "/etc/db.key"}) {
		t.Errorf("Redacted()[ssl] = %v", r)
	}

	for _, tc := range []struct{ yaml, want string }{
		{"ssl:\n  validate: false\n", "ssl section ignored: database.ssl is false"},
		{"ssl:\n  cert_file: /etc/ca.crt\ndatabase:\n  hosts: [10.0.0.1]\n", "ssl section ignored: database.ssl is false"},
		{"database:\n  ssl: true\n", "database.ssl ignored: no database.hosts"},
		{"database:\n  hosts: [10.0.0.1]\n  ssl: true\n", ""},
		{"", ""},
	} {
		c, err := ParseConfig([]byte("http: 127.0.0.1:5080\n" + tc.yaml))
		if err != nil {
			t.Fatalf("ParseConfig(%q): %v", tc.yaml, err)
		}
		if got := c.sslUnused(); !strings.HasPrefix(got, tc.want) || (tc.want == "") != (got == "") {
			t.Errorf("ParseConfig(%q): sslUnused() = %q, want %q", tc.yaml, got, tc.want)
		}
	}
	c, err = ParseConfig([]byte("http: 127.0.0.1:5080\nssl:\n  validate: false\n"))
	if err != nil || c.SSL.validate() {
		t.Errorf("validate: false parsed as %v, %v", c.SSL.validate(), err)
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
		c.Backup.backupDiskFreeMin() != 10 || c.Database.SSL || c.SSL.set() {
		t.Errorf("server.yaml = %+v", c)
	}
	// The commented database TLS sample is valid once uncommented.
	b, err := os.ReadFile("server.yaml")
	if err != nil {
		t.Fatal(err)
	}
	y := string(b)
	for _, r := range [][2]string{{"\n  #ssl: true\n", "\n  ssl: true\n"}, {"\n#ssl:\n", "\nssl:\n"}, {"\n#  ", "\n  "}} {
		if !strings.Contains(y, r[0]) {
			t.Fatalf("server.yaml has no %q", r[0])
		}
		y = strings.ReplaceAll(y, r[0], r[1])
	}
	c, err = ParseConfig([]byte(y))
	if err != nil {
		t.Fatalf("server.yaml with its ssl sample uncommented: %v", err)
	}
	if !c.Database.SSL || c.SSL.CertFile == "" || !c.SSL.validate() || c.SSL.UserCertFile == "" || c.SSL.UserKeyFile == "" {
		t.Errorf("server.yaml ssl sample = database.ssl %v, %+v; want all keys set, validate true", c.Database.SSL, c.SSL)
	}
}
