package cqlstore

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/gocql/gocql"

	"github.com/scyllaops/scyllaops/store"
)

// Options configure Open. The zero value of every field but Hosts is a
// usable default.
type Options struct {
	// Hosts are the contact points, "host" or "host:port" (port default
	// 9042). Required.
	Hosts []string
	// Keyspace holds the tables. Default: "scyllaops". It must match
	// [A-Za-z][A-Za-z0-9_]{0,47}.
	Keyspace string
	// Replication is the replication map used when Open creates the
	// keyspace, e.g. {"class": "NetworkTopologyStrategy", "dc1": "3"}.
	// It is ignored if the keyspace exists (create it yourself for
	// anything unusual). Default: {"class": "SimpleStrategy",
	// "replication_factor": "1"}, which suits a single-node test
	// database only: use NetworkTopologyStrategy with RF 3 in production.
	Replication map[string]string
	// Username and Password log in with PasswordAuthenticator when
	// Username is non-empty.
	Username string
	Password string
	// Consistency of reads and plain writes. Default: gocql.Quorum
	// (gocql.LocalQuorum when LocalDC is set).
	Consistency gocql.Consistency
	// SerialConsistency of lightweight transactions. Default: gocql.Serial
	// (gocql.LocalSerial when LocalDC is set).
	SerialConsistency gocql.SerialConsistency
	// LocalDC, if set, makes routing DC-aware (token-aware within the
	// DC). Default: token-aware round robin over all hosts.
	LocalDC string
	// Timeout bounds each request. Default: 5s.
	Timeout time.Duration
	// ConnectTimeout bounds each connection attempt, and so how long Open
	// waits for unreachable hosts. Default: 5s.
	ConnectTimeout time.Duration
	// MigrateTimeout bounds keyspace creation and schema migration at
	// Open. Default: 2m.
	MigrateTimeout time.Duration
	// ProtoVersion forces a native protocol version (3 for Cassandra
	// 2.1). Default: 0, negotiated.
	ProtoVersion int
	// DisableInitialHostLookup makes the driver use Hosts only, without
	// reading system.peers. Needed for Cassandra 2.1 (its system.local
	// lacks columns the driver expects) and for hosts behind NAT.
	DisableInitialHostLookup bool
	// TLS, if non-nil, enables TLS to the database with this config.
	// Unless InsecureSkipVerify, the server's certificate is verified
	// against RootCAs (nil: the system roots) and, when ServerName is
	// empty, against each host: the name or IP given in Hosts, the IP of
	// a discovered peer. Certificates holds a client certificate for
	// servers that require one. The handshake is bounded by
	// ConnectTimeout; a TLS failure at Open matches ErrTLS.
	TLS *tls.Config
	// ProgressTTL is how long a progress row lives after its last write.
	// Default: 180 days (as Scylla Manager). Maximum: 20 years.
	ProgressTTL time.Duration
	// EventTTL is the TTL given to events whose Event.TTL is 0. Default:
	// 0, such events never expire. Maximum: 20 years.
	EventTTL time.Duration
	// Logger receives connection and migration messages. Default: none.
	Logger *slog.Logger
}

const (
	defaultKeyspace    = "scyllaops"
	defaultProgressTTL = 180 * 24 * time.Hour
	// maxTTL is the largest TTL CQL accepts (20 years).
	maxTTL = 630720000 * time.Second
)

var (
	keyspaceRe    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,47}$`)
	replicationRe = regexp.MustCompile(`^[A-Za-z0-9_.\-]+$`)
)

// Validate reports the first invalid field as a store.ErrInvalid error.
func (o Options) Validate() error {
	if len(o.Hosts) == 0 {
		return store.Invalid("cqlstore.hosts", "at least one contact point, e.g. \"10.0.0.1:9042\"", "")
	}
	for _, h := range o.Hosts {
		if strings.TrimSpace(h) == "" {
			return store.Invalid("cqlstore.hosts", "non-empty \"host\" or \"host:port\" entries", h)
		}
	}
	if o.Keyspace != "" && !keyspaceRe.MatchString(o.Keyspace) {
		return store.Invalid("cqlstore.keyspace", "a keyspace name matching [A-Za-z][A-Za-z0-9_]{0,47}, e.g. \"scyllaops\"", o.Keyspace)
	}
	if len(o.Replication) > 0 {
		if o.Replication["class"] == "" {
			return store.Invalid("cqlstore.replication", "a map with a \"class\" entry, e.g. {class: NetworkTopologyStrategy, dc1: \"3\"}", fmt.Sprint(o.Replication))
		}
		for k, v := range o.Replication {
			if !replicationRe.MatchString(k) || !replicationRe.MatchString(v) {
				return store.Invalid("cqlstore.replication", "keys and values of letters, digits, '_', '.' or '-'", k+": "+v)
			}
		}
	}
	for _, d := range []struct {
		field string
		v     time.Duration
		max   time.Duration
	}{
		{"cqlstore.timeout", o.Timeout, 0},
		{"cqlstore.connect_timeout", o.ConnectTimeout, 0},
		{"cqlstore.migrate_timeout", o.MigrateTimeout, 0},
		{"cqlstore.progress_ttl", o.ProgressTTL, maxTTL},
		{"cqlstore.event_ttl", o.EventTTL, maxTTL},
	} {
		if d.v < 0 || (d.max > 0 && d.v > d.max) {
			return store.Invalid(d.field, "a duration >= 0 (0 = default), at most 20 years for TTLs", d.v.String())
		}
	}
	if o.ProtoVersion != 0 && (o.ProtoVersion < 3 || o.ProtoVersion > 4) {
		return store.Invalid("cqlstore.proto_version", "0 (negotiate), 3 or 4", fmt.Sprint(o.ProtoVersion))
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.Keyspace == "" {
		o.Keyspace = defaultKeyspace
	}
	if len(o.Replication) == 0 {
		o.Replication = map[string]string{"class": "SimpleStrategy", "replication_factor": "1"}
	}
	if o.Consistency == gocql.Any {
		o.Consistency = gocql.Quorum
		if o.LocalDC != "" {
			o.Consistency = gocql.LocalQuorum
		}
	}
	if o.SerialConsistency == 0 {
		o.SerialConsistency = gocql.Serial
		if o.LocalDC != "" {
			o.SerialConsistency = gocql.LocalSerial
		}
	}
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = 5 * time.Second
	}
	if o.MigrateTimeout == 0 {
		o.MigrateTimeout = 2 * time.Minute
	}
	if o.ProgressTTL == 0 {
		o.ProgressTTL = defaultProgressTTL
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// replicationCQL renders the replication map as a CQL map literal with
// sorted keys.
func replicationCQL(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("'%s': '%s'", k, m[k]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
