package backup

import "testing"

func TestSkipTable(t *testing.T) {
	for _, tc := range []struct {
		ks, table string
		skip      bool
	}{
		{"system", "paxos", true},
		{"ks", "t$paxos", true},
		{"system_distributed", "snapshot_tags", true},
		{"system_distributed", "snapshots", true},
		{"ks", "t_scylla_cdc_log", true},
		{"system_distributed", "cdc_streams_descriptions_v2", true},
		{"system_distributed", "cdc_generation_timestamps", true},
		{"system", "local", false},
		{"ks", "cdc", false}, // a user table may be named cdc
		{"system_distributed", "view_build_status", false},
		{"ks", "t", false},
	} {
		if got := skipTable(tc.ks, tc.table); got != tc.skip {
			t.Errorf("skipTable(%s, %s) = %v, want %v", tc.ks, tc.table, got, tc.skip)
		}
	}
}

func TestTableFilter(t *testing.T) {
	f, err := newTableFilter([]string{"*", "!system_traces", "ks2.a*", "!ks2.ab"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ks, table string
		in        bool
	}{
		{"ks", "t", true}, {"system_traces", "events", false}, {"ks2", "a1", true}, {"ks2", "ab", false}, {"ks2", "b", true},
	} {
		if got := f.match(tc.ks, tc.table); got != tc.in {
			t.Errorf("match(%s.%s) = %v, want %v", tc.ks, tc.table, got, tc.in)
		}
	}
	f, _ = newTableFilter([]string{"ks1.t1"})
	if f.match("ks1", "t2") || !f.match("ks1", "t1") || f.match("ks2", "t1") {
		t.Error("literal pattern matches the wrong tables")
	}
	if err := f.checkLiteral(map[string][]string{"ks1": {"t2"}}); err == nil {
		t.Error("missing literal table accepted")
	}
	if !dcMatch(nil, "dc1") || dcMatch([]string{"dc2"}, "dc1") || !dcMatch([]string{"*", "!dc2"}, "dc1") || dcMatch([]string{"*", "!dc2"}, "dc2") {
		t.Error("dcMatch")
	}
}
