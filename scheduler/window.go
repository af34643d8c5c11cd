package scheduler

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/scyllaops/scyllaops/store"
)

const (
	week       = 7 * 24 * 3600 // seconds
	wantWindow = `an even number of "[Weekday-]HH:MM[:SS]" begin/end entries, e.g. ["Mon-00:00","Fri-23:59"] or ["22:00","06:00"]`
)

// Window is a weekly maintenance window: a set of intervals of local wall
// clock time in a zone, as Scylla Manager's --window. A Window is
// immutable and safe for concurrent use.
type Window struct {
	loc  *time.Location
	segs []segment // sorted by start, disjoint, non-adjacent
}

// segment is [start, end) in seconds from Monday 00:00 local time; start
// is in [0, week), end in (start, start+week]: it may wrap past Sunday.
type segment struct{ start, end int }

// ParseWindow parses begin/end pairs "[Weekday-]HH:MM[:SS]" evaluated in
// loc (nil = UTC). An entry without a weekday makes its pair daily; a
// pair is weekday-qualified on both sides or on neither. An end before
// its begin wraps (to the next day, or the next week for weekday pairs).
// Weekdays are English names or 3-letter abbreviations, any case. Errors
// name the field "schedule.window".
func ParseWindow(entries []string, loc *time.Location) (*Window, error) {
	if loc == nil {
		loc = time.UTC
	}
	if len(entries)%2 != 0 {
		return nil, store.Invalid("schedule.window", wantWindow, strings.Join(entries, ","))
	}
	var segs []segment
	for i := 0; i < len(entries); i += 2 {
		bd, bs, err := parseWindowPoint(entries[i])
		if err != nil {
			return nil, err
		}
		ed, es, err := parseWindowPoint(entries[i+1])
		if err != nil {
			return nil, err
		}
		pair := entries[i] + "," + entries[i+1]
		if (bd < 0) != (ed < 0) {
			return nil, store.Invalid("schedule.window", `a begin/end pair with a weekday on both sides or on neither, e.g. ["Sat-22:00","Sun-06:00"]`, pair)
		}
		if bd < 0 { // daily
			if bs == es {
				return nil, store.Invalid("schedule.window", `a pair whose end differs from its begin, e.g. ["22:00","06:00"]`, pair)
			}
			length := (es - bs + 86400) % 86400
			for d := range 7 {
				segs = append(segs, segment{d*86400 + bs, d*86400 + bs + length})
			}
			continue
		}
		b, e := bd*86400+bs, ed*86400+es
		if b == e {
			return nil, store.Invalid("schedule.window", `a pair whose end differs from its begin, e.g. ["Mon-00:00","Fri-23:59"]`, pair)
		}
		segs = append(segs, segment{b, b + (e-b+week)%week})
	}
	return &Window{loc: loc, segs: mergeSegments(segs)}, nil
}

// parseWindowPoint parses "[Weekday-]HH:MM[:SS]" into a day (0 = Monday,
// -1 = none) and seconds since midnight.
func parseWindowPoint(s string) (day, sec int, err error) {
	bad := func() (int, int, error) {
		return 0, 0, store.Invalid("schedule.window", wantWindow, s)
	}
	day = -1
	clock := strings.TrimSpace(s)
	if name, rest, ok := strings.Cut(clock, "-"); ok {
		day = weekdayIndex(name)
		if day < 0 {
			return bad()
		}
		clock = rest
	}
	parts := strings.Split(clock, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return bad()
	}
	limits := []int{24, 60, 60}
	for i, p := range parts {
		if len(p) < 1 || len(p) > 2 {
			return bad()
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n >= limits[i] || p[0] == '+' || p[0] == '-' {
			return bad()
		}
		sec = sec*60 + n
	}
	if len(parts) == 2 {
		sec *= 60
	}
	return day, sec, nil
}

// weekdayIndex maps a weekday name to 0 (Monday)…6 (Sunday), or -1.
func weekdayIndex(name string) int {
	n := strings.ToLower(strings.TrimSpace(name))
	for i, d := range []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"} {
		if n == d || n == d[:3] {
			return i
		}
	}
	return -1
}

// mergeSegments sorts, merges overlapping or adjacent segments, and merges
// across the week boundary. A full cover returns a single [0, week).
func mergeSegments(in []segment) []segment {
	slices.SortFunc(in, func(a, b segment) int { return a.start - b.start })
	var out []segment
	for _, s := range in {
		if n := len(out); n > 0 && s.start <= out[n-1].end {
			out[n-1].end = max(out[n-1].end, s.end)
			continue
		}
		out = append(out, s)
	}
	// The last segment may wrap over the first ones.
	for len(out) > 1 && out[len(out)-1].end >= out[0].start+week {
		last := &out[len(out)-1]
		last.end = max(last.end, out[0].end+week)
		out = out[1:]
	}
	if len(out) == 1 && out[0].end-out[0].start >= week {
		return []segment{{0, week}}
	}
	return out
}

// Always reports whether the window covers all time.
func (w *Window) Always() bool {
	return w == nil || len(w.segs) == 1 && w.segs[0].end-w.segs[0].start >= week
}

// String renders the window as merged "Weekday-HH:MM:SS" pairs.
func (w *Window) String() string {
	if w.Always() {
		return "always"
	}
	days := []string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
	f := func(o int) string {
		o %= week
		return fmt.Sprintf("%s-%02d:%02d:%02d", days[o/86400], o%86400/3600, o%3600/60, o%60)
	}
	var parts []string
	for _, s := range w.segs {
		parts = append(parts, f(s.start)+".."+f(s.end))
	}
	return strings.Join(parts, ", ")
}

// weekStart returns Monday 00:00 local of t's week as a date triple.
func (w *Window) weekStart(t time.Time) (y int, m time.Month, d int) {
	l := t.In(w.loc)
	wd := (int(l.Weekday()) + 6) % 7 // Monday = 0
	y, m, d = l.Date()
	return y, m, d - wd
}

// at converts a week offset (seconds from Monday 00:00 of the week starting
// at y-m-d, plus k weeks) to an absolute time. Wall clock times that do not
// exist (DST gap) are normalized by time.Date.
func (w *Window) at(y int, m time.Month, d, k, off int) time.Time {
	days := off / 86400
	rem := off % 86400
	return time.Date(y, m, d+7*k+days, rem/3600, rem%3600/60, rem%60, 0, w.loc)
}

// Bounds reports whether t is inside the window and, if so, when the
// window ends (the zero time when Always). If t is outside, next is the
// next window start after t.
func (w *Window) Bounds(t time.Time) (in bool, end, next time.Time) {
	if w.Always() {
		return true, time.Time{}, time.Time{}
	}
	y, m, d := w.weekStart(t)
	for k := -1; k <= 1; k++ {
		for _, s := range w.segs {
			b, e := w.at(y, m, d, k, s.start), w.at(y, m, d, k, s.end)
			if !t.Before(b) && t.Before(e) {
				return true, e.UTC(), time.Time{}
			}
			if b.After(t) && (next.IsZero() || b.Before(next)) {
				next = b
			}
		}
	}
	if next.IsZero() {
		next = w.at(y, m, d, 2, w.segs[0].start)
	}
	return false, time.Time{}, next.UTC()
}

// Contains reports whether t is inside the window.
func (w *Window) Contains(t time.Time) bool {
	in, _, _ := w.Bounds(t)
	return in
}

// NextStart returns t if t is inside the window, else the next window
// start after t.
func (w *Window) NextStart(t time.Time) time.Time {
	in, _, next := w.Bounds(t)
	if in {
		return t
	}
	return next
}

// End returns the end of the window segment containing t, or the zero
// time if t is outside the window or the window is always open.
func (w *Window) End(t time.Time) time.Time {
	_, end, _ := w.Bounds(t)
	return end
}
