package cqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/gocql/gocql"

	"github.com/scyllaops/scyllaops/store"
)

// Unique names and task IDs are claims: a row in a lookup table (key ->
// owner) inserted with IF NOT EXISTS before the record is written. A claim
// whose owner does not use it (the record is gone or renamed: a crash
// between the two writes) is stale and is taken over, but only after
// staleClaimAge, because a fresh claim may belong to a record that is
// being written right now.
const staleClaimAge = time.Minute

// claimSpec names a lookup table row.
type claimSpec struct {
	table string
	// where is the key condition, e.g. "name = ?", with keyArgs.
	where   string
	keyCols string
	keyArgs []any
	what    string
}

// claim makes owner the owner of the row of c. inUse reports whether the
// current owner still uses the claim; it is called only when someone else
// holds it.
func (s *Store) claim(ctx context.Context, c claimSpec, owner gocql.UUID, inUse func(cur gocql.UUID) (bool, error)) error {
	marks := "?"
	for range len(c.keyArgs) - 1 {
		marks += ", ?"
	}
	insert := fmt.Sprintf("INSERT INTO %s (%s, owner, claimed_at) VALUES (%s, ?, ?) IF NOT EXISTS", c.table, c.keyCols, marks)
	steal := fmt.Sprintf("UPDATE %s SET owner = ?, claimed_at = ? WHERE %s IF owner = ? AND claimed_at = ?", c.table, c.where)
	m := map[string]any{}
	applied, err := s.query(ctx, insert, append(append([]any{}, c.keyArgs...), owner, time.Now())...).MapScanCAS(m)
	for range 5 {
		if err != nil {
			return s.dbErr("claim "+c.what, err)
		}
		if applied {
			return nil
		}
		cur, _ := m["owner"].(gocql.UUID)
		at, _ := m["claimed_at"].(time.Time)
		if cur == owner {
			return nil
		}
		used, uerr := inUse(cur)
		if uerr != nil {
			return uerr
		}
		if used || time.Since(at) < staleClaimAge {
			return fmt.Errorf("cqlstore: %s is taken: %w", c.what, store.ErrConflict)
		}
		m = map[string]any{}
		applied, err = s.query(ctx, steal, append(append([]any{owner, time.Now()}, c.keyArgs...), cur, at)...).MapScanCAS(m)
	}
	if err != nil {
		return s.dbErr("claim "+c.what, err)
	}
	return fmt.Errorf("cqlstore: claim %s: contended: %w", c.what, store.ErrConflict)
}

// release drops owner's claim, if it still holds it.
func (s *Store) release(ctx context.Context, c claimSpec, owner gocql.UUID) error {
	stmt := fmt.Sprintf("DELETE FROM %s WHERE %s IF owner = ?", c.table, c.where)
	if _, err := s.query(ctx, stmt, append(append([]any{}, c.keyArgs...), owner)...).MapScanCAS(map[string]any{}); err != nil {
		return s.dbErr("release "+c.what, err)
	}
	return nil
}

func clusterNameClaim(name string) claimSpec {
	return claimSpec{table: "cluster_name", where: "name = ?", keyCols: "name", keyArgs: []any{name},
		what: fmt.Sprintf("cluster name %q", name)}
}

func taskNameClaim(t *store.Task) claimSpec {
	return claimSpec{table: "task_name", where: "cluster_id = ? AND type = ? AND name = ?", keyCols: "cluster_id, type, name",
		keyArgs: []any{gocql.UUID(t.ClusterID), t.Type, t.Name}, what: fmt.Sprintf("%s task name %q", t.Type, t.Name)}
}

func taskIDClaim(t *store.Task) claimSpec {
	return claimSpec{table: "task_id", where: "id = ?", keyCols: "id", keyArgs: []any{gocql.UUID(t.ID)},
		what: "task ID " + t.ID.String()}
}
