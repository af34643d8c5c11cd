package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/scyllaops/scyllaops/repair"
	"github.com/scyllaops/scyllaops/restapi"
)

func repairProgressFixture() repair.RunProgress {
	orders := repair.TableProgress{Keyspace: "shop", Table: "orders", TokenRanges: 8, Success: 8, StartedAt: tp(0), CompletedAt: tp(90 * time.Second), DurationMs: 90_000}
	customers := repair.TableProgress{Keyspace: "shop", Table: "customers", TokenRanges: 8, Success: 2, Error: 1, StartedAt: tp(90 * time.Second), DurationMs: 30_500}
	log := repair.TableProgress{Keyspace: "audit", Table: "log", TokenRanges: 4}
	half := func(t repair.TableProgress) repair.TableProgress {
		t.TokenRanges, t.Success, t.Error = t.TokenRanges/2, t.Success/2, t.Error/2
		return t
	}
	return repair.RunProgress{
		SuccessPercentage: 50, ErrorPercentage: 5, TokenRanges: 20, Success: 10, Error: 1,
		StartedAt: tp(0), DurationMs: 120_000, DCs: []string{"dc1", "dc2"},
		Intensity: 0.5, MaxIntensity: 4, Parallel: 2, MaxParallel: 3,
		Waiting: []string{"10.0.1.2: compaction backlog"},
		Tables:  []repair.TableProgress{orders, customers, log},
		Hosts: []repair.HostProgress{
			{Host: "10.0.2.1", Tables: []repair.TableProgress{half(orders), half(customers), half(log)}},
			{Host: "10.0.1.1", Tables: []repair.TableProgress{half(orders), half(customers), half(log)}},
		},
	}
}

func TestRepairProgressText(t *testing.T) {
	raw, err := json.Marshal(repairProgressFixture())
	if err != nil {
		t.Fatal(err)
	}
	s, err := repairProgressText(raw, progressOpts{details: true})
	if err != nil {
		t.Fatal(err)
	}
	run := restapi.TaskRun{ID: "77777777-7777-4777-8777-777777777777", Status: "RUNNING", StartTime: tp(0)}
	got := runHeader(run, t0.Add(2*time.Minute)) + s
	golden(t, "repair_progress", got)

	// The same facts, stated without the golden file.
	for _, want := range []string{
		"Run:\t\t77777777-7777-4777-8777-777777777777\n",
		"Status:\t\tRUNNING\n",
		"Duration:\t2m\n",
		"Progress:\t[" + strings.Repeat("█", 20) + strings.Repeat("░", 20) + "]  50% 10/20 (5% failed)\n",
		"Intensity:\t0.5\n",
		"Parallel:\t2\n",
		"  - 10.0.1.2: compaction backlog\n",
		"│ Keyspace │ Table     │ Progress  │ Duration │\n",
		"│ shop     │ orders    │ 100%      │ 1m30s    │\n",
		"│ shop     │ customers │ 25% / 12% │ 30s      │\n",
		"│ audit    │ log       │ 0%        │          │\n",
		"\nHost: 10.0.1.1\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("repair progress lacks %q:\n%s", want, got)
		}
	}
	// Hosts are in address order; --host keeps only the named ones.
	if i, j := strings.Index(got, "Host: 10.0.1.1"), strings.Index(got, "Host: 10.0.2.1"); i < 0 || j < i {
		t.Errorf("host tables out of order:\n%s", got)
	}
	s, err = repairProgressText(raw, progressOpts{hosts: []string{"10.0.2.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(s, "Host: 10.0.1.1") || !strings.Contains(s, "Host: 10.0.2.1") {
		t.Errorf("--host 10.0.2.1:\n%s", s)
	}
	// The live bar counts token ranges, not bytes.
	v := progressViews()["repair"]
	done, total := v.fraction(raw)
	if bar := progressBar(done, total, 10, v.unit); bar != "[█████░░░░░]  50% 10/20" {
		t.Errorf("live bar = %q", bar)
	}
}

func TestRepairProgressTextEmpty(t *testing.T) {
	// A run that has not started yet: the server's empty progress object.
	for _, raw := range []string{"", "{}", `{"success_percentage":0,"token_ranges":0,"dcs":[],"hosts":[],"tables":[]}`} {
		s, err := repairProgressText(json.RawMessage(raw), progressOpts{details: true})
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		if !strings.HasPrefix(s, "Progress:\t[") || strings.Contains(s, "│") {
			t.Errorf("%q:\n%s", raw, s)
		}
	}
	if _, err := repairProgressText(json.RawMessage(`[]`), progressOpts{}); err == nil {
		t.Error("a malformed progress was accepted")
	}
}
