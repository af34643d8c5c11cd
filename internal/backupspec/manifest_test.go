package backupspec

import (
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func sampleManifest() *ManifestWithIndex {
	c := uuid.MustParse("11111111-2222-3333-4444-555555555555")
	task := uuid.MustParse("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")
	tag := "sm_20210809095541UTC"
	node := "99999999-8888-7777-6666-555555555555"
	return &ManifestWithIndex{
		Manifest: Manifest{
			Version: ManifestVersion, ScyllaVersion: "2025.1.0", ClusterName: "prod", IP: "10.0.0.1",
			Size: 1234, Tokens: []int64{-9000, 0, 42}, Schema: SchemaPath(c, task, tag), Rack: "r1",
			ShardCount: 2, CPUCount: 4, StorageSize: 1 << 30,
			InstanceDetails: InstanceDetails{CloudProvider: "aws", InstanceType: "i4i.large"},
			DC:              "dc1", ClusterID: c, NodeID: node, TaskID: task, SnapshotTag: tag,
		},
		Index: []FilesMeta{
			{Keyspace: "ks", Table: "t", ReplicationType: ReplicationVnodes, Version: "0123456789abcdef0123456789abcdef",
				Files: []string{"mc-1-big-Data.db", "mc-1-big-TOC.txt"}, Size: 1200,
				ScyllaManifests: []string{ScyllaManifestName(tag, node, "manifest.json")}},
			{Keyspace: "system_schema", Table: "tables", ReplicationType: ReplicationVnodes, Version: "fedcba9876543210fedcba9876543210",
				Files: []string{"me-3g8n_0tn4_2pfaw2bu2b5ypnalzg-big-Data.db"}, Size: 34, ScyllaManifests: []string{}},
		},
	}
}

func TestManifestGolden(t *testing.T) {
	m := sampleManifest()
	var buf bytes.Buffer
	if err := WriteManifest(&buf, m); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("output is not gzip: %v", err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "manifest_v2.json")
	if *update {
		if err := os.WriteFile(golden, plain, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(want), string(plain)); d != "" {
		t.Errorf("manifest JSON differs from %s (-want +got):\n%s", golden, d)
	}
	got, err := ReadManifestAll(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(m, got); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
}

func gz(s string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write([]byte(s))
	_ = zw.Close()
	return b.Bytes()
}

func TestReadManifestStreaming(t *testing.T) {
	// index before the header fields, an unknown field, many entries.
	var sb strings.Builder
	sb.WriteString(`{"index":[`)
	for i := range 1000 {
		if i > 0 {
			sb.WriteString(",")
		}
		sb.WriteString(`{"keyspace":"ks","table":"t","version":"v","files":["a"],"size":1}`)
	}
	sb.WriteString(`],"future_field":{"x":[1,2]},"version":"v2","snapshot_tag":"sm_20210809095541UTC"}`)
	n := 0
	m, err := ReadManifest(bytes.NewReader(gz(sb.String())), func(fm FilesMeta) error {
		n++
		if fm.Keyspace != "ks" || len(fm.Files) != 1 {
			t.Fatalf("entry %+v", fm)
		}
		return nil
	})
	if err != nil || n != 1000 || m.SnapshotTag != "sm_20210809095541UTC" {
		t.Fatalf("n=%d m=%+v err=%v", n, m, err)
	}
	stop := errors.New("stop")
	n = 0
	_, err = ReadManifest(bytes.NewReader(gz(sb.String())), func(FilesMeta) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("visit error: n=%d err=%v", n, err)
	}
	for name, doc := range map[string][]byte{
		"not gzip":    []byte(`{"version":"v2"}`),
		"v1":          gz(`{"version":"v1","index":[]}`),
		"truncated":   gz(`{"version":"v2","index":[{"keyspace":"ks"`),
		"index obj":   gz(`{"version":"v2","index":{}}`),
		"not object":  gz(`[1]`),
		"bad size":    gz(`{"version":"v2","size":"x"}`),
		"bad entry":   gz(`{"version":"v2","index":[1]}`),
		"trailing []": gz(`{"version":"v2","index":[]`),
	} {
		if _, err := ReadManifest(bytes.NewReader(doc), nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzManifestDecode(f *testing.F) {
	var buf bytes.Buffer
	_ = WriteManifest(&buf, sampleManifest())
	f.Add(buf.Bytes())
	f.Add(gz(`{"version":"v2","index":null}`))
	f.Add(gz(`{"version":"v2","index":[{"files":null}],"tokens":[1,2]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ReadManifestAll(bytes.NewReader(data))
		if err != nil {
			return
		}
		// Whatever decodes must re-encode and decode to the same value.
		var out bytes.Buffer
		if err := WriteManifest(&out, m); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		m2, err := ReadManifestAll(&out)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if d := cmp.Diff(m, m2); d != "" {
			t.Fatalf("round trip differs: %s", d)
		}
	})
}

func FuzzParseLocation(f *testing.F) {
	for _, s := range []string{"s3:b", "dc1:gcs:b-1.x", "azure:c", "localstorage:x", "ftp:b", "a:b:c:d", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLocation(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not match ErrInvalid", err)
			}
			return
		}
		if !l.Provider.Valid() || l.Bucket == "" {
			t.Fatalf("accepted %q as %+v", s, l)
		}
		if l.String() != s {
			t.Fatalf("String() = %q, want %q", l.String(), s)
		}
		l2, err := ParseLocation(l.String())
		if err != nil || l2 != l {
			t.Fatalf("reparse %q: %+v %v", s, l2, err)
		}
	})
}
