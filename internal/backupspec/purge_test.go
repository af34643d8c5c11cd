package backupspec

import (
	"fmt"
	"math/rand/v2"
	"path"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

func TestPlanPurgeBasic(t *testing.T) {
	c, task := uuid.New(), uuid.New()
	now := time.Date(2024, 1, 10, 0, 0, 0, 0, time.UTC)
	dir := SSTVersionDir(c, "dc1", "n1", "ks", "t", "v")
	mk := func(day int, tmp bool, files ...string) ManifestFiles {
		tag := NewSnapshotTag(time.Date(2024, 1, day, 0, 0, 0, 0, time.UTC))
		var full []string
		for _, f := range files {
			full = append(full, path.Join(dir, f))
		}
		return ManifestFiles{Info: ManifestInfo{ClusterID: c, DC: "dc1", NodeID: "n1", TaskID: task, SnapshotTag: tag, Temporary: tmp}, Files: full}
	}
	ms := []ManifestFiles{
		mk(1, false, "a", "b"),
		mk(2, false, "b", "c"),
		mk(3, false, "c", "d"),
		mk(4, true, "d", "e"), // unfinished
		mk(3, true, "c", "d"), // shadowed leftover of day 3
	}
	nodeDir := SSTNodeDir(c, "dc1", "n1")
	listing := map[string][]string{nodeDir: {
		path.Join(dir, "c.sm_20240102000000UTC"), // not after oldest (day 2) → delete
		path.Join(dir, "d.sm_20240103000000UTC"), // after oldest → keep
	}}
	p := PlanPurge(PurgeInput{Manifests: ms, Policies: map[uuid.UUID]RetentionPolicy{task: {Retention: 2}}, Now: now, Listing: listing})
	want := PurgePlan{
		StaleTags: []string{"sm_20240101000000UTC", "sm_20240104000000UTC"},
		KeptTags:  []string{"sm_20240102000000UTC", "sm_20240103000000UTC"},
		Oldest:    time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC),
		Files:     map[string][]string{nodeDir: {path.Join(dir, "a"), path.Join(dir, "c.sm_20240102000000UTC"), path.Join(dir, "e")}},
		Manifests: []string{ms[0].Info.Path(), ms[4].Info.Path(), ms[3].Info.Path()},
	}
	sort.Strings(want.Manifests)
	want.Schemas = append(ms[0].Info.SchemaPaths(), ms[3].Info.SchemaPaths()...)
	sort.Strings(want.Schemas)
	if d := cmp.Diff(want, p); d != "" {
		t.Errorf("plan (-want +got):\n%s", d)
	}
	// A grace period protects the unfinished backup and its files.
	p = PlanPurge(PurgeInput{Manifests: ms, Policies: map[uuid.UUID]RetentionPolicy{task: {Retention: 2}}, Now: now, TempGrace: 24 * time.Hour * 30})
	if d := cmp.Diff(map[string][]string{nodeDir: {path.Join(dir, "a")}}, p.Files); d != "" {
		t.Errorf("with grace (-want +got):\n%s", d)
	}
	// Days: only day 3 is younger than 7.5 days at now.
	p = PlanPurge(PurgeInput{Manifests: ms[:3], Policies: map[uuid.UUID]RetentionPolicy{task: {RetentionDays: 8}}, Now: now.Add(12 * time.Hour)})
	if d := cmp.Diff([]string{"sm_20240103000000UTC"}, p.KeptTags); d != "" {
		t.Errorf("days: %s", d)
	}
	// Unknown task: 30 days, so everything is kept.
	p = PlanPurge(PurgeInput{Manifests: ms[:3], Now: now})
	if len(p.StaleTags) != 0 || len(p.Files) != 0 {
		t.Errorf("unknown task purged %v", p)
	}
	if got := DeletedTaskPolicy(RetentionPolicy{Retention: 3, RetentionDays: 7}); got != (RetentionPolicy{RetentionDays: 30}) {
		t.Errorf("DeletedTaskPolicy = %+v", got)
	}
}

// simBucket simulates a bucket, nodes with changing SSTables, backups with
// dedup and versioning (and failures mid-upload), and purges, to check that
// PlanPurge never deletes what a kept manifest needs.
type simBucket struct {
	objects   map[string]string            // path → content
	manifests map[string]map[string]string // manifest path → file path → content
}

type simNode struct {
	id    string
	files map[string]string // local name → content
	gen   int
}

func (n *simNode) addSSTable(r *rand.Rand, uuidGen bool) {
	n.gen++
	id := fmt.Sprint(n.gen)
	prefix := "mc-" + id + "-big-"
	if uuidGen {
		prefix = fmt.Sprintf("me-%04d_%04d_%018d-big-", r.IntN(10000), r.IntN(10000), n.gen)
	}
	data := fmt.Sprintf("data-%d-%d", n.gen, r.Int())
	n.files[prefix+"Data.db"] = data
	n.files[prefix+"Digest.crc32"] = "crc(" + data + ")"
}

func (n *simNode) bundles() map[string][]string {
	out := map[string][]string{}
	for name := range n.files {
		s, _ := ParseSSTable(name)
		out[s.BundleKey()] = append(out[s.BundleKey()], name)
	}
	return out
}

func TestPurgePropertyRandomHistories(t *testing.T) {
	seeds := 200
	if testing.Short() {
		seeds = 30
	}
	for seed := range seeds {
		r := rand.New(rand.NewPCG(uint64(seed), 7))
		runHistory(t, r, seed)
	}
}

func runHistory(t *testing.T, r *rand.Rand, seed int) {
	c := uuid.New()
	tasks := []uuid.UUID{uuid.New(), uuid.New()}
	policies := map[uuid.UUID]RetentionPolicy{}
	for _, task := range tasks {
		policies[task] = RetentionPolicy{Retention: r.IntN(4), RetentionDays: []int{0, 0, 2, 5}[r.IntN(4)]}
		if policies[task] == (RetentionPolicy{}) {
			policies[task] = RetentionPolicy{Retention: 1}
		}
	}
	b := &simBucket{objects: map[string]string{}, manifests: map[string]map[string]string{}}
	nodes := []*simNode{{id: "n1", files: map[string]string{}}, {id: "n2", files: map[string]string{}}}
	for _, n := range nodes {
		n.addSSTable(r, false)
	}
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	grace := time.Duration(0)
	if r.IntN(2) == 0 {
		grace = 24 * time.Hour
	}
	for step := range 40 {
		now = now.Add(time.Duration(1+r.IntN(30)) * time.Hour)
		switch op := r.IntN(10); {
		case op < 3: // data changes
			for _, n := range nodes {
				switch r.IntN(4) {
				case 0:
					n.addSSTable(r, r.IntN(2) == 0)
				case 1: // compaction: drop a bundle, add one
					for _, files := range n.bundles() {
						for _, f := range files {
							delete(n.files, f)
						}
						break
					}
					n.addSSTable(r, r.IntN(2) == 0)
				case 2: // node rebuilt: integer generations restart, same names, new content
					n.files, n.gen = map[string]string{}, 0
					n.addSSTable(r, false)
				case 3:
				}
			}
		case op < 8: // backup, maybe failing
			b.backup(t, c, tasks[r.IntN(2)], NewSnapshotTag(now), nodes, r)
		default: // purge
			b.purge(c, policies, now, grace)
			b.check(t, seed, step)
		}
	}
	b.purge(c, policies, now, grace)
	b.check(t, seed, -1)
}

func (b *simBucket) backup(t *testing.T, c, task uuid.UUID, tag string, nodes []*simNode, r *rand.Rand) {
	failAt := -1
	if r.IntN(4) == 0 {
		failAt = r.IntN(6)
	}
	ops := 0
	for _, n := range nodes {
		dir := SSTVersionDir(c, "dc1", n.id, "ks", "t", "v")
		mpath := ManifestPath(c, "dc1", n.id, task, tag)
		var local, remote []File
		for name, content := range n.files {
			local = append(local, File{name, int64(len(content))})
		}
		sort.Slice(local, func(i, j int) bool { return local[i].Name < local[j].Name })
		for p, content := range b.objects {
			if path.Dir(p) == dir {
				remote = append(remote, File{path.Base(p), int64(len(content))})
			}
		}
		d, err := Deduplicate(local, remote, func(name string, rem bool) ([]byte, error) {
			if rem {
				return []byte(b.objects[path.Join(dir, name)]), nil
			}
			return []byte(n.files[name]), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		refs := map[string]string{}
		for _, f := range local {
			refs[path.Join(dir, f.Name)] = n.files[f.Name]
		}
		b.manifests[mpath+TempSuffix] = refs
		b.objects[mpath+TempSuffix] = "manifest"
		for _, f := range d.Upload {
			if ops == failAt {
				return // the run dies mid-upload: .tmp manifest stays
			}
			ops++
			p := path.Join(dir, f.Name)
			if old, ok := b.objects[p]; ok {
				b.objects[path.Join(dir, VersionedName(f.Name, tag))] = old
				delete(b.objects, p)
				if ops == failAt {
					return // died between the rename and the copy
				}
			}
			b.objects[p] = n.files[f.Name]
		}
	}
	for _, n := range nodes { // MOVE_MANIFEST
		mpath := ManifestPath(c, "dc1", n.id, task, tag)
		b.manifests[mpath] = b.manifests[mpath+TempSuffix]
		delete(b.manifests, mpath+TempSuffix)
		delete(b.objects, mpath+TempSuffix)
		b.objects[mpath] = "manifest"
	}
}

func (b *simBucket) purge(c uuid.UUID, policies map[uuid.UUID]RetentionPolicy, now time.Time, grace time.Duration) {
	in := PurgeInput{Policies: policies, Now: now, TempGrace: grace, Listing: map[string][]string{}}
	for mp, refs := range b.manifests {
		info, err := ParseManifestPath(mp)
		if err != nil {
			panic(err)
		}
		mf := ManifestFiles{Info: info}
		for f := range refs {
			mf.Files = append(mf.Files, f)
		}
		in.Manifests = append(in.Manifests, mf)
	}
	for p := range b.objects {
		if strings.HasPrefix(p, "backup/sst/") {
			node := strings.SplitN(p, "/keyspace/", 2)[0]
			in.Listing[node] = append(in.Listing[node], p)
		}
	}
	plan := PlanPurge(in)
	for _, files := range plan.Files {
		for _, f := range files {
			delete(b.objects, f)
		}
	}
	for _, m := range plan.Manifests {
		delete(b.manifests, m)
		delete(b.objects, m)
	}
}

// check: every remaining final manifest resolves all its files (with
// versioned names) to the content it had at backup time.
func (b *simBucket) check(t *testing.T, seed, step int) {
	t.Helper()
	dirs := map[string][]string{}
	for p := range b.objects {
		dirs[path.Dir(p)] = append(dirs[path.Dir(p)], path.Base(p))
	}
	for mp, refs := range b.manifests {
		info, _ := ParseManifestPath(mp)
		if info.Temporary {
			continue
		}
		for f, want := range refs {
			v := IndexVersions(dirs[path.Dir(f)])
			p := path.Join(path.Dir(f), v.Resolve(path.Base(f), info.SnapshotTag))
			got, ok := b.objects[p]
			if !ok || got != want {
				t.Fatalf("seed %d step %d: manifest %s: file %s resolved to %s: present=%v content %q want %q",
					seed, step, mp, f, p, ok, got, want)
			}
		}
	}
}

func TestPlanPurgeForceStale(t *testing.T) {
	c, task := uuid.New(), uuid.New()
	dir := SSTVersionDir(c, "dc1", "n1", "ks", "t", "v")
	mk := func(tag string, files ...string) ManifestFiles {
		var full []string
		for _, f := range files {
			full = append(full, path.Join(dir, f))
		}
		return ManifestFiles{Info: ManifestInfo{ClusterID: c, DC: "dc1", NodeID: "n1", TaskID: task, SnapshotTag: tag}, Files: full}
	}
	ms := []ManifestFiles{mk("sm_20240101000000UTC", "a", "b"), mk("sm_20240102000000UTC", "b", "c")}
	p := PlanPurge(PurgeInput{Manifests: ms, Policies: map[uuid.UUID]RetentionPolicy{task: {Retention: 5}},
		Now: time.Date(2024, 1, 3, 0, 0, 0, 0, time.UTC), ForceStale: []string{"sm_20240102000000UTC"}})
	if d := cmp.Diff(map[string][]string{SSTNodeDir(c, "dc1", "n1"): {path.Join(dir, "c")}}, p.Files); d != "" {
		t.Errorf("files (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{ms[1].Info.Path()}, p.Manifests); d != "" {
		t.Errorf("manifests: %s", d)
	}
}
