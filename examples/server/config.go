package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/scheduler"
)

// Config is the server's YAML configuration. Keys are those of Scylla
// Manager's scylla-manager.yaml where one exists; keys of that file this
// server does not implement are accepted and ignored (listed in Ignored),
// so an existing scylla-manager.yaml can be reused. Unknown keys are an
// error.
type Config struct {
	// HTTP is the plain-HTTP listen address, e.g. 127.0.0.1:5080.
	HTTP string `yaml:"http"`
	// HTTPS is the HTTPS listen address, e.g. 127.0.0.1:5443.
	HTTPS string `yaml:"https"`
	// TLSVersion is the minimum TLS version: TLSv1.2 (default) or TLSv1.3.
	TLSVersion string `yaml:"tls_version"`
	// TLSCertFile and TLSKeyFile are the server's PEM identity; both
	// empty: a self-signed ECDSA P-256 certificate valid for a year.
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
	// TLSCAFile, when set, requires HTTPS clients to present a
	// certificate signed by this CA (mTLS).
	TLSCAFile string `yaml:"tls_ca_file"`
	// Prometheus is the /metrics listen address. Default ":5090"; "-"
	// disables it.
	Prometheus string `yaml:"prometheus"`
	// DataDir holds the embedded store (state.db) when no database is
	// configured. Default: ./data.
	DataDir string `yaml:"data_dir"`
	// Logger selects log level and output.
	Logger LoggerConfig `yaml:"logger"`
	// Database selects the CQL store: used when Hosts is non-empty.
	Database DatabaseConfig `yaml:"database"`
	// ShutdownTimeout bounds the graceful shutdown. Default: 30s.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// OwnerID names this server in run leases (scyllaops key). A server
	// restarted with the same ID takes its unfinished runs back at once;
	// give every server sharing a database its own. Default: the host
	// name.
	OwnerID string `yaml:"owner_id"`
	// LeaseTTL is how long a run's lease outlives a crashed server before
	// another takes the run over (scyllaops key). Default: 30s.
	LeaseTTL time.Duration `yaml:"lease_ttl"`
	// SyncInterval is how often a server reloads tasks and runs from the
	// store, so changes made through other servers show up (scyllaops
	// key). A crashed server's runs are taken over after about
	// lease_ttl + sync_interval. Default: 10s.
	SyncInterval time.Duration `yaml:"sync_interval"`
	// Roles are what this server does (scyllaops key): "api" serves the
	// REST API (sctool's /api/v1), "scheduler" runs tasks. Default: both.
	// Several api-only and scheduler-only servers on one database work as
	// one: an api server stores task changes and start requests, the
	// scheduler servers run them (a start waits for their next
	// sync_interval), and every api server shows every run's progress.
	Roles RoleList `yaml:"roles"`
	// Backup tunes the backup service.
	Backup BackupConfig `yaml:"backup"`
	// SSL configures TLS to the database, used when database.ssl is true.
	SSL SSLConfig `yaml:"ssl"`

	// Scylla Manager keys accepted and ignored.
	Debug              yaml.Node `yaml:"debug"`
	ClientCacheTimeout yaml.Node `yaml:"client_cache_timeout"`
	Healthcheck        yaml.Node `yaml:"healthcheck"`
	Restore            yaml.Node `yaml:"restore"`
	Repair             yaml.Node `yaml:"repair"`
	AgentClient        yaml.Node `yaml:"agent_client"`
	ConfigCache        yaml.Node `yaml:"config_cache"`
}

// LoggerConfig is the "logger" section.
type LoggerConfig struct {
	// Mode is stderr (default) or stdout.
	Mode string `yaml:"mode"`
	// Level is debug, info (default), warn or error.
	Level string `yaml:"level"`
	// Encoding is json (the only one; accepted for compatibility).
	Encoding    string    `yaml:"encoding"`
	Development bool      `yaml:"development"`
	Sampling    yaml.Node `yaml:"sampling"`
}

// BackupConfig is the "backup" section.
type BackupConfig struct {
	// LongPollingTimeoutSeconds is the wait of each call polling an
	// upload job on an agent: a run's stored progress is at most this
	// old while a job runs. Default: 10.
	LongPollingTimeoutSeconds int `yaml:"long_polling_timeout_seconds"`
	// AgeMax is how old the snapshot of an unfinished run may be for the
	// next run to continue it (continue=true). Default: 24h.
	AgeMax time.Duration `yaml:"age_max"`
	// DiskSpaceFreeMinPercent is the free space, in percent, that the
	// data directory filesystem of every node must have for a backup to
	// take its snapshot (all nodes are checked before any snapshot);
	// 0 = no check. Default: 10.
	DiskSpaceFreeMinPercent FreeMinPercent `yaml:"disk_space_free_min_percent"`

	// Scylla Manager keys accepted and ignored.
	PermissionCheckFilesTTL yaml.Node `yaml:"permission_check_files_ttl"`
}

// FreeMinPercent is the value of backup.disk_space_free_min_percent; Set
// is false while the key is absent.
type FreeMinPercent struct {
	Value int
	Set   bool
}

// UnmarshalYAML decodes an integer, naming the key when the value is not
// one (the YAML decoder's own error names only the line).
func (p *FreeMinPercent) UnmarshalYAML(n *yaml.Node) error {
	if err := n.Decode(&p.Value); err != nil {
		return fmt.Errorf("invalid backup.disk_space_free_min_percent %q (line %d): want %s", n.Value, n.Line, freeMinPercentForm)
	}
	p.Set = true
	return nil
}

const freeMinPercentForm = "an integer percentage from 0 to 100, e.g. 10 (0 = no check)"

// backupDiskFreeMin is backup.Options.DiskSpaceFreeMinPercent for the key:
// there 0 means the default and a negative value no check.
func (b BackupConfig) backupDiskFreeMin() int {
	if b.DiskSpaceFreeMinPercent.Value == 0 {
		return -1
	}
	return b.DiskSpaceFreeMinPercent.Value
}

// SSLConfig is the "ssl" section: TLS to the database (not the HTTPS API,
// see tls_cert_file), used when database.ssl is true.
type SSLConfig struct {
	// CertFile is a PEM file of the CA certificates the database's
	// certificates must be signed by. Default: the system roots.
	CertFile string `yaml:"cert_file"`
	// Validate verifies the database's certificate: signed by a CA of
	// CertFile and naming the host (the name or IP in database.hosts).
	// false encrypts without authenticating the database. Default: true.
	Validate *bool `yaml:"validate"`
	// UserCertFile and UserKeyFile are the PEM client certificate and
	// key, for databases that require client certificates
	// (require_client_auth); both or neither.
	UserCertFile string `yaml:"user_cert_file"`
	UserKeyFile  string `yaml:"user_key_file"`
}

// validate is Validate with its default.
func (s SSLConfig) validate() bool { return s.Validate == nil || *s.Validate }

// set reports whether any key of the section is present.
func (s SSLConfig) set() bool {
	return s.CertFile != "" || s.Validate != nil || s.UserCertFile != "" || s.UserKeyFile != ""
}

// DatabaseConfig is the "database" section.
type DatabaseConfig struct {
	// Hosts are the CQL contact points; empty: the embedded store.
	Hosts []string `yaml:"hosts"`
	// Port is the CQL port of Hosts without one. Default: 9042.
	Port     int    `yaml:"port"`
	User     string `yaml:"user"`
	Password string `yaml:"password"`
	LocalDC  string `yaml:"local_dc"`
	// Keyspace holds the tables. Default: "scyllaops" (not Scylla
	// Manager's "scylla_manager": the schemas differ).
	Keyspace string `yaml:"keyspace"`
	// ReplicationFactor of the keyspace when it is created
	// (SimpleStrategy). Default: 1.
	ReplicationFactor int `yaml:"replication_factor"`
	// Timeout bounds each query. Default: 5s.
	Timeout time.Duration `yaml:"timeout"`
	// ProtoVersion forces the CQL native protocol version, 3 or 4
	// (scyllaops key). Default: 0, negotiated. Cassandra 2.1 needs 3.
	ProtoVersion int `yaml:"proto_version"`
	// DisableInitialHostLookup makes the driver use hosts only, without
	// reading system.peers (scyllaops key): for Cassandra 2.1 and for
	// hosts behind NAT. Default: false.
	DisableInitialHostLookup bool `yaml:"disable_initial_host_lookup"`

	// SSL enables TLS to the database, configured by the top-level ssl
	// section. Default: false.
	SSL                           bool      `yaml:"ssl"`
	TokenAware                    yaml.Node `yaml:"token_aware"`
	MigrateTimeout                yaml.Node `yaml:"migrate_timeout"`
	MigrateMaxWaitSchemaAgreement yaml.Node `yaml:"migrate_max_wait_schema_agreement"`
}

// LoadConfig reads and validates a config file.
func LoadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return ParseConfig(b)
}

// ParseConfig parses and validates YAML.
func ParseConfig(b []byte) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	c = c.withDefaults()
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

func (c Config) withDefaults() Config {
	if c.Prometheus == "" {
		c.Prometheus = ":5090"
	}
	if c.DataDir == "" {
		c.DataDir = "data"
	}
	if c.TLSVersion == "" {
		c.TLSVersion = "TLSv1.2"
	}
	if c.Logger.Level == "" {
		c.Logger.Level = "info"
	}
	if c.Logger.Mode == "" {
		c.Logger.Mode = "stderr"
	}
	if c.OwnerID == "" {
		c.OwnerID, _ = os.Hostname()
	}
	if len(c.Roles) == 0 {
		c.Roles = RoleList{RoleAPI, RoleScheduler}
	}
	// The library's defaults, so the startup log shows what applies.
	if c.LeaseTTL == 0 {
		c.LeaseTTL = scyllaops.DefaultLeaseTTL
	}
	if c.SyncInterval == 0 {
		c.SyncInterval = scheduler.DefaultSyncInterval
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 30 * time.Second
	}
	if c.Backup.LongPollingTimeoutSeconds == 0 {
		c.Backup.LongPollingTimeoutSeconds = 10
	}
	if c.Backup.AgeMax == 0 {
		c.Backup.AgeMax = 24 * time.Hour
	}
	if !c.Backup.DiskSpaceFreeMinPercent.Set {
		c.Backup.DiskSpaceFreeMinPercent = FreeMinPercent{Value: 10, Set: true}
	}
	if c.Database.Port == 0 {
		c.Database.Port = 9042
	}
	if c.Database.Keyspace == "" {
		c.Database.Keyspace = "scyllaops"
	}
	if c.Database.ReplicationFactor == 0 {
		c.Database.ReplicationFactor = 1
	}
	return c
}

// Validate reports the first invalid key, naming it and the accepted form.
func (c Config) Validate() error {
	bad := func(key, want, got string) error {
		return fmt.Errorf("config: invalid %s %q: want %s", key, got, want)
	}
	seen := map[string]bool{}
	for _, r := range c.Roles {
		if r != RoleAPI && r != RoleScheduler || seen[r] {
			return bad("roles", "a list of distinct roles among api and scheduler, e.g. [api, scheduler]", strings.Join(c.Roles, ","))
		}
		seen[r] = true
	}
	if c.HTTP == "" && c.HTTPS == "" && c.HasRole(RoleAPI) {
		return fmt.Errorf("config: set http or https (or both): want e.g. http: 127.0.0.1:5080 (or roles: [scheduler] for a server without the API)")
	}
	for key, addr := range map[string]string{"http": c.HTTP, "https": c.HTTPS} {
		if addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return bad(key, "host:port, e.g. 127.0.0.1:5080", addr)
		}
	}
	if c.Prometheus != "-" {
		if _, _, err := net.SplitHostPort(c.Prometheus); err != nil {
			return bad("prometheus", "host:port, e.g. :5090, or - to disable", c.Prometheus)
		}
	}
	switch c.TLSVersion {
	case "TLSv1.2", "TLSv1.3":
	default:
		return bad("tls_version", "TLSv1.2 or TLSv1.3", c.TLSVersion)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return fmt.Errorf("config: set tls_cert_file and tls_key_file together, or neither (self-signed)")
	}
	if c.TLSCAFile != "" && c.HTTPS == "" {
		return fmt.Errorf("config: tls_ca_file needs https: client certificates are checked on the HTTPS listener")
	}
	switch c.Logger.Mode {
	case "stderr", "stdout":
	default:
		return bad("logger.mode", "stderr or stdout", c.Logger.Mode)
	}
	switch strings.ToLower(c.Logger.Level) {
	case "debug", "info", "warn", "error":
	default:
		return bad("logger.level", "debug, info, warn or error", c.Logger.Level)
	}
	if c.Logger.Encoding != "" && c.Logger.Encoding != "json" {
		return bad("logger.encoding", "json", c.Logger.Encoding)
	}
	if c.Database.Port < 1 || c.Database.Port > 65535 {
		return bad("database.port", "a TCP port, e.g. 9042", fmt.Sprint(c.Database.Port))
	}
	if c.Database.ReplicationFactor < 1 {
		return bad("database.replication_factor", "a count >= 1", fmt.Sprint(c.Database.ReplicationFactor))
	}
	if c.LeaseTTL < 0 || c.LeaseTTL > 0 && c.LeaseTTL < 100*time.Millisecond {
		return bad("lease_ttl", "a duration >= 100ms, e.g. 30s (0 = default)", c.LeaseTTL.String())
	}
	if c.SyncInterval < 0 || c.SyncInterval > 0 && c.SyncInterval < 100*time.Millisecond {
		return bad("sync_interval", "a duration >= 100ms, e.g. 10s (0 = default)", c.SyncInterval.String())
	}
	switch c.Database.ProtoVersion {
	case 0, 3, 4:
	default:
		return bad("database.proto_version", "3 or 4 (0 = negotiate)", fmt.Sprint(c.Database.ProtoVersion))
	}
	if c.Database.Timeout < 0 {
		return bad("database.timeout", "a duration > 0, e.g. 5s", c.Database.Timeout.String())
	}
	if c.Backup.LongPollingTimeoutSeconds < 1 || c.Backup.LongPollingTimeoutSeconds > 600 {
		return bad("backup.long_polling_timeout_seconds", "seconds from 1 to 600, e.g. 10", fmt.Sprint(c.Backup.LongPollingTimeoutSeconds))
	}
	if c.Backup.AgeMax < 0 {
		return bad("backup.age_max", "a duration > 0, e.g. 24h", c.Backup.AgeMax.String())
	}
	if p := c.Backup.DiskSpaceFreeMinPercent.Value; p < 0 || p > 100 {
		return bad("backup.disk_space_free_min_percent", freeMinPercentForm, fmt.Sprint(p))
	}
	if c.ShutdownTimeout < 0 {
		return bad("shutdown_timeout", "a duration > 0, e.g. 30s", c.ShutdownTimeout.String())
	}
	if (c.SSL.UserCertFile == "") != (c.SSL.UserKeyFile == "") {
		return fmt.Errorf("config: set ssl.user_cert_file and ssl.user_key_file together (a PEM client certificate and its key), or neither")
	}
	return nil
}

// Server roles (the roles key).
const (
	RoleAPI       = "api"
	RoleScheduler = "scheduler"
)

// RoleList is the value of the roles key: a YAML list, or one role as a
// scalar ("roles: scheduler").
type RoleList []string

// UnmarshalYAML decodes a list or a scalar, naming the key on error.
func (r *RoleList) UnmarshalYAML(n *yaml.Node) error {
	var one string
	if n.Kind == yaml.ScalarNode && n.Decode(&one) == nil {
		*r = RoleList{one}
		return nil
	}
	var list []string
	if err := n.Decode(&list); err != nil {
		return fmt.Errorf("invalid roles (line %d): want a list of roles among api and scheduler, e.g. [api, scheduler]", n.Line)
	}
	*r = list
	return nil
}

// HasRole reports whether the server has the role.
func (c Config) HasRole(role string) bool { return slices.Contains(c.Roles, role) }

// Ignored lists the Scylla Manager keys present in the file that this
// server does not implement.
func (c Config) Ignored() []string {
	var out []string
	for k, n := range map[string]yaml.Node{
		"debug": c.Debug, "client_cache_timeout": c.ClientCacheTimeout, "healthcheck": c.Healthcheck,
		"backup.permission_check_files_ttl": c.Backup.PermissionCheckFilesTTL, "restore": c.Restore, "repair": c.Repair, "agent_client": c.AgentClient, "config_cache": c.ConfigCache,
	} {
		if n.Kind != 0 {
			out = append(out, k)
		}
	}
	return out
}

// sslUnused is a warning when database TLS is configured but not used:
// the ssl section without database.ssl (Scylla Manager ignores it too, so
// a reused scylla-manager.yaml still loads; a database that requires TLS
// then refuses the plaintext connection), or database.ssl without a
// database. Empty when there is nothing to say.
func (c Config) sslUnused() string {
	switch {
	case c.Database.SSL && len(c.Database.Hosts) == 0:
		return "database.ssl ignored: no database.hosts, the embedded store is used"
	case c.SSL.set() && !c.Database.SSL:
		return "ssl section ignored: database.ssl is false (set database.ssl: true for TLS to the database)"
	}
	return ""
}

// Redacted returns the config as a log attribute value with every secret
// replaced.
func (c Config) Redacted() map[string]any {
	pw := ""
	if c.Database.Password != "" {
		pw = redacted
	}
	return map[string]any{
		"http": c.HTTP, "https": c.HTTPS, "tls_version": c.TLSVersion, "tls_cert_file": c.TLSCertFile,
		"tls_key_file": c.TLSKeyFile, "tls_ca_file": c.TLSCAFile, "prometheus": c.Prometheus, "data_dir": c.DataDir,
		"roles": c.Roles, "owner_id": c.OwnerID, "lease_ttl": c.LeaseTTL.String(), "sync_interval": c.SyncInterval.String(),
		"backup": map[string]any{"long_polling_timeout_seconds": c.Backup.LongPollingTimeoutSeconds, "age_max": c.Backup.AgeMax.String(),
			"disk_space_free_min_percent": c.Backup.DiskSpaceFreeMinPercent.Value},
		"logger": map[string]any{"mode": c.Logger.Mode, "level": c.Logger.Level},
		"database": map[string]any{
			"hosts": c.Database.Hosts, "port": c.Database.Port, "user": c.Database.User, "password": pw,
			"keyspace": c.Database.Keyspace, "local_dc": c.Database.LocalDC, "ssl": c.Database.SSL,
			"proto_version": c.Database.ProtoVersion, "disable_initial_host_lookup": c.Database.DisableInitialHostLookup,
		},
		// File paths only: the key material stays in the files.
		"ssl": map[string]any{"cert_file": c.SSL.CertFile, "validate": c.SSL.validate(), "user_cert_file": c.SSL.UserCertFile,
			"user_key_file": c.SSL.UserKeyFile},
	}
}
