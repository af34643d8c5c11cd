package backupspec

import (
	"path"
	"slices"
	"sort"
	"time"

	"github.com/google/uuid"
)

// RetentionPolicy is how many snapshots of a task are kept: the newest
// Retention tags (0 = no count limit) and tags younger than RetentionDays
// days (0 = no age limit). Both apply when both are set.
type RetentionPolicy struct {
	Retention     int `json:"retention"`
	RetentionDays int `json:"retention_days"`
}

// UnknownTaskPolicy is applied to manifests of tasks absent from a policy
// map: snapshots are kept 30 days.
func UnknownTaskPolicy() RetentionPolicy { return RetentionPolicy{RetentionDays: 30} }

// DeletedTaskPolicy converts the policy of a deleted task: count-based
// retention cannot advance any more, so it becomes max(days, 30) days.
func DeletedTaskPolicy(p RetentionPolicy) RetentionPolicy {
	if p.Retention > 0 {
		return RetentionPolicy{RetentionDays: max(p.RetentionDays, 30)}
	}
	return p
}

// ManifestFiles is a manifest found in a bucket with the remote paths
// (relative to the bucket) of every file it references.
type ManifestFiles struct {
	Info  ManifestInfo
	Files []string
}

// PurgeInput is everything PlanPurge needs.
type PurgeInput struct {
	// Manifests of the cluster in one location, final and temporary.
	Manifests []ManifestFiles
	// Policies per task; tasks not in the map get UnknownTaskPolicy.
	Policies map[uuid.UUID]RetentionPolicy
	Now      time.Time
	// TempGrace protects in-progress backups: a .tmp manifest whose tag
	// is younger than Now-TempGrace is neither stale nor counted for
	// retention, and the files it references are kept. 0 = every .tmp
	// manifest is stale (Scylla Manager's rule).
	TempGrace time.Duration
	// ForceStale are tags made stale whatever the policy (explicit
	// deletion of snapshots).
	ForceStale []string
	// Listing holds, per node data dir (SSTNodeDir), the remote file
	// paths present; only versioned files are taken from it.
	Listing map[string][]string
}

// PurgePlan is what a purge deletes.
type PurgePlan struct {
	// StaleTags are the tags with a stale manifest, sorted.
	StaleTags []string
	// KeptTags are the tags with a kept (or protected) manifest, sorted.
	KeptTags []string
	// Oldest is the time of the oldest kept tag; zero if none is kept.
	Oldest time.Time
	// Files maps a node data dir (SSTNodeDir) to the paths to delete
	// there, sorted.
	Files map[string][]string
	// Manifests to delete (stale ones and shadowed .tmp leftovers),
	// sorted.
	Manifests []string
	// Schemas are the schema files of stale snapshots to delete, sorted.
	Schemas []string
}

type taskTag struct {
	task uuid.UUID
	tag  string
}

// PlanPurge applies retention to the manifests of a cluster in a
// location: stale tags per task (every temporary manifest outside
// TempGrace; tags older than Now−RetentionDays; tags beyond the newest
// Retention), then per node the files referenced by stale manifests minus
// the files referenced by any kept manifest, plus versioned files whose
// tag is not after the oldest kept tag. It never returns a file that a
// kept or protected manifest references.
func PlanPurge(in PurgeInput) PurgePlan {
	final := map[string]bool{} // final manifest paths
	for _, m := range in.Manifests {
		if !m.Info.Temporary {
			final[m.Info.Path()] = true
		}
	}
	// Final tags per task, newest first.
	tagsByTask := map[uuid.UUID][]string{}
	seen := map[taskTag]bool{}
	for _, m := range in.Manifests {
		tt := taskTag{m.Info.TaskID, m.Info.SnapshotTag}
		if m.Info.Temporary || seen[tt] {
			continue
		}
		seen[tt] = true
		tagsByTask[tt.task] = append(tagsByTask[tt.task], tt.tag)
	}
	staleFinal := map[taskTag]bool{}
	for task, tags := range tagsByTask {
		sort.Sort(sort.Reverse(sort.StringSlice(tags)))
		p, ok := in.Policies[task]
		if !ok {
			p = UnknownTaskPolicy()
		}
		for i, tag := range tags {
			t, _ := ParseSnapshotTag(tag)
			if p.Retention > 0 && i >= p.Retention {
				staleFinal[taskTag{task, tag}] = true
			}
			if p.RetentionDays > 0 && t.Before(in.Now.Add(-time.Duration(p.RetentionDays)*24*time.Hour)) {
				staleFinal[taskTag{task, tag}] = true
			}
		}
	}

	for _, m := range in.Manifests {
		if !m.Info.Temporary && slices.Contains(in.ForceStale, m.Info.SnapshotTag) {
			staleFinal[taskTag{m.Info.TaskID, m.Info.SnapshotTag}] = true
		}
	}

	var plan PurgePlan
	plan.Files = map[string][]string{}
	keepFiles := map[string]bool{}
	staleFiles := map[string]map[string]bool{} // node dir → paths
	staleTags, keptTags := map[string]bool{}, map[string]bool{}
	keptTaskTags := map[taskTag]bool{}
	staleTaskTags := map[taskTag]bool{}
	manifests := map[string]bool{}
	for _, m := range in.Manifests {
		tt := taskTag{m.Info.TaskID, m.Info.SnapshotTag}
		stale := staleFinal[tt]
		if m.Info.Temporary {
			if final[ManifestInfo{ClusterID: m.Info.ClusterID, DC: m.Info.DC, NodeID: m.Info.NodeID, TaskID: m.Info.TaskID, SnapshotTag: m.Info.SnapshotTag}.Path()] {
				manifests[m.Info.Path()] = true // shadowed leftover
				continue
			}
			t, _ := ParseSnapshotTag(m.Info.SnapshotTag)
			stale = in.TempGrace <= 0 || t.Before(in.Now.Add(-in.TempGrace))
		}
		if stale {
			staleTags[tt.tag] = true
			staleTaskTags[tt] = true
			manifests[m.Info.Path()] = true
			dir := m.Info.SSTNodeDir()
			if staleFiles[dir] == nil {
				staleFiles[dir] = map[string]bool{}
			}
			for _, f := range m.Files {
				staleFiles[dir][f] = true
			}
			continue
		}
		keptTags[tt.tag] = true
		keptTaskTags[tt] = true
		for _, f := range m.Files {
			keepFiles[f] = true
		}
	}
	for tag := range keptTags {
		t, _ := ParseSnapshotTag(tag)
		if plan.Oldest.IsZero() || t.Before(plan.Oldest) {
			plan.Oldest = t
		}
	}
	oldestTag := ""
	if !plan.Oldest.IsZero() {
		oldestTag = NewSnapshotTag(plan.Oldest)
	}
	for dir, files := range staleFiles {
		for f := range files {
			if !keepFiles[f] {
				plan.Files[dir] = append(plan.Files[dir], f)
			}
		}
	}
	for dir, files := range in.Listing {
		have := map[string]bool{}
		for _, f := range plan.Files[dir] {
			have[f] = true
		}
		for _, f := range files {
			_, tag, ok := SplitVersioned(path.Base(f))
			if ok && (oldestTag == "" || tag <= oldestTag) && !have[f] && !keepFiles[f] {
				plan.Files[dir] = append(plan.Files[dir], f)
				have[f] = true
			}
		}
	}
	for dir := range plan.Files {
		if len(plan.Files[dir]) == 0 {
			delete(plan.Files, dir)
			continue
		}
		sort.Strings(plan.Files[dir])
	}
	schemas := map[string]bool{}
	for _, m := range in.Manifests {
		tt := taskTag{m.Info.TaskID, m.Info.SnapshotTag}
		if staleTaskTags[tt] && !keptTaskTags[tt] {
			for _, s := range m.Info.SchemaPaths() {
				schemas[s] = true
			}
		}
	}
	plan.StaleTags = sortedKeys(staleTags)
	plan.KeptTags = sortedKeys(keptTags)
	plan.Manifests = sortedKeys(manifests)
	plan.Schemas = sortedKeys(schemas)
	return plan
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
