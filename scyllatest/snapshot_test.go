package scyllatest_test

import (
	"encoding/json"
	"hash/crc32"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/scyllaops/scyllaops/scyllatest"
)

func TestDataFilesLayout(t *testing.T) {
	for _, uuidGen := range []bool{false, true} {
		t.Run(strconv.FormatBool(uuidGen), func(t *testing.T) {
			c := scyllatest.New(t, scyllatest.Options{UUIDSSTableIdentifiers: uuidGen, TokensPerNode: 4})
			n := c.Nodes()[0]
			dir := c.TableDir(n, "ks", "t")
			if !regexp.MustCompile(`/ks/t-[0-9a-f]{32}$`).MatchString(dir) {
				t.Fatalf("table dir %q not in <ks>/<table>-<32hex> layout", dir)
			}
			if !strings.HasPrefix(dir, n.DataDir) {
				t.Fatalf("table dir %q not under node data dir %q", dir, n.DataDir)
			}
			ents, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			nameRe := regexp.MustCompile(`^me-[0-9]+-big-`)
			if uuidGen {
				nameRe = regexp.MustCompile(`^me-[0-9a-z]{4}_[0-9a-z]{4}_[0-9a-z]{18}-big-`)
			}
			var datas []string
			for _, e := range ents {
				if e.IsDir() {
					continue
				}
				if !nameRe.MatchString(e.Name()) {
					t.Fatalf("file %q does not match %s", e.Name(), nameRe)
				}
				if strings.HasSuffix(e.Name(), "-Data.db") {
					datas = append(datas, e.Name())
				}
			}
			if len(datas) != 2 {
				t.Fatalf("%d Data.db files, want 2", len(datas))
			}
			for _, d := range datas {
				data, _ := os.ReadFile(filepath.Join(dir, d))
				dig, _ := os.ReadFile(filepath.Join(dir, strings.TrimSuffix(d, "Data.db")+"Digest.crc32"))
				if string(dig) != strconv.FormatUint(uint64(crc32.ChecksumIEEE(data)), 10) {
					t.Fatalf("%s: Digest.crc32 %q does not match the data", d, dig)
				}
				toc, _ := os.ReadFile(filepath.Join(dir, strings.TrimSuffix(d, "Data.db")+"TOC.txt"))
				if !strings.Contains(string(toc), "Data.db") || !strings.Contains(string(toc), "Digest.crc32") {
					t.Fatalf("TOC.txt %q misses components", toc)
				}
			}
			// WriteData adds sstables; Compact leaves one; disk size follows.
			before, err := c.Client().TableDiskSize(t.Context(), n.IP, "ks", "t")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.WriteData(n, "ks", "t", 3); err != nil {
				t.Fatal(err)
			}
			after, _ := c.Client().TableDiskSize(t.Context(), n.IP, "ks", "t")
			if after <= before {
				t.Fatalf("disk size %d after WriteData, want > %d", after, before)
			}
			names, err := c.Compact(n, "ks", "t")
			if err != nil {
				t.Fatal(err)
			}
			if hasSuffix(names, "-Data.db") != 1 {
				t.Fatalf("Compact wrote %v, want one sstable", names)
			}
			fi, _ := os.Stat(filepath.Join(dir, names[1]))
			if !strings.HasSuffix(names[1], "-Data.db") || fi.Size() != 5*4096 {
				t.Fatalf("compacted Data.db %s size %v, want %d", names[1], fi, 5*4096)
			}
		})
	}
}

func TestSnapshotsAreHardLinks(t *testing.T) {
	c := scyllatest.New(t, scyllatest.Options{TokensPerNode: 4})
	ctx := t.Context()
	n := c.Nodes()[1]
	client := c.Client()
	const tag = "sm_20260102030405UTC"
	if err := client.TakeSnapshot(ctx, n.IP, tag, "ks"); err != nil {
		t.Fatal(err)
	}
	snaps, err := c.Snapshots(n)
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) != 1 || snaps[0].Tag != tag || snaps[0].Keyspace != "ks" || snaps[0].Table != "t" {
		t.Fatalf("snapshots %+v, want one of ks.t tagged %s", snaps, tag)
	}
	s := snaps[0]
	if !strings.HasSuffix(s.Dir, "/snapshots/"+tag) || !contains(s.Files, "manifest.json") || !contains(s.Files, "schema.cql") {
		t.Fatalf("snapshot %+v lacks layout or Scylla's manifest.json/schema.cql", s)
	}
	dir := c.TableDir(n, "ks", "t")
	var manifest struct {
		Files []string `json:"files"`
	}
	b, _ := os.ReadFile(filepath.Join(s.Dir, "manifest.json"))
	if err := json.Unmarshal(b, &manifest); err != nil {
		t.Fatal(err)
	}
	if len(manifest.Files) != 18 {
		t.Fatalf("manifest lists %d files, want 18 (2 sstables x 9 components)", len(manifest.Files))
	}
	for _, f := range manifest.Files {
		a, err1 := os.Stat(filepath.Join(dir, f))
		b, err2 := os.Stat(filepath.Join(s.Dir, f))
		if err1 != nil || err2 != nil || !os.SameFile(a, b) {
			t.Fatalf("%s: snapshot file is not a hard link of the live file (%v, %v)", f, err1, err2)
		}
	}
	cql, _ := os.ReadFile(filepath.Join(s.Dir, "schema.cql"))
	if !strings.HasPrefix(string(cql), "CREATE TABLE ks.t (") {
		t.Fatalf("schema.cql = %q", cql)
	}
	// Listing through the agent: live bytes are 0 while files are shared.
	list, err := client.Snapshots(ctx, n.IP)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Key != tag || len(list[0].Value) != 1 || list[0].Value[0].Total == 0 {
		t.Fatalf("snapshot listing %+v", list)
	}
	// Taking it again: Scylla's "already exists" error (which the
	// client ignores, as Scylla Manager's does).
	if code, body := rawCall(t, c, n.IP, "POST", "/storage_service/snapshots?tag="+tag+"&kn=ks"); code != 500 || !strings.Contains(string(body), "already exists") {
		t.Fatalf("second snapshot: %d %s, want 500 already exists", code, body)
	}
	if err := client.TakeSnapshot(ctx, n.IP, tag, "ks"); err != nil {
		t.Fatalf("client TakeSnapshot of an existing tag: %v", err)
	}
	// Compaction removes live files; the snapshot keeps them.
	if _, err := c.Compact(n, "ks", "t"); err != nil {
		t.Fatal(err)
	}
	for _, f := range manifest.Files {
		if _, err := os.Stat(filepath.Join(s.Dir, f)); err != nil {
			t.Fatalf("snapshot lost %s after compaction: %v", f, err)
		}
	}
	if err := client.DeleteSnapshot(ctx, n.IP, tag, "ks", "t"); err != nil {
		t.Fatal(err)
	}
	if snaps, _ := c.Snapshots(n); len(snaps) != 0 {
		t.Fatalf("snapshots after delete: %+v", snaps)
	}
}
