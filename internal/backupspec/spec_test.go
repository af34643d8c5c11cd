package backupspec

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

func TestParseLocation(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Location
		err  bool
	}{
		{in: "s3:my-bucket", want: Location{Provider: S3, Bucket: "my-bucket"}},
		{in: "dc1:gcs:b.1", want: Location{DC: "dc1", Provider: GCS, Bucket: "b.1"}},
		{in: "DC_east-1.x:azure:c-1", want: Location{DC: "DC_east-1.x", Provider: Azure, Bucket: "c-1"}},
		{in: "localstorage:backups", want: Location{Provider: LocalStorage, Bucket: "backups"}},
		{in: "ftp:bucket", err: true},
		{in: "s3:Bucket", err: true},
		{in: "s3:bucket/path", err: true},
		{in: "s3:", err: true},
		{in: "bucket", err: true},
		{in: "", err: true},
		{in: "a:b:s3:bucket", err: true},
	} {
		got, err := ParseLocation(tc.in)
		if tc.err {
			var ie *InvalidError
			if !errors.As(err, &ie) || ie.Field != "location" || !errors.Is(err, ErrInvalid) {
				t.Errorf("ParseLocation(%q) error = %v, want *InvalidError for location", tc.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseLocation(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want || got.String() != tc.in {
			t.Errorf("ParseLocation(%q) = %+v (%s), want %+v", tc.in, got, got, tc.want)
		}
	}
}

func TestLocationFor(t *testing.T) {
	locs := []Location{{Provider: S3, Bucket: "def"}, {DC: "dc2", Provider: GCS, Bucket: "two"}}
	if l, ok := LocationFor(locs, "dc2"); !ok || l.Bucket != "two" {
		t.Errorf("dc2 → %v %v", l, ok)
	}
	if l, ok := LocationFor(locs, "dc1"); !ok || l.Bucket != "def" {
		t.Errorf("dc1 → %v %v", l, ok)
	}
	if _, ok := LocationFor(locs[1:], "dc1"); ok {
		t.Error("dc1 without default location must not be covered")
	}
	if got := locs[0].RemotePath("backup/meta"); got != "s3:def/backup/meta" {
		t.Errorf("RemotePath = %q", got)
	}
}

func TestParseDCLimit(t *testing.T) {
	l, err := ParseDCLimit("rate_limit", "dc1:100")
	if err != nil || l != (DCLimit{DC: "dc1", Limit: 100}) {
		t.Fatalf("got %v %v", l, err)
	}
	l, err = ParseDCLimit("rate_limit", "7")
	if err != nil || l != (DCLimit{Limit: 7}) || l.String() != "7" {
		t.Fatalf("got %v %v", l, err)
	}
	for _, bad := range []string{"", "-1", "dc1:", "x:y:1", "1.5", "99999999999999999999999"} {
		_, err := ParseDCLimit("upload_parallel", bad)
		var ie *InvalidError
		if !errors.As(err, &ie) || ie.Field != "upload_parallel" {
			t.Errorf("ParseDCLimit(%q) = %v, want error naming upload_parallel", bad, err)
		}
	}
	limits := []DCLimit{{Limit: 5}, {DC: "dc2", Limit: 9}}
	b, err := json.Marshal(limits)
	if err != nil || string(b) != `["5","dc2:9"]` {
		t.Fatalf("marshal %s %v", b, err)
	}
	var back []DCLimit
	if err := json.Unmarshal(b, &back); err != nil || !cmp.Equal(back, limits) {
		t.Fatalf("unmarshal %v %v", back, err)
	}
	locs := []Location{{DC: "dc1", Provider: S3, Bucket: "bkt"}}
	b, _ = json.Marshal(locs)
	var locBack []Location
	if err := json.Unmarshal(b, &locBack); err != nil || !cmp.Equal(locBack, locs) {
		t.Fatalf("location round trip %s: %v %v", b, locBack, err)
	}
	if LimitFor(limits, "dc2", 1) != 9 || LimitFor(limits, "dc1", 1) != 5 || LimitFor(nil, "dc1", 100) != 100 {
		t.Error("LimitFor picks the wrong value")
	}
}

func TestSnapshotTag(t *testing.T) {
	ts := time.Date(2021, 8, 9, 9, 55, 41, 999, time.FixedZone("x", 3600))
	tag := NewSnapshotTag(ts)
	if tag != "sm_20210809085541UTC" {
		t.Fatalf("tag = %q", tag)
	}
	got, err := ParseSnapshotTag(tag)
	if err != nil || !got.Equal(ts.Truncate(time.Second)) {
		t.Fatalf("parse = %v %v", got, err)
	}
	for _, bad := range []string{"sm_2021080909554UTC", "sm_20211309095541UTC", "xx_20210809095541UTC", "sm_20210809095541utc"} {
		if IsSnapshotTag(bad) {
			t.Errorf("IsSnapshotTag(%q) = true", bad)
		}
	}
	if NewSnapshotTag(ts) >= NewSnapshotTag(ts.Add(time.Second)) {
		t.Error("tags do not sort chronologically")
	}
}

func TestLayout(t *testing.T) {
	c := uuid.MustParse("11111111-2222-3333-4444-555555555555")
	task := uuid.MustParse("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")
	n := "99999999-8888-7777-6666-555555555555"
	tag := "sm_20210809095541UTC"
	for got, want := range map[string]string{
		ManifestPath(c, "dc1", n, task, tag):         "backup/meta/cluster/" + c.String() + "/dc/dc1/node/" + n + "/task_" + task.String() + "_tag_" + tag + "_manifest.json.gz",
		SchemaPath(c, task, tag):                     "backup/schema/cluster/" + c.String() + "/task_" + task.String() + "_tag_" + tag + "_schema_with_internals.json.gz",
		AlternatorSchemaPath(c, task, tag):           "backup/schema/cluster/" + c.String() + "/task_" + task.String() + "_tag_" + tag + "_alternator_schema.json.gz",
		UnsafeSchemaPath(c, task, tag):               "backup/schema/cluster/" + c.String() + "/task_" + task.String() + "_tag_" + tag + "_schema.tar.gz",
		SSTVersionDir(c, "dc1", n, "ks", "t", "abc"): "backup/sst/cluster/" + c.String() + "/dc/dc1/node/" + n + "/keyspace/ks/table/t/abc",
		ScyllaManifestName(tag, n, "manifest.json"):  "tag_" + tag + "_node_" + n + "_manifest.json",
	} {
		if got != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
	for _, tmp := range []bool{false, true} {
		info := ManifestInfo{ClusterID: c, DC: "dc-1.x", NodeID: n, TaskID: task, SnapshotTag: tag, Temporary: tmp}
		got, err := ParseManifestPath(info.Path())
		if err != nil || got != info {
			t.Errorf("ParseManifestPath(%s) = %+v, %v", info.Path(), got, err)
		}
		if got2, err := ParseManifestPath("/" + info.Path()); err != nil || got2 != info {
			t.Errorf("leading slash: %v", err)
		}
	}
	for _, bad := range []string{
		"backup/meta/cluster/x/dc/dc1/node/n/task_" + task.String() + "_tag_" + tag + "_manifest.json.gz",
		ManifestPath(c, "dc1", n, task, "sm_1UTC"),
		ManifestPath(c, "dc1", n, task, tag) + ".bak",
		"backup/meta/cluster/" + c.String() + "/dc/dc1/node/" + n + "/other.json",
	} {
		if _, err := ParseManifestPath(bad); err == nil {
			t.Errorf("ParseManifestPath(%q) accepted", bad)
		}
	}
	if tb, v, ok := ParseTableDir("my_table-0123456789abcdef0123456789abcdef"); !ok || tb != "my_table" || v != "0123456789abcdef0123456789abcdef" {
		t.Errorf("ParseTableDir = %q %q %v", tb, v, ok)
	}
	if _, _, ok := ParseTableDir("t-0123"); ok {
		t.Error("short version accepted")
	}
}

func TestParseSSTable(t *testing.T) {
	for in, want := range map[string]SSTable{
		"me-3g8n_0tn4_2pfaw2bu2b5ypnalzg-big-Data.db": {Version: "me", ID: "3g8n_0tn4_2pfaw2bu2b5ypnalzg", IDType: UUIDID, Format: "big", Component: "Data.db"},
		"mc-5-big-Digest.crc32":                       {Version: "mc", ID: "5", IDType: IntegerID, Format: "big", Component: "Digest.crc32"},
		"ks1-t_1-ka-12-TOC.txt":                       {Keyspace: "ks1", Table: "t_1", Version: "ka", ID: "12", IDType: IntegerID, Component: "TOC.txt"},
	} {
		got, err := ParseSSTable(in)
		if err != nil || got != want {
			t.Errorf("ParseSSTable(%q) = %+v %v, want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"manifest.json", "schema.cql", "mc-x-big-Data.db", "mc-5"} {
		if _, err := ParseSSTable(bad); err == nil {
			t.Errorf("ParseSSTable(%q) accepted", bad)
		}
	}
	b, other := GroupBundles([]string{"mc-2-big-Data.db", "mc-1-big-TOC.txt", "x.json", "mc-1-big-Data.db"})
	want := []Bundle{
		{Key: "//mc/1", IDType: IntegerID, Files: []string{"mc-1-big-Data.db", "mc-1-big-TOC.txt"}},
		{Key: "//mc/2", IDType: IntegerID, Files: []string{"mc-2-big-Data.db"}},
	}
	if d := cmp.Diff(want, b); d != "" || len(other) != 1 || other[0] != "x.json" {
		t.Errorf("GroupBundles: %s other=%v", d, other)
	}
}

func TestDeduplicate(t *testing.T) {
	const u = "me-3g8n_0tn4_2pfaw2bu2b5ypnalzg-big-"
	local := []File{
		{u + "Data.db", 100}, {u + "TOC.txt", 10}, // UUID, same remotely → skip
		{"me-3g8n_0tn4_2pfaw2bu2b5ypnzzzz-big-Data.db", 5},     // UUID, size differs → upload
		{"mc-1-big-Data.db", 50}, {"mc-1-big-Digest.crc32", 8}, // int, same digest → skip
		{"mc-2-big-Data.db", 50}, {"mc-2-big-Digest.crc32", 8}, // int, other digest → upload
		{"mc-3-big-Data.db", 50},  // int without digest → upload
		{"other.txt", 1},          // not an sstable → upload
		{"mc-4-big-Data.db", 100}, // not remote (only versioned) → upload
	}
	remote := []File{
		{u + "Data.db", 100}, {u + "TOC.txt", 10},
		{"me-3g8n_0tn4_2pfaw2bu2b5ypnzzzz-big-Data.db", 6},
		{"mc-1-big-Data.db", 50}, {"mc-1-big-Digest.crc32", 8},
		{"mc-2-big-Data.db", 50}, {"mc-2-big-Digest.crc32", 8},
		{"mc-3-big-Data.db", 50}, {"other.txt", 1},
		{"mc-4-big-Data.db.sm_20200101000000UTC", 100},
	}
	digest := func(name string, remote bool) ([]byte, error) {
		if name == "mc-2-big-Digest.crc32" && remote {
			return []byte("other"), nil
		}
		return []byte("same"), nil
	}
	d, err := Deduplicate(local, remote, digest)
	if err != nil {
		t.Fatal(err)
	}
	var skip, up []string
	for _, f := range d.Skip {
		skip = append(skip, f.Name)
	}
	for _, f := range d.Upload {
		up = append(up, f.Name)
	}
	wantSkip := []string{u + "Data.db", u + "TOC.txt", "mc-1-big-Data.db", "mc-1-big-Digest.crc32"}
	wantUp := []string{"me-3g8n_0tn4_2pfaw2bu2b5ypnzzzz-big-Data.db", "mc-2-big-Data.db", "mc-2-big-Digest.crc32", "mc-3-big-Data.db", "other.txt", "mc-4-big-Data.db"}
	if diff := cmp.Diff(wantSkip, skip); diff != "" {
		t.Errorf("skip: %s", diff)
	}
	if diff := cmp.Diff(wantUp, up); diff != "" {
		t.Errorf("upload: %s", diff)
	}
	if d.SkippedBytes != 168 {
		t.Errorf("SkippedBytes = %d", d.SkippedBytes)
	}
	boom := errors.New("boom")
	if _, err := Deduplicate(local, remote, func(string, bool) ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Errorf("digest error not returned: %v", err)
	}
}

func TestVersions(t *testing.T) {
	if b, tag, ok := SplitVersioned("mc-1-big-Data.db.sm_20200101000000UTC"); !ok || b != "mc-1-big-Data.db" || tag != "sm_20200101000000UTC" {
		t.Errorf("SplitVersioned = %q %q %v", b, tag, ok)
	}
	if _, _, ok := SplitVersioned("mc-1-big-Data.db"); ok {
		t.Error("plain name reported versioned")
	}
	v := IndexVersions([]string{"f.sm_20200103000000UTC", "f", "f.sm_20200102000000UTC", "g"})
	for tag, want := range map[string]string{
		"sm_20200101000000UTC": "f.sm_20200102000000UTC",
		"sm_20200102000000UTC": "f.sm_20200103000000UTC",
		"sm_20200103000000UTC": "f",
		"sm_20200104000000UTC": "f",
	} {
		if got := v.Resolve("f", tag); got != want {
			t.Errorf("Resolve(f, %s) = %s, want %s", tag, got, want)
		}
	}
	if v.Resolve("g", "sm_20200101000000UTC") != "g" {
		t.Error("unversioned file resolved to a versioned name")
	}
}
