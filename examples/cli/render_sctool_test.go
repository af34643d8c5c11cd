package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/scyllaops/scyllaops/restapi"
)

// backup list --all-clusters names each item's cluster (ID only for a
// cluster the server does not know).
func TestBackupListAllClustersNamed(t *testing.T) {
	items := []restapi.BackupListItem{
		{ClusterID: id1, TaskID: id2, SnapshotInfo: []restapi.SnapshotInfo{{SnapshotTag: "sm_20261122100000UTC", Nodes: 3, Size: 1 << 30}}},
		{ClusterID: "77777777-7777-4777-8777-777777777777", TaskID: id2},
	}
	got := backupListText(items, true, map[string]string{id1: "prod"}, false)
	for _, want := range []string{"Cluster: prod (" + id1 + ")\n", "Cluster: 77777777-7777-4777-8777-777777777777\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("backup list --all-clusters lacks %q:\n%s", want, got)
		}
	}
}

// Host rows are in address order in every table (127.0.0.2 before
// 127.0.0.10, which a text sort puts first).
func TestHostRowsSorted(t *testing.T) {
	hosts := []string{"127.0.0.10", "127.0.0.2", "127.0.0.1"}
	inOrder := func(what, out string) {
		t.Helper()
		a, b, c := strings.Index(out, "127.0.0.1 "), strings.Index(out, "127.0.0.2 "), strings.Index(out, "127.0.0.10 ")
		if a < 0 || b < 0 || c < 0 || a > b || b > c {
			t.Errorf("%s: hosts not in address order:\n%s", what, out)
		}
	}
	var ns []restapi.NodeStatus
	var bp restapi.BackupProgress
	var vp []restapi.ValidateBackupProgress
	for _, h := range hosts {
		ns = append(ns, restapi.NodeStatus{DC: "dc1", Host: h, Status: "UN", CQLStatus: "UP", RESTStatus: "UP"})
		bp.Hosts = append(bp.Hosts, restapi.HostProgress{Host: h, Size: 1, Uploaded: 1})
		vp = append(vp, restapi.ValidateBackupProgress{Host: h, Location: "s3:b"})
	}
	inOrder("status", statusText(ns))
	raw, _ := json.Marshal(bp)
	s, err := backupProgressText(raw, progressOpts{})
	if err != nil {
		t.Fatal(err)
	}
	inOrder("backup progress", s)
	raw, _ = json.Marshal(vp)
	if s, err = validateProgressText(raw, progressOpts{}); err != nil {
		t.Fatal(err)
	}
	inOrder("validate progress", s)
}

// The dry run prints the method that will run, as sctool's "Backup
// Method:".
func TestBackupTargetMethod(t *testing.T) {
	got := backupTargetText(restapi.BackupTarget{DC: []string{"dc1"}, Location: []string{"s3:b"}, Retention: 3, Method: "rclone"}, false)
	if !strings.Contains(got, "Backup Method: rclone\n") {
		t.Errorf("dry run lacks the method:\n%s", got)
	}
}

// The dry run and the progress list the keyspaces a DC-filtered backup
// does not wholly cover.
func TestBackupWarningsShown(t *testing.T) {
	w := "keyspace system_distributed is not wholly covered by DC dc1"
	got := backupTargetText(restapi.BackupTarget{DC: []string{"dc1"}, Location: []string{"s3:b"}, Warnings: []string{w}}, false)
	if !strings.Contains(got, "Warnings:\n  - "+w+"\n") {
		t.Errorf("dry run lacks the warning:\n%s", got)
	}
	raw, _ := json.Marshal(restapi.BackupProgress{Stage: "UPLOAD", Warnings: []string{w}})
	s, err := backupProgressText(raw, progressOpts{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s, "Warnings:\n  - "+w+"\n") {
		t.Errorf("progress lacks the warning:\n%s", s)
	}
}

// A run of a second or more shows its duration (truncated to seconds, as
// sctool does); a running run counts up to now.
func TestRunHeaderDuration(t *testing.T) {
	start := time.Date(2026, 12, 2, 11, 48, 23, 400e6, time.UTC)
	end := start.Add(65*time.Second + 700*time.Millisecond)
	for _, c := range []struct {
		end  *time.Time
		now  time.Time
		want string
	}{
		{&end, end.Add(time.Hour), "Duration:\t1m5s\n"},
		{nil, start.Add(2500 * time.Millisecond), "Duration:\t2s\n"},
	} {
		got := runHeader(restapi.TaskRun{ID: "r", Status: "DONE", StartTime: &start, EndTime: c.end}, c.now)
		if !strings.Contains(got, c.want) {
			t.Errorf("header\n%s\nlacks %q", got, c.want)
		}
	}
}
