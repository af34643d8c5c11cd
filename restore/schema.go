package restore

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/scyllaops/scyllaops/internal/backupspec"
)

// Schema statements over CQL: views and tombstone_gc of the tables
// stages, and the schema restore.

var (
	reViewBase  = regexp.MustCompile(`(?is)\bfrom\s+("[^"]+"|\w+)\.("[^"]+"|\w+)`)
	reIndexBase = regexp.MustCompile(`(?is)\bon\s+("[^"]+"|\w+)\.("[^"]+"|\w+)`)
	reTGCMode   = regexp.MustCompile(`(?is)tombstone_gc\s*=\s*\{[^}]*'mode'\s*:\s*'([a-z_]+)'`)
)

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return strings.ToLower(s)
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func (r *run) describe(ctx context.Context) ([]SchemaRow, error) {
	if r.s.opts.CQL == nil {
		return nil, errNoCQL
	}
	rows, err := r.s.opts.CQL.DescribeSchema(ctx, r.clusterID)
	if err != nil {
		return nil, fmt.Errorf("restore: describe schema: %w", err)
	}
	return rows, nil
}

// dropViews remembers and drops the views and indexes of the restored
// tables.
func (r *run) dropViews(ctx context.Context) error {
	if r.s.opts.CQL == nil {
		r.log.WarnContext(ctx, "no CQL access: views of the restored tables are not dropped")
		return nil
	}
	if r.row.Views == nil {
		rows, err := r.describe(ctx)
		if err != nil {
			return err
		}
		restored := map[string]bool{}
		for _, t := range r.restoredTables() {
			restored[t] = true
		}
		views := []View{}
		for _, row := range rows {
			re := reViewBase
			switch row.Type {
			case "view":
			case "index":
				re = reIndexBase
			default:
				continue
			}
			m := re.FindStringSubmatch(row.CQLStmt)
			if m == nil || !restored[unquote(m[1])+"."+unquote(m[2])] {
				continue
			}
			views = append(views, View{Keyspace: row.Keyspace, View: row.Name, Type: row.Type, BaseTable: unquote(m[2]), CreateStmt: row.CQLStmt})
		}
		r.mu.Lock()
		r.row.Views = views
		r.mu.Unlock()
		if err := r.saveRun(ctx); err != nil {
			return err
		}
	}
	for _, v := range r.row.Views {
		stmt := "DROP MATERIALIZED VIEW IF EXISTS " + quote(v.Keyspace) + "." + quote(v.View)
		if v.Type == "index" {
			stmt = "DROP INDEX IF EXISTS " + quote(v.Keyspace) + "." + quote(v.View)
		}
		if err := r.s.opts.CQL.Exec(ctx, r.clusterID, stmt); err != nil {
			return fmt.Errorf("restore: drop %s %s.%s: %w", v.Type, v.Keyspace, v.View, err)
		}
	}
	return nil
}

// recreateViews re-creates the dropped views and indexes one by one, each
// followed by a wait for its build to succeed on every node
// (storage_service/view_build_statuses, polled every
// Options.ViewBuildPoll). A view's status in the progress goes from
// "building" to "done"; a resumed run re-issues the CREATE of a view not
// done (AlreadyExists is fine) and waits again.
func (r *run) recreateViews(ctx context.Context) error {
	for i, v := range r.row.Views {
		if v.Status == viewDone {
			continue
		}
		if err := r.s.opts.CQL.Exec(ctx, r.clusterID, v.CreateStmt); err != nil && !errors.Is(err, ErrAlreadyExists) {
			return fmt.Errorf("restore: re-create %s %s.%s: %w", v.Type, v.Keyspace, v.View, err)
		}
		r.mu.Lock()
		r.row.Views[i].Status = viewBuilding
		r.mu.Unlock()
		if err := r.saveRun(ctx); err != nil {
			return err
		}
		if err := r.waitViewBuilt(ctx, v); err != nil {
			return err
		}
		r.mu.Lock()
		r.row.Views[i].Status = viewDone
		r.mu.Unlock()
		if err := r.saveRun(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Statuses of a re-created view in the progress.
const (
	viewBuilding = "building"
	viewDone     = "done"
)

// View build states of scylla_manager_restore_view_build_status: the
// least advanced node's.
const (
	viewBuildUnknown = 0
	viewBuildStarted = 1
	viewBuildSuccess = 2
)

// waitViewBuilt polls the build status of v (an index's backing view is
// "<index>_index") until every node reports SUCCESS. A view no node
// knows (an empty answer) is not waited for.
func (r *run) waitViewBuilt(ctx context.Context, v View) error {
	name := v.View
	if v.Type == "index" {
		name += "_index"
	}
	g := r.s.m.viewBuild.WithLabelValues(r.clusterID.String(), v.Keyspace, name)
	for {
		st, err := r.c.ViewBuildStatuses(ctx, r.contact, v.Keyspace, name)
		if err != nil {
			return fmt.Errorf("restore: build status of %s %s.%s: %w", v.Type, v.Keyspace, v.View, err)
		}
		if len(st) == 0 {
			r.log.WarnContext(ctx, "no node reports a build status of the re-created view: not waited for", "keyspace", v.Keyspace, "view", name)
			return nil
		}
		least := viewBuildSuccess
		for _, s := range st {
			switch s {
			case "SUCCESS":
			case "STARTED":
				least = min(least, viewBuildStarted)
			default:
				least = viewBuildUnknown
			}
		}
		g.Set(float64(least))
		if least == viewBuildSuccess {
			return nil
		}
		t := time.NewTimer(r.s.opts.ViewBuildPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("restore: waiting for the build of %s %s.%s: %w", v.Type, v.Keyspace, v.View, context.Cause(ctx))
		case <-t.C:
		}
	}
}

// disableTGC remembers each table's tombstone_gc mode (once, so a resumed
// run does not read "disabled") and disables it.
func (r *run) disableTGC(ctx context.Context) error {
	if r.s.opts.CQL == nil {
		r.log.WarnContext(ctx, "no CQL access: tombstone_gc of the restored tables is left as is")
		return nil
	}
	need := false
	for _, u := range r.row.Target.Units {
		for _, t := range u.Tables {
			need = need || t.TombstoneGC == ""
		}
	}
	if need {
		rows, err := r.describe(ctx)
		if err != nil {
			return err
		}
		stmt := map[string]string{}
		for _, row := range rows {
			if row.Type == "table" {
				stmt[row.Keyspace+"."+row.Name] = row.CQLStmt
			}
		}
		r.mu.Lock()
		for ui := range r.row.Target.Units {
			u := &r.row.Target.Units[ui]
			for ti := range u.Tables {
				t := &u.Tables[ti]
				if t.TombstoneGC != "" {
					continue
				}
				t.TombstoneGC = "timeout" // Scylla's default
				if m := reTGCMode.FindStringSubmatch(stmt[u.Keyspace+"."+t.Table]); m != nil {
					t.TombstoneGC = m[1]
				}
			}
		}
		r.mu.Unlock()
		if err := r.saveRun(ctx); err != nil {
			return err
		}
	}
	return r.setTGC(ctx, func(string) string { return "disabled" })
}

func (r *run) enableTGC(ctx context.Context) error {
	if r.s.opts.CQL == nil {
		return nil
	}
	return r.setTGC(ctx, func(orig string) string { return orig })
}

func (r *run) setTGC(ctx context.Context, mode func(orig string) string) error {
	for _, u := range r.row.Target.Units {
		for _, t := range u.Tables {
			if t.TombstoneGC == "" {
				continue
			}
			stmt := fmt.Sprintf("ALTER TABLE %s.%s WITH tombstone_gc = {'mode': '%s'}", quote(u.Keyspace), quote(t.Table), mode(t.TombstoneGC))
			if err := r.s.opts.CQL.Exec(ctx, r.clusterID, stmt); err != nil {
				return fmt.Errorf("restore: tombstone_gc of %s.%s: %w", u.Keyspace, t.Table, err)
			}
		}
	}
	return nil
}

// schemaOrder is the order statements are applied in.
var schemaOrder = map[string]int{"keyspace": 0, "type": 1, "function": 2, "aggregate": 3, "table": 4, "view": 5, "index": 6}

// schema applies the snapshot's schema file through CQL: keyspaces, types,
// functions, tables, then views and indexes. Objects that exist are left
// alone, so a re-run applies only what is missing.
func (r *run) schema(ctx context.Context) error {
	if r.s.opts.CQL == nil {
		return errNoCQL
	}
	rows, err := r.readSchema(ctx)
	if err != nil {
		return err
	}
	f := newFilter(r.props.Keyspace)
	var apply []SchemaRow
	for _, row := range rows {
		if isSystemKeyspace(row.Keyspace) {
			continue
		}
		if len(r.props.Keyspace) > 0 && row.Type != "keyspace" && !f.match(row.Keyspace, row.Name) && !f.match(row.Keyspace, "*") {
			continue
		}
		if _, ok := schemaOrder[row.Type]; !ok {
			continue
		}
		apply = append(apply, row)
	}
	sort.SliceStable(apply, func(i, j int) bool { return schemaOrder[apply[i].Type] < schemaOrder[apply[j].Type] })
	for _, row := range apply {
		if err := r.s.opts.CQL.Exec(ctx, r.clusterID, row.CQLStmt); err != nil && !errors.Is(err, ErrAlreadyExists) {
			return fmt.Errorf("restore: schema %s %s.%s: %w", row.Type, row.Keyspace, row.Name, err)
		}
	}
	return nil
}

func (r *run) readSchema(ctx context.Context) ([]SchemaRow, error) {
	if r.index == nil || r.index.schemaPath == "" {
		pl, err := r.s.makePlan(ctx, r.clusterID, r.c, r.contact, r.props)
		if err != nil {
			return nil, err
		}
		r.index = pl.index
	}
	return readSchemaFile(ctx, r, r.index.schemaLoc, r.index.schemaPath)
}

func readSchemaFile(ctx context.Context, r *run, loc backupspec.Location, p string) ([]SchemaRow, error) {
	b, err := r.c.Cat(ctx, r.contact, loc.RemoteName(), p)
	if err != nil {
		return nil, fmt.Errorf("restore: read schema file %s: %w", loc.RemotePath(p), err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("restore: schema file %s: %w", loc.RemotePath(p), err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("restore: schema file %s: %w", loc.RemotePath(p), err)
	}
	var rows []SchemaRow
	if err := json.Unmarshal(raw, &rows); err != nil {
		return nil, fmt.Errorf("restore: schema file %s: %w", loc.RemotePath(p), err)
	}
	return rows, nil
}
