package scheduler

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/scyllaops/scyllaops/store"
)

// Parsers must never panic, and every refusal must be an InvalidError
// naming the field; accepted input must behave (Next advances, window
// bounds are consistent).

func FuzzParseCron(f *testing.F) {
	for _, s := range []string{"0 23 * * SAT", "*/15 * * * * *", "@daily", "@every 15m", "TZ=", "CRON_TZ=Europe/Warsaw 0 0 * * *", "0 0 30 2 *", "@every", "* * * * * * *", "59 23 31 12 SUN"} {
		f.Add(s)
	}
	from := time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, spec string) {
		p, err := ParseSchedule(store.Schedule{Cron: spec, Timezone: "Europe/Warsaw"})
		if err != nil {
			var ie *store.InvalidError
			if !errors.As(err, &ie) || ie.Field != "schedule.cron" {
				t.Fatalf("ParseSchedule(%q): %v is not an InvalidError on schedule.cron", spec, err)
			}
			return
		}
		n := p.Next(from)
		if !n.IsZero() && !n.After(from) {
			t.Fatalf("Next(%v) = %v for %q", from, n, spec)
		}
	})
}

func FuzzParseWindow(f *testing.F) {
	f.Add("Mon-00:00,Fri-23:59")
	f.Add("22:00,06:00")
	f.Add("sun-20:00,MON-04:00:30")
	f.Add("00:00,13:00,12:00,00:00")
	f.Add("Mon-,Tue-1:1")
	from := time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		w, err := ParseWindow(strings.Split(s, ","), time.UTC)
		if err != nil {
			var ie *store.InvalidError
			if !errors.As(err, &ie) || ie.Field != "schedule.window" {
				t.Fatalf("ParseWindow(%q): %v is not an InvalidError on schedule.window", s, err)
			}
			return
		}
		in, end, next := w.Bounds(from)
		switch {
		case w.Always():
		case in && !end.After(from):
			t.Fatalf("%q: inside, but end %v <= %v", s, end, from)
		case !in && !next.After(from):
			t.Fatalf("%q: outside, but next start %v <= %v", s, next, from)
		case !in && !w.Contains(next):
			t.Fatalf("%q: next start %v is not inside", s, next)
		}
	})
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"10m", "1h30m", "7d", "1d12h", "2w", "0", "-1d", "1.5h", "99999999999999d", "1e9h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration("schedule.interval", s)
		if err != nil {
			var ie *store.InvalidError
			if !errors.As(err, &ie) || ie.Field != "schedule.interval" {
				t.Fatalf("ParseDuration(%q): %v is not an InvalidError naming the field", s, err)
			}
			return
		}
		// Go durations must agree with time.ParseDuration.
		if !strings.ContainsAny(s, "dw") {
			if g, gerr := time.ParseDuration(strings.TrimSpace(s)); gerr == nil && g != d {
				t.Fatalf("ParseDuration(%q) = %v, time.ParseDuration = %v", s, d, g)
			}
		}
	})
}
