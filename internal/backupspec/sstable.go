package backupspec

import (
	"regexp"
	"sort"
	"strings"
)

// IDType is the kind of an SSTable generation ID.
type IDType int

// Generation ID kinds.
const (
	// IntegerID: a decimal generation, e.g. "5" in mc-5-big-Data.db.
	// Integer IDs are reused after a node is rebuilt or data is
	// restored, so names alone do not identify content.
	IntegerID IDType = iota + 1
	// UUIDID: a time-UUID-like ID, e.g. "3g8n_0tn4_2pfaw2bu2b5ypnalzg";
	// never reused, so name and size identify content.
	UUIDID
)

var (
	sstNewRe    = regexp.MustCompile(`^([a-z]{2})-([0-9]+|[0-9a-z]{4}_[0-9a-z]{4}_[0-9a-z]{18})-([a-z]+)-([A-Za-z0-9_.]+)$`)
	sstLegacyRe = regexp.MustCompile(`^([A-Za-z0-9_]+)-([A-Za-z0-9_]+)-([a-z]{2})-([0-9]+)-([A-Za-z0-9_.]+)$`)
)

// SSTable is the parsed name of one SSTable component file.
type SSTable struct {
	// Version is the format version, e.g. "me", "mc", "ka".
	Version string
	// ID is the generation as written in the name.
	ID     string
	IDType IDType
	// Format is "big" (empty for legacy names).
	Format string
	// Component is e.g. "Data.db", "Digest.crc32", "TOC.txt".
	Component string
	// Keyspace and Table are set only for legacy (ka/la-era) names
	// <ks>-<table>-<version>-<id>-<component>.
	Keyspace, Table string
}

// ParseSSTable parses an SSTable component file name.
func ParseSSTable(name string) (SSTable, error) {
	if m := sstNewRe.FindStringSubmatch(name); m != nil {
		s := SSTable{Version: m[1], ID: m[2], Format: m[3], Component: m[4], IDType: IntegerID}
		if strings.Contains(m[2], "_") {
			s.IDType = UUIDID
		}
		return s, nil
	}
	if m := sstLegacyRe.FindStringSubmatch(name); m != nil {
		return SSTable{Keyspace: m[1], Table: m[2], Version: m[3], ID: m[4], IDType: IntegerID, Component: m[5]}, nil
	}
	return SSTable{}, invalid("sstable name", "<version>-<id>-<format>-<component> (e.g. \"me-3g8n_0tn4_2pfaw2bu2b5ypnalzg-big-Data.db\", \"mc-5-big-Data.db\") or <ks>-<table>-<version>-<id>-<component>", name)
}

// BundleKey identifies the SSTable a component belongs to: every
// component of one SSTable has the same key.
func (s SSTable) BundleKey() string {
	return s.Keyspace + "/" + s.Table + "/" + s.Version + "/" + s.ID
}

// IsDigest reports whether s is the Digest.crc32 component.
func (s SSTable) IsDigest() bool { return s.Component == "Digest.crc32" }

// Bundle is the set of component files of one SSTable.
type Bundle struct {
	Key    string
	IDType IDType
	// Files are the component file names, sorted.
	Files []string
}

// GroupBundles groups file names into bundles, sorted by key. Names that
// are not SSTable components are returned in other, in input order.
func GroupBundles(names []string) (bundles []Bundle, other []string) {
	idx := map[string]int{}
	for _, n := range names {
		s, err := ParseSSTable(n)
		if err != nil {
			other = append(other, n)
			continue
		}
		k := s.BundleKey()
		i, ok := idx[k]
		if !ok {
			i = len(bundles)
			idx[k] = i
			bundles = append(bundles, Bundle{Key: k, IDType: s.IDType})
		}
		bundles[i].Files = append(bundles[i].Files, n)
	}
	for i := range bundles {
		sort.Strings(bundles[i].Files)
	}
	sort.Slice(bundles, func(i, j int) bool { return bundles[i].Key < bundles[j].Key })
	return bundles, other
}
