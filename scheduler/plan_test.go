package scheduler

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func mustPlan(t *testing.T, s store.Schedule) *Plan {
	t.Helper()
	p, err := ParseSchedule(s)
	if err != nil {
		t.Fatalf("ParseSchedule(%+v): %v", s, err)
	}
	return p
}

func TestParseScheduleInvalid(t *testing.T) {
	for _, tc := range []struct {
		name  string
		s     store.Schedule
		field string
	}{
		{"bad cron", store.Schedule{Cron: "61 * * * *"}, "schedule.cron"},
		{"cron words", store.Schedule{Cron: "every day"}, "schedule.cron"},
		{"cron 7 fields", store.Schedule{Cron: "0 0 0 * * * *"}, "schedule.cron"},
		{"cron never", store.Schedule{Cron: "0 0 30 2 *"}, "schedule.cron"},
		{"cron TZ prefix", store.Schedule{Cron: "TZ=UTC"}, "schedule.cron"},
		{"every negative", store.Schedule{Cron: "@every -1m"}, "schedule.cron"},
		{"every tiny", store.Schedule{Cron: "@every 10ms"}, "schedule.cron"},
		{"bad descriptor", store.Schedule{Cron: "@fortnightly"}, "schedule.cron"},
		{"timezone", store.Schedule{Cron: "@daily", Timezone: "Mars/Olympus"}, "schedule.timezone"},
		{"timezone Local", store.Schedule{Timezone: "Local"}, "schedule.timezone"},
		{"interval negative", store.Schedule{Interval: -time.Hour}, "schedule.interval"},
		{"interval tiny", store.Schedule{Interval: time.Millisecond}, "schedule.interval"},
		{"retries negative", store.Schedule{NumRetries: -1}, "schedule.num_retries"},
		{"retries huge", store.Schedule{NumRetries: 100000}, "schedule.num_retries"},
		{"retry wait", store.Schedule{NumRetries: 1, RetryWait: -time.Second}, "schedule.retry_wait"},
		{"window odd", store.Schedule{Window: []string{"Mon-00:00"}}, "schedule.window"},
		{"window weekday", store.Schedule{Window: []string{"Mun-00:00", "Tue-00:00"}}, "schedule.window"},
		{"window hour", store.Schedule{Window: []string{"24:00", "06:00"}}, "schedule.window"},
		{"window mixed", store.Schedule{Window: []string{"Mon-22:00", "06:00"}}, "schedule.window"},
		{"window empty", store.Schedule{Window: []string{"22:00", "22:00"}}, "schedule.window"},
		{"window garbage", store.Schedule{Window: []string{"22", "06:00"}}, "schedule.window"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSchedule(tc.s)
			var ie *store.InvalidError
			if !errors.As(err, &ie) || !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("err = %v, want *store.InvalidError", err)
			}
			if ie.Field != tc.field {
				t.Errorf("field = %q, want %q (%v)", ie.Field, tc.field, err)
			}
			if !strings.Contains(ie.Want, "e.g.") && !strings.Contains(ie.Want, "like") {
				t.Errorf("want %q gives no example", ie.Want)
			}
		})
	}
}

func TestNextCron(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		s     store.Schedule
		after string
		want  []string
	}{
		{store.Schedule{Cron: "0 23 * * SAT"}, "2026-11-22T00:00:00Z", []string{"2026-11-28T23:00:00Z", "2026-12-05T23:00:00Z"}},
		{store.Schedule{Cron: "*/20 * * * * *"}, "2026-11-22T00:00:05Z", []string{"2026-11-22T00:00:20Z", "2026-11-22T00:00:40Z"}},
		{store.Schedule{Cron: "@daily"}, "2026-11-22T10:00:00Z", []string{"2026-11-23T00:00:00Z", "2026-11-24T00:00:00Z"}},
		{store.Schedule{Cron: "@every 15m"}, "2026-11-22T10:00:00Z", []string{"2026-11-22T10:15:00Z", "2026-11-22T10:30:00Z"}},
		// Start date in the future: first match at or after it.
		{store.Schedule{Cron: "0 * * * *", StartDate: at("2026-12-01T05:00:00Z")}, "2026-11-22T10:00:00Z", []string{"2026-12-01T05:00:00Z", "2026-12-01T06:00:00Z"}},
		// Interval: start + k×interval.
		{store.Schedule{Interval: 6 * time.Hour, StartDate: at("2026-11-01T01:00:00Z")}, "2026-11-22T10:00:00Z", []string{"2026-11-22T13:00:00Z", "2026-11-22T19:00:00Z"}},
		// One-shot.
		{store.Schedule{StartDate: at("2026-11-23T01:00:00Z")}, "2026-11-22T10:00:00Z", []string{"2026-11-23T01:00:00Z", ""}},
		// Time zone: 09:00 Warsaw is 08:00 UTC in winter, 07:00 in summer.
		{store.Schedule{Cron: "0 9 * * *", Timezone: "Europe/Warsaw"}, "2026-03-28T10:00:00Z", []string{"2026-03-29T07:00:00Z", "2026-03-30T07:00:00Z"}},
		{store.Schedule{Cron: "0 9 * * *", Timezone: "Europe/Warsaw"}, "2026-03-27T10:00:00Z", []string{"2026-03-28T08:00:00Z", "2026-03-29T07:00:00Z"}},
	} {
		p := mustPlan(t, tc.s)
		after := at(tc.after)
		for i, w := range tc.want {
			got := p.Next(after)
			if w == "" {
				if !got.IsZero() {
					t.Errorf("%+v: activation %d = %v, want none", tc.s, i, got)
				}
				break
			}
			if !got.Equal(at(w)) {
				t.Errorf("%+v: activation %d after %v = %v, want %v", tc.s, i, after, got, w)
			}
			after = got
		}
	}
}

// TestNextDSTGap: a daily 02:30 Warsaw job on the spring-forward day (02:00
// -> 03:00) neither fires twice nor stalls; on the fall-back day (03:00 ->
// 02:00) it fires once.
func TestNextDST(t *testing.T) {
	p := mustPlan(t, store.Schedule{Cron: "30 2 * * *", Timezone: "Europe/Warsaw"})
	waw := mustLoc(t, "Europe/Warsaw")
	count := map[string]int{}
	after := time.Date(2026, 3, 27, 12, 0, 0, 0, waw)
	for range 220 {
		n := p.Next(after)
		if !n.After(after) {
			t.Fatalf("Next(%v) = %v does not advance", after, n)
		}
		count[n.In(waw).Format("2006-01-02")]++
		after = n
	}
	for day, c := range count {
		if c != 1 {
			t.Errorf("%s: %d activations, want 1", day, c)
		}
	}
	if count["2026-10-25"] != 1 {
		t.Errorf("fall-back day 2026-10-25: %d activations, want 1", count["2026-10-25"])
	}
}

func TestBackoff(t *testing.T) {
	want := []time.Duration{10 * time.Minute, 20 * time.Minute, 40 * time.Minute, 80 * time.Minute, 160 * time.Minute, 3 * time.Hour, 3 * time.Hour}
	p := mustPlan(t, store.Schedule{NumRetries: 10})
	for n, w := range want {
		if got := p.Backoff(n); got != w {
			t.Errorf("Backoff(%d) = %v, want %v", n, got, w)
		}
	}
	if got := Backoff(time.Minute, 1000); got != MaxRetryWait {
		t.Errorf("Backoff(1m, 1000) = %v", got)
	}
	if got := Backoff(5*time.Hour, 0); got != MaxRetryWait {
		t.Errorf("Backoff(5h, 0) = %v", got)
	}
}

func TestWindow(t *testing.T) {
	utc := time.UTC
	d := func(day, h, m int) time.Time { return time.Date(2026, 11, day, h, m, 0, 0, utc) } // 2026-11-23 is a Monday
	w, err := ParseWindow([]string{"Mon-00:00", "Fri-23:59"}, utc)
	if err != nil {
		t.Fatal(err)
	}
	if !w.Contains(d(23, 0, 0)) || !w.Contains(d(27, 23, 58)) || w.Contains(d(27, 23, 59)) || w.Contains(d(28, 12, 0)) {
		t.Errorf("weekday window %v membership wrong", w)
	}
	if got := w.End(d(25, 12, 0)); !got.Equal(d(27, 23, 59)) {
		t.Errorf("End = %v", got)
	}
	if got := w.NextStart(d(28, 12, 0)); !got.Equal(d(30, 0, 0)) {
		t.Errorf("NextStart = %v", got)
	}
	// Daily pair across midnight.
	w, err = ParseWindow([]string{"22:00", "06:00"}, utc)
	if err != nil {
		t.Fatal(err)
	}
	if !w.Contains(d(24, 23, 0)) || !w.Contains(d(25, 5, 59)) || w.Contains(d(25, 6, 0)) || w.Contains(d(25, 21, 59)) {
		t.Errorf("daily window %v membership wrong", w)
	}
	if got := w.End(d(24, 23, 0)); !got.Equal(d(25, 6, 0)) {
		t.Errorf("End = %v", got)
	}
	if got := w.NextStart(d(25, 12, 0)); !got.Equal(d(25, 22, 0)) {
		t.Errorf("NextStart = %v", got)
	}
	// Sunday night to Monday morning wraps the week.
	w, err = ParseWindow([]string{"sunday-20:00", "MON-04:00:30"}, utc)
	if err != nil {
		t.Fatal(err)
	}
	if got := w.End(d(29, 21, 0)); !got.Equal(d(30, 4, 0).Add(30 * time.Second)) {
		t.Errorf("wrapping End = %v", got)
	}
	// Overlapping pairs merge; a full cover is always open.
	w, err = ParseWindow([]string{"00:00", "13:00", "12:00", "00:00"}, utc)
	if err != nil {
		t.Fatal(err)
	}
	if !w.Always() {
		t.Errorf("full cover %v is not Always", w)
	}
	// Zone: 01:00-03:00 Warsaw on the spring-forward day ends at 03:00
	// local, i.e. one hour after its start.
	waw := mustLoc(t, "Europe/Warsaw")
	w, err = ParseWindow([]string{"01:00", "03:00"}, waw)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 29, 1, 0, 0, 0, waw)
	if end := w.End(start); end.Sub(start) != time.Hour {
		t.Errorf("DST window end %v, %v after start", end, end.Sub(start))
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"10m": 10 * time.Minute, "1h30m": 90 * time.Minute, "7d": 7 * 24 * time.Hour, "1d12h": 36 * time.Hour,
		"2w": 14 * 24 * time.Hour, "0": 0, "1.5h": 90 * time.Minute, "-1d": -24 * time.Hour,
	} {
		got, err := ParseDuration("schedule.interval", in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "1.5d", "10", "1x", "99999999999999d", "--1h"} {
		_, err := ParseDuration("schedule.retry_wait", in)
		var ie *store.InvalidError
		if !errors.As(err, &ie) || ie.Field != "schedule.retry_wait" {
			t.Errorf("ParseDuration(%q) = %v, want InvalidError naming the field", in, err)
		}
	}
}

func TestDeriveRunID(t *testing.T) {
	task := uuid.New()
	at := time.Date(2026, 11, 22, 23, 0, 0, 0, time.UTC)
	a, b := DeriveRunID(task, at, 0), DeriveRunID(task, at, 0)
	if a != b {
		t.Fatalf("not deterministic: %v %v", a, b)
	}
	if a.Version() != 1 || !store.UUIDTime(a).Equal(at) {
		t.Errorf("id %v: version %d, time %v", a, a.Version(), store.UUIDTime(a))
	}
	if DeriveRunID(task, at, 1) == a || DeriveRunID(uuid.New(), at, 0) == a || DeriveRunID(task, at.Add(time.Second), 0) == a {
		t.Error("different inputs derive the same ID")
	}
}
