package cqlstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/gocql/gocql"
)

// Schema changes from several processes at once.
//
// Managers sharing a keyspace are usually started together. Concurrent
// CREATE TABLE IF NOT EXISTS statements for one table are not safe on
// Cassandra before 5.0, nor on ScyllaDB without Raft-managed schema: both
// statements may pass the existence check and announce the table with
// different IDs; the node then fails every later schema change of that
// keyspace with "Column family ID mismatch" (seen here on Cassandra 2.1).
//
// So Open creates the keyspace and applies migrations under a lock row,
// taken with a lightweight transaction, in a keyspace of its own
// (SchemaLockKeyspace, one row per store keyspace). Creating a keyspace
// concurrently is safe (keyspaces have no ID); the lock table itself is
// created after a random delay when it is missing, and should two
// processes still race there, only the lock keyspace is affected, which
// needs no schema change after that one table. A database user that may
// not create the lock keyspace migrates without the lock, with a warning.

// SchemaLockKeyspace holds the schema-migration lock rows of every store
// keyspace of a database.
const SchemaLockKeyspace = "scyllaops_schema_lock"

const (
	schemaLockTable = "migration"
	// schemaLockTTL frees the lock of a process that died holding it.
	schemaLockTTL = 60 * time.Second
	// schemaLockPoll is how often a waiting process retries the lock.
	schemaLockPoll = 500 * time.Millisecond
)

// withSchemaLock runs fn while holding the schema lock of o.Keyspace. sys
// is a session without a keyspace. ctx bounds the wait.
func withSchemaLock(ctx context.Context, sys *gocql.Session, o Options, log *slog.Logger, fn func() error) error {
	if err := createLockTable(ctx, sys, o); err != nil {
		if isUnauthorized(err) {
			log.Warn("no permission to create the schema-lock keyspace: migrating without the lock "+
				"(do not start several processes on a fresh keyspace at once)", "lock_keyspace", SchemaLockKeyspace, "err", err)
			return fn()
		}
		return err
	}
	owner, err := gocql.RandomUUID()
	if err != nil {
		return fmt.Errorf("cqlstore: schema lock: %w", err)
	}
	ins := fmt.Sprintf("INSERT INTO %s.%s (keyspace_name, owner, taken_at) VALUES (?, ?, ?) IF NOT EXISTS USING TTL %d",
		SchemaLockKeyspace, schemaLockTable, int(schemaLockTTL/time.Second))
	for waited := false; ; {
		m := map[string]any{}
		applied, err := sys.Query(ins, o.Keyspace, owner, time.Now()).WithContext(ctx).MapScanCAS(m)
		if err != nil {
			return fmt.Errorf("cqlstore: take the schema lock of keyspace %s: %w", o.Keyspace, err)
		}
		if applied {
			break
		}
		if !waited {
			log.Info("waiting for another process to finish the schema migration", "holder", m["owner"])
			waited = true
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cqlstore: keyspace %s: the schema lock is held by %v since %v (another process migrating; "+
				"a lock of a dead process expires %s after it was taken): %w", o.Keyspace, m["owner"], m["taken_at"], schemaLockTTL, context.Cause(ctx))
		case <-time.After(schemaLockPoll):
		}
	}
	ferr := fn()
	// Release with a context of its own: a canceled ctx must not leave
	// the others waiting for the TTL.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	del := fmt.Sprintf("DELETE FROM %s.%s WHERE keyspace_name = ? IF owner = ?", SchemaLockKeyspace, schemaLockTable)
	if _, err := sys.Query(del, o.Keyspace, owner).WithContext(rctx).MapScanCAS(map[string]any{}); err != nil {
		log.Warn("release the schema lock (it expires by itself)", "ttl", schemaLockTTL, "err", err)
	}
	return ferr
}

// createLockTable creates the lock keyspace and table if they do not
// exist.
func createLockTable(ctx context.Context, sys *gocql.Session, o Options) error {
	what := SchemaLockKeyspace + "." + schemaLockTable
	exists := func() bool {
		var n string
		err := sys.Query(fmt.Sprintf("SELECT keyspace_name FROM %s WHERE keyspace_name = ?", what), o.Keyspace).
			WithContext(ctx).Scan(&n)
		return err == nil || errors.Is(err, gocql.ErrNotFound)
	}
	if exists() {
		return nil
	}
	ks := fmt.Sprintf("CREATE KEYSPACE IF NOT EXISTS %s WITH replication = %s", SchemaLockKeyspace, replicationCQL(o.Replication))
	if err := sys.Query(ks).WithContext(ctx).Exec(); err != nil {
		return fmt.Errorf("cqlstore: create keyspace %s: %w", SchemaLockKeyspace, err)
	}
	if err := sys.AwaitSchemaAgreement(ctx); err != nil {
		return fmt.Errorf("cqlstore: create keyspace %s: await schema agreement: %w", SchemaLockKeyspace, err)
	}
	// Processes started together spread out here, and a later one sees
	// the table made by an earlier one.
	select {
	case <-ctx.Done():
		return fmt.Errorf("cqlstore: create %s: %w", what, context.Cause(ctx))
	case <-time.After(rand.N(time.Second)):
	}
	if exists() {
		return nil
	}
	stmt := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (keyspace_name text PRIMARY KEY, owner uuid, taken_at timestamp)", what)
	var err error
	for attempt := range 10 {
		if err = sys.Query(stmt).WithContext(ctx).Exec(); err == nil || !schemaConflict(err) {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cqlstore: create %s: %w", what, errors.Join(err, context.Cause(ctx)))
		case <-time.After(time.Duration(attempt+1) * 200 * time.Millisecond):
		}
	}
	if err != nil {
		return fmt.Errorf("cqlstore: create %s: %w", what, err)
	}
	if err := sys.AwaitSchemaAgreement(ctx); err != nil {
		return fmt.Errorf("cqlstore: create %s: await schema agreement: %w", what, err)
	}
	return nil
}

// schemaConflict reports whether err is the server refusing a schema
// change that raced another one.
func schemaConflict(err error) bool {
	var ae *gocql.RequestErrAlreadyExists
	if errors.As(err, &ae) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "Column family ID mismatch") || strings.Contains(msg, "ConfigurationException")
}

// isUnauthorized reports whether err is the server refusing a statement
// for lack of permission.
func isUnauthorized(err error) bool {
	var re gocql.RequestError
	return errors.As(err, &re) && re.Code() == gocql.ErrCodeUnauthorized
}
