package cqlstore

import (
	"context"
	"crypto/md5" //nolint:gosec // same checksum as gocqlx/migrate records
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gocql/gocql"
	"github.com/scylladb/gocqlx/v2"
	"github.com/scylladb/gocqlx/v2/migrate"

	"github.com/scyllaops/scyllaops/store"
)

//go:embed schema/*.cql
var schemaFS embed.FS

var (
	_ store.Store           = (*Store)(nil)
	_ store.ProgressBatcher = (*Store)(nil)
)

// Store is a store.Store on a CQL database. Create it with Open.
type Store struct {
	h      sessionHolder
	opts   Options
	log    *slog.Logger
	closed atomic.Bool
	// down receives the generation of a session whose hosts are all
	// down; quit stops dropLoop, wg waits for it.
	down chan int
	quit chan struct{}
	wg   sync.WaitGroup
}

// ErrSchema is matched (errors.Is) by the error Open returns when the
// keyspace holds a schema this version cannot use: a migration it does not
// know (written by a newer version) or one whose checksum differs.
var ErrSchema = errors.New("cqlstore: incompatible schema")

// Open connects to the database, creates the keyspace if it is missing
// and brings its schema up to date. It fails with a clear error, within
// about Options.ConnectTimeout per host, when the hosts are unreachable or
// the credentials are wrong, and with ErrSchema when the keyspace's schema
// is incompatible. ctx bounds the whole of Open; the returned Store does
// not keep it.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("cqlstore: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	log := opts.Logger.With("component", "cqlstore", "keyspace", opts.Keyspace)

	// The first session never discovers hosts, so it works on every
	// server; it checks that host discovery will work before a session
	// that uses it is opened.
	sysOpts := opts
	sysOpts.DisableInitialHostLookup = true
	sys, err := connect(ctx, sysOpts, "", nil)
	if err != nil {
		return nil, err
	}
	defer sys.Close()
	mctx, cancel := context.WithTimeout(ctx, opts.MigrateTimeout)
	defer cancel()
	if err := checkServer(mctx, sys, opts); err != nil {
		return nil, err
	}
	s := &Store{opts: opts, log: log, down: make(chan int, 1), quit: make(chan struct{})}
	var sess *gocql.Session
	err = withSchemaLock(mctx, sys, opts, log, func() error {
		if err := createKeyspace(mctx, sys, opts); err != nil {
			return err
		}
		var err error
		if sess, err = connect(ctx, opts, opts.Keyspace, s.watch(0)); err != nil {
			return err
		}
		if err := migrateSchema(mctx, sess, opts.Keyspace, log); err != nil {
			return err
		}
		if err := sess.AwaitSchemaAgreement(mctx); err != nil {
			return fmt.Errorf("cqlstore: keyspace %s: await schema agreement after migration: %w", opts.Keyspace, err)
		}
		return nil
	})
	if err != nil {
		if sess != nil {
			sess.Close()
		}
		return nil, err
	}
	s.h.sess = sess
	s.wg.Go(s.dropLoop)
	log.Info("cqlstore open", "hosts", strings.Join(opts.Hosts, ","))
	return s, nil
}

// connect opens a session. allDown, if not nil, is called when all hosts
// of the session are down.
func connect(ctx context.Context, o Options, keyspace string, allDown func()) (*gocql.Session, error) {
	c := gocql.NewCluster(o.Hosts...)
	c.Keyspace = keyspace
	c.Consistency = o.Consistency
	c.SerialConsistency = o.SerialConsistency
	c.Timeout = o.Timeout
	c.ConnectTimeout = o.ConnectTimeout
	c.ProtoVersion = o.ProtoVersion
	c.DisableInitialHostLookup = o.DisableInitialHostLookup
	c.Logger = slogAdapter{o.Logger}
	fallback := gocql.RoundRobinHostPolicy()
	if o.LocalDC != "" {
		fallback = gocql.DCAwareRoundRobinPolicy(o.LocalDC)
	}
	c.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(fallback)
	if allDown != nil {
		c.ConnectObserver = &connWatch{allDown: allDown, ok: map[string]bool{}}
	}
	if o.Username != "" {
		c.Authenticator = gocql.PasswordAuthenticator{Username: o.Username, Password: o.Password}
	}
	if o.TLS != nil {
		// Not SslOpts: its handshake has no deadline (see tlsDialer).
		c.HostDialer = newTLSDialer(o.TLS, o.ConnectTimeout)
	}
	// A failed connection attempt is not retried (Open should fail fast),
	// but hosts that went down are probed every 2s (default 60s), so the
	// store is usable again soon after a database restart.
	c.ReconnectionPolicy = &gocql.ConstantReconnectionPolicy{MaxRetries: 1, Interval: o.ConnectTimeout}
	c.ReconnectInterval = 2 * time.Second
	sess, err := c.CreateSession()
	if err != nil {
		return nil, fmt.Errorf("cqlstore: connect to %s: %w", strings.Join(o.Hosts, ","), explainConnect(err, o.TLS != nil))
	}
	if err := ctx.Err(); err != nil {
		sess.Close()
		return nil, err
	}
	return sess, nil
}

// explainConnect adds a hint to the driver's connection errors, whose text
// alone does not say that credentials were refused or TLS failed (the
// driver keeps only the text of the causes). withTLS: Options.TLS is set.
func explainConnect(err error, withTLS bool) error {
	msg := err.Error()
	switch {
	case withTLS && tlsFailure(msg):
		return tlsError{fmt.Errorf("TLS failed (check Options.TLS: the server's certificate must be signed by a CA in RootCAs "+
			"and name the host, a server requiring client certificates needs one in Certificates): %w", err)}
	case strings.Contains(msg, "authentication") || strings.Contains(msg, "Username and/or password"):
		return fmt.Errorf("login refused (check Options.Username/Password): %w", err)
	case strings.Contains(msg, "no connections were made") || strings.Contains(msg, "unable to discover protocol"):
		return fmt.Errorf("no host reachable: %w", err)
	}
	return err
}

// checkServer refuses, with advice, a server whose system.local lacks
// rpc_address (Cassandra before 2.1.6) when host discovery is on: gocql
// v1.7.0 panics on such servers.
func checkServer(ctx context.Context, sys *gocql.Session, o Options) error {
	if o.DisableInitialHostLookup {
		return nil
	}
	var rpc string
	err := sys.Query("SELECT rpc_address FROM system.local WHERE key = 'local'").WithContext(ctx).Scan(&rpc)
	if err != nil && strings.Contains(err.Error(), "rpc_address") {
		return fmt.Errorf("cqlstore: %s: the server's system.local has no rpc_address (Cassandra older than 2.1.6?), "+
			"so the driver cannot discover hosts: set Options.DisableInitialHostLookup: %w", strings.Join(o.Hosts, ","), err)
	}
	if err != nil {
		return fmt.Errorf("cqlstore: read system.local: %w", err)
	}
	return nil
}

func createKeyspace(ctx context.Context, sess *gocql.Session, o Options) error {
	stmt := fmt.Sprintf("CREATE KEYSPACE IF NOT EXISTS %q WITH replication = %s", o.Keyspace, replicationCQL(o.Replication))
	if err := sess.Query(stmt).WithContext(ctx).Exec(); err != nil {
		return fmt.Errorf("cqlstore: create keyspace %s: %w", o.Keyspace, err)
	}
	if err := sess.AwaitSchemaAgreement(ctx); err != nil {
		return fmt.Errorf("cqlstore: create keyspace %s: await schema agreement: %w", o.Keyspace, err)
	}
	return nil
}

// migrateSchema checks the migrations recorded in the keyspace against the
// embedded files, then applies the missing ones.
func migrateSchema(ctx context.Context, sess *gocql.Session, keyspace string, log *slog.Logger) error {
	xs := gocqlx.NewSession(sess)
	applied, err := migrate.List(ctx, xs)
	if err != nil {
		return fmt.Errorf("cqlstore: read schema version of keyspace %s: %w", keyspace, err)
	}
	files, err := fs.Glob(schemaFS, "schema/*.cql")
	if err != nil {
		return fmt.Errorf("cqlstore: list embedded schema: %w", err)
	}
	sort.Strings(files)
	known := map[string]string{}
	for _, f := range files {
		b, err := schemaFS.ReadFile(f)
		if err != nil {
			return fmt.Errorf("cqlstore: read embedded schema: %w", err)
		}
		sum := md5.Sum(b) //nolint:gosec // checksum format of gocqlx/migrate
		known[strings.TrimPrefix(f, "schema/")] = hex.EncodeToString(sum[:])
	}
	for _, m := range applied {
		want, ok := known[m.Name]
		if !ok {
			return fmt.Errorf("%w: keyspace %s has migration %q, which this version does not know (written by a newer scyllaops?); known: %s",
				ErrSchema, keyspace, m.Name, strings.Join(sortedKeys(known), ", "))
		}
		if m.Checksum != want {
			return fmt.Errorf("%w: keyspace %s: migration %q has checksum %s, this version has %s",
				ErrSchema, keyspace, m.Name, m.Checksum, want)
		}
	}
	sub, err := fs.Sub(schemaFS, "schema")
	if err != nil {
		return fmt.Errorf("cqlstore: embedded schema: %w", err)
	}
	if err := migrate.FromFS(ctx, xs, sub); err != nil {
		return fmt.Errorf("cqlstore: migrate keyspace %s: %w", keyspace, err)
	}
	log.Debug("schema up to date", "migrations", len(files))
	return nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Close closes the session. It is idempotent; later calls of other methods
// return store.ErrClosed.
func (s *Store) Close() error {
	if s.closed.CompareAndSwap(false, true) {
		close(s.quit)
		s.wg.Wait()
		s.h.mu.Lock()
		s.h.sess.Close()
		s.h.mu.Unlock()
	}
	return nil
}

// begin is called first by every method.
func (s *Store) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return fmt.Errorf("cqlstore: %w", store.ErrClosed)
	}
	return s.ensureSession(ctx)
}

// query returns a query bound to ctx.
func (s *Store) query(ctx context.Context, stmt string, args ...any) *gocql.Query {
	return s.current().Query(stmt, args...).WithContext(ctx)
}

// dbErr wraps a driver error of operation op.
func (s *Store) dbErr(op string, err error) error {
	switch {
	case s.closed.Load() && !errors.Is(err, context.Canceled):
		return fmt.Errorf("cqlstore: %s: %w", op, store.ErrClosed)
	case errors.Is(err, gocql.ErrSessionClosed):
		return fmt.Errorf("cqlstore: %s: connection to the database lost (reconnecting): %w", op, markUnavailable(err))
	case unavailable(err):
		return fmt.Errorf("cqlstore: %s: %w", op, markUnavailable(err))
	}
	return fmt.Errorf("cqlstore: %s: %w", op, err)
}

// unavailableError marks an error as store.ErrUnavailable without
// changing its text.
type unavailableError struct{ err error }

func (e unavailableError) Error() string        { return e.err.Error() }
func (e unavailableError) Unwrap() error        { return e.err }
func (e unavailableError) Is(target error) bool { return target == store.ErrUnavailable }

func markUnavailable(err error) error { return unavailableError{err} }

// unavailable reports whether err says the database could not be reached
// or did not answer in time (as opposed to refusing the statement).
func unavailable(err error) bool {
	for _, e := range []error{gocql.ErrNoConnections, gocql.ErrConnectionClosed, gocql.ErrTimeoutNoResponse,
		gocql.ErrTooManyTimeouts, gocql.ErrNoStreams, gocql.ErrUnavailable, io.EOF, io.ErrUnexpectedEOF} {
		if errors.Is(err, e) {
			return true
		}
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var re gocql.RequestError
	if errors.As(err, &re) {
		switch re.Code() {
		case gocql.ErrCodeUnavailable, gocql.ErrCodeOverloaded, gocql.ErrCodeBootstrapping, gocql.ErrCodeWriteTimeout,
			gocql.ErrCodeReadTimeout, gocql.ErrCodeCASWriteUnknown:
			return true
		}
	}
	return false
}

// slogAdapter sends the driver's log lines to the injected logger.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Print(v ...any) {
	a.l.Warn(strings.TrimSpace(fmt.Sprint(v...)), "source", "gocql")
}
func (a slogAdapter) Printf(format string, v ...any) {
	a.l.Warn(strings.TrimSpace(fmt.Sprintf(format, v...)), "source", "gocql")
}
func (a slogAdapter) Println(v ...any) {
	a.l.Warn(strings.TrimSpace(fmt.Sprint(v...)), "source", "gocql")
}
