package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/scyllaops/scyllaops/restapi"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func tp(d time.Duration) *time.Time { t := t0.Add(d); return &t }

func TestStatusTable(t *testing.T) {
	ns := []restapi.NodeStatus{
		{DC: "dc2", Host: "10.0.2.1", HostID: "h21", Status: "UN", CQLStatus: "UP", CQLRttMs: 2, RESTStatus: "UP", RESTRttMs: 1, Uptime: 90061, CPUCount: 8, TotalRAM: 32 << 30, ScyllaVersion: "2025.1.0", AgentVersion: "0.1"},
		{DC: "dc1", Host: "10.0.1.2", HostID: "h12", Status: "DN", CQLStatus: "DOWN", CQLCause: "dial tcp: refused", RESTStatus: "TIMEOUT", RESTCause: "context deadline exceeded"},
		{DC: "dc1", Host: "10.0.1.1", HostID: "h11", Status: "UN", SSL: true, CQLStatus: "UP", CQLRttMs: 3, RESTStatus: "UP", RESTRttMs: 1, Uptime: 3600, CPUCount: 4, TotalRAM: 16 << 30, ScyllaVersion: "2025.1.0", AgentVersion: "0.1"},
	}
	golden(t, "status", statusText(ns))
}

func TestTasksTable(t *testing.T) {
	cron, _ := json.Marshal(map[string]any{"spec": "0 23 * * SAT", "start_date": "0001-01-01T00:00:00Z"})
	ts := []restapi.TaskListItem{
		{Task: restapi.Task{Type: "repair", ID: "33333333-3333-4333-8333-333333333333", Name: "all-weekly", Enabled: true,
			Schedule: restapi.Schedule{Cron: string(cron), Timezone: "UTC", NumRetries: 3}}, Status: "NEW", NextActivation: tp(26 * time.Hour)},
		{Task: restapi.Task{Type: "backup", ID: "44444444-4444-4444-8444-444444444444", Enabled: true, Labels: map[string]string{"env": "prod"},
			Schedule: restapi.Schedule{Cron: "@daily", Window: []string{"Sat-22:00", "Sun-06:00"}}},
			Status: "DONE", SuccessCount: 4, ErrorCount: 1, LastSuccess: tp(-2 * time.Hour), LastError: tp(-26 * time.Hour), NextActivation: tp(90 * time.Second)},
		{Task: restapi.Task{Type: "backup", ID: "55555555-5555-4555-8555-555555555555", Name: "old", Enabled: false}, Status: "STOPPED"},
	}
	golden(t, "tasks", tasksTable(ts, false, false, t0).String())
}

func TestBackupProgressText(t *testing.T) {
	p := restapi.BackupProgress{
		SnapshotTag: "sm_20261122100000UTC", DCs: []string{"dc1", "dc2"}, Stage: "DONE", Size: 3 << 20, Uploaded: 1 << 20, Skipped: 2 << 20,
		StartedAt: tp(0), CompletedAt: tp(time.Minute),
		Hosts: []restapi.HostProgress{
			{Host: "10.0.1.1", Size: 2 << 20, Uploaded: 1 << 20, Skipped: 1 << 20, Keyspaces: []restapi.KeyspaceProgress{
				{Keyspace: "shop", Size: 2 << 20, Tables: []restapi.TableProgress{
					{Table: "orders", Size: 1 << 20, Uploaded: 1 << 20, StartedAt: tp(0), CompletedAt: tp(30 * time.Second)},
					{Table: "customers", Size: 1 << 20, Skipped: 1 << 20, StartedAt: tp(0), CompletedAt: tp(time.Second)},
				}},
			}},
			{Host: "10.0.2.1", Size: 1 << 20, Skipped: 1 << 20},
		},
	}
	raw, _ := json.Marshal(p)
	s, err := backupProgressText(raw, progressOpts{details: true})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "backup_progress", s)
	run := restapi.TaskRun{ID: "66666666-6666-4666-8666-666666666666", Status: "DONE", StartTime: tp(0), EndTime: tp(time.Minute)}
	golden(t, "run_header", runHeader(run, t0))
}

func TestBackupListText(t *testing.T) {
	items := []restapi.BackupListItem{{
		ClusterID: id1, TaskID: "44444444-4444-4444-8444-444444444444",
		Units:        []restapi.BackupUnit{{Keyspace: "shop", Tables: []string{"orders", "customers"}, AllTables: true}, {Keyspace: "audit", Tables: []string{"log"}}},
		SnapshotInfo: []restapi.SnapshotInfo{{SnapshotTag: "sm_20261122100000UTC", Nodes: 6, Size: 5 << 30}, {SnapshotTag: "sm_20261121100000UTC", Nodes: 6, Size: 4 << 30}},
	}}
	golden(t, "backup_list", backupListText(items, false, nil, true))
}

func TestMain(m *testing.M) {
	// Golden tables print times in the local zone, as sctool does: pin it.
	time.Local = time.UTC
	m.Run()
}

func TestProgressBar(t *testing.T) {
	for _, tc := range []struct {
		done, total int64
		want        string
	}{
		{512, 1024, "[█████░░░░░]  50% 512B/1.000KiB"},
		{0, 0, "[░░░░░░░░░░]   0% 0B/0B"},
		{3 << 20, 2 << 20, "[██████████] 100% 3.000MiB/2.000MiB"},
	} {
		if got := ProgressBar(tc.done, tc.total, 10); got != tc.want {
			t.Errorf("ProgressBar(%d, %d) = %q, want %q", tc.done, tc.total, got, tc.want)
		}
	}
}
