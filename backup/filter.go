package backup

import (
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/scyllaops/scyllaops/store"
)

// filterPattern is one "[!]ks[.table]" glob.
type filterPattern struct {
	exclude   bool
	ks, table string
	raw       string
}

const keyspaceForm = `glob patterns "ks" or "ks.table" (path.Match syntax), "!" to exclude, e.g. ["*", "!system_traces", "ks1.t*"]`

func newFilterPattern(s string) (filterPattern, error) {
	p := filterPattern{raw: s}
	if strings.HasPrefix(s, "!") {
		p.exclude, s = true, s[1:]
	}
	ks, table, ok := strings.Cut(s, ".")
	if !ok {
		table = "*"
	}
	if ks == "" || table == "" {
		return p, store.Invalid("keyspace", keyspaceForm, p.raw)
	}
	if _, err := path.Match(ks, ""); err != nil {
		return p, store.Invalid("keyspace", keyspaceForm, p.raw)
	}
	if _, err := path.Match(table, ""); err != nil {
		return p, store.Invalid("keyspace", keyspaceForm, p.raw)
	}
	p.ks, p.table = ks, table
	return p, nil
}

func (p filterPattern) match(ks, table string) bool {
	a, _ := path.Match(p.ks, ks)
	b, _ := path.Match(p.table, table)
	return a && b
}

func isGlob(s string) bool { return strings.ContainsAny(s, `*?[\`) }

// tableFilter selects tables by keyspace patterns: the last matching
// pattern decides; a table no pattern matches is excluded.
type tableFilter struct{ patterns []filterPattern }

func newTableFilter(patterns []string) (tableFilter, error) {
	if len(patterns) == 0 {
		patterns = []string{"*"}
	}
	var f tableFilter
	for _, s := range patterns {
		p, err := newFilterPattern(s)
		if err != nil {
			return f, err
		}
		f.patterns = append(f.patterns, p)
	}
	return f, nil
}

func (f tableFilter) match(ks, table string) bool {
	in := false
	for _, p := range f.patterns {
		if p.match(ks, table) {
			in = !p.exclude
		}
	}
	return in
}

// checkLiteral fails when a pattern without wildcards names a keyspace or
// table that does not exist, so a typo is an error, not an empty backup.
func (f tableFilter) checkLiteral(tables map[string][]string) error {
	for _, p := range f.patterns {
		if p.exclude || isGlob(p.ks) {
			continue
		}
		ts, ok := tables[p.ks]
		if !ok {
			return store.Invalid("keyspace", "an existing keyspace ("+strings.Join(sortedMapKeys(tables), ", ")+")", p.raw)
		}
		if isGlob(p.table) {
			continue
		}
		found := false
		for _, t := range ts {
			found = found || t == p.table
		}
		if !found {
			return store.Invalid("keyspace", "an existing table of keyspace "+p.ks, p.raw)
		}
	}
	return nil
}

var systemCDCRe = regexp.MustCompile(`(^|_)cdc(_|$)`)

// skipTable applies the fixed table filters of a backup: LWT state
// tables, Scylla's native-backup bookkeeping and CDC log tables are never
// backed up.
func skipTable(ks, table string) bool {
	switch {
	case ks == "system" && table == "paxos", strings.HasSuffix(table, "$paxos"):
		return true
	case ks == "system_distributed" && (strings.HasPrefix(table, "snapshot_") || table == "snapshots"):
		return true
	case strings.HasSuffix(table, "_scylla_cdc_log"):
		return true
	case strings.HasPrefix(ks, "system") && systemCDCRe.MatchString(table):
		return true
	}
	return false
}

// dcFilter selects DCs by glob patterns, "!" excluding. Default: all.
func dcMatch(patterns []string, dc string) bool {
	if len(patterns) == 0 {
		return true
	}
	in := false
	for _, p := range patterns {
		ex := strings.HasPrefix(p, "!")
		if ok, _ := path.Match(strings.TrimPrefix(p, "!"), dc); ok {
			in = !ex
		}
	}
	return in
}

func sortedMapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
