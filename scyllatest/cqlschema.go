package scyllatest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/internal/ring"
)

// ddlResult describes an applied schema change.
type ddlResult struct {
	change         string // CREATED, DROPPED
	target         string // KEYSPACE, TABLE
	keyspace, name string
	noop           bool // IF [NOT] EXISTS made it a no-op
}

// errAlreadyExists and errNotExists are mapped to CQL error codes.
var (
	errAlreadyExists = errors.New("already exists")
	errNotExists     = errors.New("does not exist")
	errUnauthorized  = errors.New("unauthorized")
)

var (
	reCreateKS  = regexp.MustCompile(`(?is)^create\s+keyspace\s+(if\s+not\s+exists\s+)?("[^"]+"|\w+)\s+with\s+replication\s*=\s*(\{[^}]*\})(.*)$`)
	reDropKS    = regexp.MustCompile(`(?is)^drop\s+keyspace\s+(if\s+exists\s+)?("[^"]+"|\w+)$`)
	reCreateTbl = regexp.MustCompile(`(?is)^create\s+(?:table|columnfamily)\s+(if\s+not\s+exists\s+)?(?:("[^"]+"|\w+)\.)?("[^"]+"|\w+)\s*\(`)
	reDropTbl   = regexp.MustCompile(`(?is)^drop\s+(?:table|columnfamily)\s+(if\s+exists\s+)?(?:("[^"]+"|\w+)\.)?("[^"]+"|\w+)$`)
	reMapPair   = regexp.MustCompile(`'([^']*)'\s*:\s*(?:'([^']*)'|(\d+))`)
	reTableID   = regexp.MustCompile(`(?i)\bid\s*=\s*'?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})'?`)
	reDurable   = regexp.MustCompile(`(?i)durable_writes\s*=\s*(true|false)`)
	reCreateMV  = regexp.MustCompile(`(?is)^create\s+materialized\s+view\s+(if\s+not\s+exists\s+)?(?:("[^"]+"|\w+)\.)?("[^"]+"|\w+)\s+as\s+select\s+.+?\s+from\s+(?:("[^"]+"|\w+)\.)?("[^"]+"|\w+)(\s.*)?$`)
	reDropMV    = regexp.MustCompile(`(?is)^drop\s+materialized\s+view\s+(if\s+exists\s+)?(?:("[^"]+"|\w+)\.)?("[^"]+"|\w+)$`)
	reAlterTGC  = regexp.MustCompile(`(?is)^alter\s+table\s+(?:("[^"]+"|\w+)\.)?("[^"]+"|\w+)\s+with\s+tombstone_gc\s*=\s*\{\s*'mode'\s*:\s*'(timeout|disabled|repair|immediate)'\s*\}$`)
)

// ident normalizes a CQL identifier: quoted keeps case, unquoted is
// lower-cased.
func ident(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return strings.ToLower(s)
}

// parseReplication parses a CQL replication map.
func parseReplication(m string) (ring.Replication, error) {
	opts := map[string]string{}
	for _, p := range reMapPair.FindAllStringSubmatch(m, -1) {
		v := p[2]
		if p[3] != "" {
			v = p[3]
		}
		opts[p[1]] = v
	}
	class := opts["class"]
	delete(opts, "class")
	switch {
	case strings.HasSuffix(class, "SimpleStrategy"):
		rf, err := strconv.Atoi(opts["replication_factor"])
		if err != nil || rf < 1 {
			return ring.Replication{}, fmt.Errorf("SimpleStrategy requires replication_factor >= 1, got %q", opts["replication_factor"])
		}
		return ring.Replication{Strategy: ring.SimpleStrategy, RF: rf}, nil
	case strings.HasSuffix(class, "NetworkTopologyStrategy"):
		r := ring.Replication{Strategy: ring.NetworkTopologyStrategy, DCRF: map[string]int{}}
		for dc, v := range opts {
			rf, err := strconv.Atoi(v)
			if err != nil || rf < 0 {
				return ring.Replication{}, fmt.Errorf("NetworkTopologyStrategy: bad replication factor %q for %q", v, dc)
			}
			if dc == "replication_factor" {
				continue
			}
			r.DCRF[dc] = rf
		}
		return r, nil
	case strings.HasSuffix(class, "LocalStrategy"):
		return ring.Replication{Strategy: ring.LocalStrategy}, nil
	}
	return ring.Replication{}, fmt.Errorf("unknown replication class %q", class)
}

// applyDDL applies a CREATE/DROP KEYSPACE/TABLE/MATERIALIZED VIEW statement
// or an ALTER TABLE of tombstone_gc. ok is false
// when stmt is not DDL the simulator understands.
func (c *Cluster) applyDDL(stmt, useKS string) (res ddlResult, ok bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.invalidateRingLocked(false)
	if m := reCreateKS.FindStringSubmatch(stmt); m != nil {
		name := ident(m[2])
		res = ddlResult{change: "CREATED", target: "KEYSPACE", keyspace: name}
		if isSystemKeyspace(name) {
			return res, true, fmt.Errorf("%w: cannot create system keyspace %s", errUnauthorized, name)
		}
		if _, exists := c.keyspaces[name]; exists {
			if m[1] != "" {
				res.noop = true
				return res, true, nil
			}
			return res, true, fmt.Errorf("%w: Keyspace %s already exists", errAlreadyExists, name)
		}
		repl, err := parseReplication(m[3])
		if err != nil {
			return res, true, err
		}
		durable := true
		if d := reDurable.FindStringSubmatch(m[4]); d != nil {
			durable = strings.EqualFold(d[1], "true")
		}
		c.keyspaces[name] = &keyspace{name: name, repl: repl, durableWrites: durable, tables: map[string]*table{}}
		return res, true, nil
	}
	if m := reDropKS.FindStringSubmatch(stmt); m != nil {
		name := ident(m[2])
		res = ddlResult{change: "DROPPED", target: "KEYSPACE", keyspace: name}
		if isSystemKeyspace(name) {
			return res, true, fmt.Errorf("%w: cannot drop system keyspace %s", errUnauthorized, name)
		}
		k, exists := c.keyspaces[name]
		if !exists {
			if m[1] != "" {
				res.noop = true
				return res, true, nil
			}
			return res, true, fmt.Errorf("%w: Keyspace %s does not exist", errNotExists, name)
		}
		for _, t := range sortedTables(k) {
			if err := c.dropTableLocked(k, t); err != nil {
				return res, true, err
			}
		}
		delete(c.keyspaces, name)
		for _, n := range c.nodes {
			_ = os.Remove(filepath.Join(n.DataDir, name)) // only if empty (snapshots stay)
		}
		return res, true, nil
	}
	if m := reCreateTbl.FindStringSubmatchIndex(stmt); m != nil {
		sub := func(i int) string {
			if m[2*i] < 0 {
				return ""
			}
			return stmt[m[2*i]:m[2*i+1]]
		}
		ksName, name := useKS, ident(sub(3))
		if sub(2) != "" {
			ksName = ident(sub(2))
		}
		res = ddlResult{change: "CREATED", target: "TABLE", keyspace: ksName, name: name}
		open := m[1] - 1
		closeIdx := matchParen(stmt, open)
		if closeIdx < 0 {
			return res, true, fmt.Errorf("unbalanced parentheses in CREATE TABLE")
		}
		columns := strings.TrimSpace(stmt[open+1 : closeIdx])
		rest := stmt[closeIdx+1:]
		if ksName == "" {
			return res, true, fmt.Errorf("no keyspace has been specified")
		}
		if isSystemKeyspace(ksName) {
			return res, true, fmt.Errorf("%w: cannot create tables in system keyspace %s", errUnauthorized, ksName)
		}
		k, exists := c.keyspaces[ksName]
		if !exists {
			return res, true, fmt.Errorf("%w: Keyspace %s does not exist", errNotExists, ksName)
		}
		if _, exists := k.tables[name]; exists {
			if sub(1) != "" {
				res.noop = true
				return res, true, nil
			}
			return res, true, fmt.Errorf("%w: Table %s.%s already exists", errAlreadyExists, ksName, name)
		}
		id := uuid.Nil
		if idm := reTableID.FindStringSubmatch(rest); idm != nil {
			id = uuid.MustParse(idm[1])
		}
		return res, true, c.createTableLocked(k, name, columns, id, Table{Name: name})
	}
	if m := reCreateMV.FindStringSubmatch(stmt); m != nil {
		ksName, name := useKS, ident(m[3])
		if m[2] != "" {
			ksName = ident(m[2])
		}
		res = ddlResult{change: "CREATED", target: "TABLE", keyspace: ksName, name: name}
		baseKS, base := ksName, ident(m[5])
		if m[4] != "" {
			baseKS = ident(m[4])
		}
		if baseKS != ksName {
			return res, true, fmt.Errorf("materialized view %s.%s must be in the keyspace of its base table %s.%s", ksName, name, baseKS, base)
		}
		k, exists := c.keyspaces[ksName]
		if !exists {
			return res, true, fmt.Errorf("%w: Keyspace %s does not exist", errNotExists, ksName)
		}
		if bt := k.tables[base]; bt == nil || bt.spec.BaseTable != "" {
			return res, true, fmt.Errorf("%w: unconfigured table %s", errNotExists, base)
		}
		if _, exists := k.tables[name]; exists {
			if m[1] != "" {
				res.noop = true
				return res, true, nil
			}
			return res, true, fmt.Errorf("%w: Table %s.%s already exists", errAlreadyExists, ksName, name)
		}
		id := uuid.Nil
		if idm := reTableID.FindStringSubmatch(m[6]); idm != nil {
			id = uuid.MustParse(idm[1])
		}
		c.viewChanges = append(c.viewChanges, ViewChange{Keyspace: ksName, View: name, BaseTable: base, Change: "CREATED", LoadsBefore: len(c.loaded), At: time.Now()})
		if err := c.createTableLocked(k, name, "", id, Table{Name: name, BaseTable: base}); err != nil {
			return res, true, err
		}
		if c.viewBuildTime > 0 {
			k.tables[name].builtAt = time.Now().Add(c.viewBuildTime)
		}
		return res, true, nil
	}
	if m := reDropMV.FindStringSubmatch(stmt); m != nil {
		ksName, name := useKS, ident(m[3])
		if m[2] != "" {
			ksName = ident(m[2])
		}
		res = ddlResult{change: "DROPPED", target: "TABLE", keyspace: ksName, name: name}
		k := c.keyspaces[ksName]
		var t *table
		if k != nil {
			t = k.tables[name]
		}
		if t == nil || t.spec.BaseTable == "" {
			if t == nil && m[1] != "" {
				res.noop = true
				return res, true, nil
			}
			return res, true, fmt.Errorf("%w: Materialized view %s.%s does not exist", errNotExists, ksName, name)
		}
		c.viewChanges = append(c.viewChanges, ViewChange{Keyspace: ksName, View: name, BaseTable: t.spec.BaseTable, Change: "DROPPED", LoadsBefore: len(c.loaded), At: time.Now()})
		return res, true, c.dropTableLocked(k, t)
	}
	if m := reAlterTGC.FindStringSubmatch(stmt); m != nil {
		ksName, name := useKS, ident(m[2])
		if m[1] != "" {
			ksName = ident(m[1])
		}
		res = ddlResult{change: "UPDATED", target: "TABLE", keyspace: ksName, name: name}
		t, err := c.tableLocked(ksName, name)
		if err != nil {
			return res, true, fmt.Errorf("%w: unconfigured table %s", errNotExists, name)
		}
		t.tombstoneGC = strings.ToLower(m[3])
		c.tgcChanges = append(c.tgcChanges, TombstoneGCChange{Keyspace: ksName, Table: name, Mode: t.tombstoneGC})
		return res, true, nil
	}
	if m := reDropTbl.FindStringSubmatch(stmt); m != nil {
		ksName, name := useKS, ident(m[3])
		if m[2] != "" {
			ksName = ident(m[2])
		}
		res = ddlResult{change: "DROPPED", target: "TABLE", keyspace: ksName, name: name}
		if isSystemKeyspace(ksName) {
			return res, true, fmt.Errorf("%w: cannot drop tables of system keyspace %s", errUnauthorized, ksName)
		}
		k := c.keyspaces[ksName]
		var t *table
		if k != nil {
			t = k.tables[name]
		}
		if t == nil {
			if m[1] != "" {
				res.noop = true
				return res, true, nil
			}
			return res, true, fmt.Errorf("%w: Table %s.%s does not exist", errNotExists, ksName, name)
		}
		return res, true, c.dropTableLocked(k, t)
	}
	return res, false, nil
}

// dropTableLocked removes t from the schema and its live files and
// upload/staging dirs from every node; snapshots stay.
func (c *Cluster) dropTableLocked(k *keyspace, t *table) error {
	delete(k.tables, t.name)
	for _, n := range c.nodes {
		dir := n.tableDir(t)
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if e.Name() == "snapshots" {
				continue
			}
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("scyllatest: drop table: %w", err)
			}
		}
		_ = os.Remove(dir) // only if empty
	}
	return nil
}

// matchParen returns the index of the parenthesis closing s[open].
func matchParen(s string, open int) int {
	depth := 0
	inQuote := byte(0)
	for i := open; i < len(s); i++ {
		ch := s[i]
		switch {
		case inQuote != 0:
			if ch == inQuote {
				inQuote = 0
			}
		case ch == '\'' || ch == '"':
			inQuote = ch
		case ch == '(':
			depth++
		case ch == ')':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// Schema returns the rows DESCRIBE SCHEMA WITH INTERNALS answers.
func (c *Cluster) Schema() []SchemaRow {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.describeSchemaLocked()
}

// TableDir returns the directory of ks.table on node, or "" if the table
// does not exist.
func (c *Cluster) TableDir(node *Node, ks, tbl string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.tableLocked(ks, tbl)
	if err != nil {
		return ""
	}
	return node.tableDir(t)
}
