package scyllatest_test

import (
	"hash/crc32"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/scyllaops/scyllaops/agentclient"
	"github.com/scyllaops/scyllaops/internal/ring"
	"github.com/scyllaops/scyllaops/scyllatest"
)

// copyToUpload copies src's live sstables of ks.t into dst's upload dir,
// as a restore would, and returns the CRC-32 of each Data.db copied.
func copyToUpload(t *testing.T, c *scyllatest.Cluster, src, dst *scyllatest.Node) []uint32 {
	t.Helper()
	srcDir, dstDir := c.TableDir(src, "ks", "t"), c.TableDir(dst, "ks", "t")
	ents, err := os.ReadDir(srcDir)
	noErr(t, err)
	var crcs []uint32
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(srcDir, e.Name()))
		noErr(t, err)
		noErr(t, os.WriteFile(filepath.Join(dstDir, "upload", e.Name()), b, 0o644))
		if strings.HasSuffix(e.Name(), "-Data.db") {
			crcs = append(crcs, crc32.ChecksumIEEE(b))
		}
	}
	return crcs
}

// ringOf reads ks's ring through the agent (describe_ring).
func ringOf(t *testing.T, c *scyllatest.Cluster, ks string) []ring.Range {
	t.Helper()
	trs, err := c.Client().DescribeRing(t.Context(), c.Nodes()[0].IP, ks, "")
	noErr(t, err)
	out := make([]ring.Range, 0, len(trs))
	for _, tr := range trs {
		s, err := strconv.ParseInt(tr.StartToken, 10, 64)
		noErr(t, err)
		e, err := strconv.ParseInt(tr.EndToken, 10, 64)
		noErr(t, err)
		out = append(out, ring.Range{Start: s, End: e, Replicas: tr.Endpoints})
	}
	return out
}

// dataCRCs returns the CRC-32 of every live Data.db of ks.t on n.
func dataCRCs(t *testing.T, c *scyllatest.Cluster, n *scyllatest.Node) []uint32 {
	t.Helper()
	dir := c.TableDir(n, "ks", "t")
	ents, err := os.ReadDir(dir)
	noErr(t, err)
	var out []uint32
	for _, e := range ents {
		if !e.IsDir() && strings.HasSuffix(e.Name(), "-Data.db") {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			noErr(t, err)
			out = append(out, crc32.ChecksumIEEE(b))
		}
	}
	return out
}

func TestLoadAndStream(t *testing.T) {
	for _, primaryOnly := range []bool{false, true} {
		t.Run("primary_replica_only="+strconv.FormatBool(primaryOnly), func(t *testing.T) {
			c := scyllatest.New(t, scyllatest.Options{TokensPerNode: 4})
			src, dst := c.Nodes()[0], c.Nodes()[2]
			crcs := copyToUpload(t, c, src, dst)
			if len(crcs) == 0 {
				t.Fatal("no sstables to load")
			}
			// The record says whether auto-compaction was on at the load:
			// off on the first subtest (disabled through the REST API).
			if !primaryOnly {
				noErr(t, c.Client().Raw(t.Context(), dst.IP, http.MethodDelete, "/column_family/autocompaction/ks:t", nil, nil, nil))
			}
			noErr(t, c.Client().LoadSSTables(t.Context(), dst.IP, "ks", "t",
				agentclient.LoadSSTablesOptions{LoadAndStream: true, PrimaryReplicaOnly: primaryOnly}))

			up, err := os.ReadDir(filepath.Join(c.TableDir(dst, "ks", "t"), "upload"))
			noErr(t, err)
			if len(up) != 0 {
				t.Fatalf("upload dir not emptied: %d entries", len(up))
			}
			loads := c.Loads()
			if len(loads) != 1 {
				t.Fatalf("loads %+v, want 1", loads)
			}
			want := scyllatest.LoadRecord{Host: dst.IP, Keyspace: "ks", Table: "t", SSTables: len(crcs),
				Bytes: loads[0].Bytes, LoadAndStream: true, PrimaryReplicaOnly: primaryOnly, AutoCompaction: primaryOnly}
			if d := cmp.Diff(want, loads[0]); d != "" {
				t.Fatalf("load record (-want +got):\n%s", d)
			}

			ranges := ringOf(t, c, "ks")
			recs := c.LoadedSSTables()
			if len(recs) != len(crcs) {
				t.Fatalf("%d loaded sstables recorded, want %d", len(recs), len(crcs))
			}
			for _, r := range recs {
				reps := scyllatest.ReplicasOf(ranges, r.Token)
				if len(reps) == 0 {
					t.Fatalf("no replicas for token %d", r.Token)
				}
				if primaryOnly {
					reps = reps[:1]
				}
				if d := cmp.Diff(reps, r.Landed); d != "" {
					t.Fatalf("sstable %s did not land on its replicas (-want +got):\n%s", r.Name, d)
				}
				if !slices.Contains(crcs, r.DataCRC32) {
					t.Fatalf("loaded sstable %s has a CRC no copied file has", r.Name)
				}
				for _, ip := range r.Landed {
					if !slices.Contains(dataCRCs(t, c, c.Node(ip)), r.DataCRC32) {
						t.Fatalf("%s does not hold the data of %s", ip, r.Name)
					}
				}
			}
		})
	}
}

func TestLoadWithoutStreaming(t *testing.T) {
	c := scyllatest.New(t, scyllatest.Options{TokensPerNode: 4})
	src, dst := c.Nodes()[0], c.Nodes()[1]
	crcs := copyToUpload(t, c, src, dst)
	before := dataCRCs(t, c, dst)
	noErr(t, c.Client().LoadSSTables(t.Context(), dst.IP, "ks", "t", agentclient.LoadSSTablesOptions{}))
	after := dataCRCs(t, c, dst)
	want := append(slices.Clone(before), crcs...)
	slices.Sort(want)
	slices.Sort(after)
	if d := cmp.Diff(want, after); d != "" {
		t.Fatalf("live sstables of the node after the load (-want +got):\n%s", d)
	}
	for _, r := range c.LoadedSSTables() {
		if d := cmp.Diff([]string{dst.IP}, r.Landed); d != "" {
			t.Fatalf("landed (-want +got):\n%s", d)
		}
	}
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
