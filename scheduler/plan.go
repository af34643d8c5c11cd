package scheduler

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/scyllaops/scyllaops/store"
)

// Defaults and limits of a schedule's retry settings (reference §8).
const (
	// DefaultRetryWait is the first retry's wait when NumRetries > 0 and
	// RetryWait is 0.
	DefaultRetryWait = 10 * time.Minute
	// MaxRetryWait caps the exponential backoff between retries.
	MaxRetryWait = 3 * time.Hour
	// MaxNumRetries bounds Schedule.NumRetries.
	MaxNumRetries = 1000
)

// Accepted forms, quoted in validation errors.
const (
	wantCron     = `a cron spec like "0 23 * * SAT", "*/15 * * * * *" (with seconds), "@daily" or "@every 15m"`
	wantTimezone = `an IANA time zone name like "Europe/Warsaw" or "UTC"`
	wantInterval = `a duration >= 0 like "24h" (0 = one-shot)`
	wantRetries  = "a number of retries between 0 and 1000, e.g. 3"
	wantWait     = `a duration >= 0 like "10m" (0 = default 10m)`
)

// cronOptions accepts 5 fields, 6 fields (leading seconds) and descriptors.
const cronOptions = cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor

// Plan is a parsed, validated store.Schedule: it answers when a task is
// activated, whether a time is inside its maintenance window, and how long
// to wait before a retry. A Plan is immutable and safe for concurrent use.
type Plan struct {
	cron       cron.Schedule // nil: interval trigger
	loc        *time.Location
	start      time.Time
	interval   time.Duration
	window     *Window // nil: always open
	numRetries int
	retryWait  time.Duration
}

// ParseCron parses a cron spec (5 fields, 6 fields with leading seconds,
// or a descriptor such as "@daily" or "@every 15m") evaluated in loc
// (nil = UTC). Errors name the field "schedule.cron".
func ParseCron(spec string, loc *time.Location) (cron.Schedule, error) {
	if loc == nil {
		loc = time.UTC
	}
	s := strings.TrimSpace(spec)
	if s == "" {
		return nil, store.Invalid("schedule.cron", wantCron, spec)
	}
	// robfig/cron reads "TZ=" prefixes itself (and panics on some of
	// them); the zone is schedule.timezone's job.
	if strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ=") {
		return nil, store.Invalid("schedule.cron", wantCron+" without a TZ= prefix (set schedule.timezone)", spec)
	}
	if rest, ok := strings.CutPrefix(s, "@every"); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		if err != nil || d < time.Second {
			return nil, store.Invalid("schedule.cron", `"@every <duration>" with a duration >= 1s, e.g. "@every 15m"`, spec)
		}
	}
	sched, err := cron.NewParser(cronOptions).Parse(s)
	if err != nil {
		return nil, &store.InvalidError{Field: "schedule.cron", Want: wantCron + " (" + err.Error() + ")", Got: spec}
	}
	if ss, ok := sched.(*cron.SpecSchedule); ok {
		ss.Location = loc
		// A spec that never matches (e.g. "0 0 30 2 *") makes Next
		// return the zero time. Feb 29 matches within 5 years, which is
		// robfig's search horizon.
		if ss.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, loc)).IsZero() {
			return nil, store.Invalid("schedule.cron", wantCron+" that matches some date", spec)
		}
	}
	return sched, nil
}

// ParseSchedule validates s and returns its Plan. Every problem is an
// *store.InvalidError naming the field ("schedule.cron",
// "schedule.window", "schedule.timezone", "schedule.interval",
// "schedule.num_retries", "schedule.retry_wait") with an example of the
// accepted form.
func ParseSchedule(s store.Schedule) (*Plan, error) {
	p := &Plan{loc: time.UTC, start: s.StartDate, interval: s.Interval, numRetries: s.NumRetries, retryWait: s.RetryWait}
	if s.Timezone != "" {
		// LoadLocation also accepts "Local" and file paths; only IANA
		// names are portable between managers.
		if s.Timezone == "Local" {
			return nil, store.Invalid("schedule.timezone", wantTimezone, s.Timezone)
		}
		loc, err := time.LoadLocation(s.Timezone)
		if err != nil {
			return nil, store.Invalid("schedule.timezone", wantTimezone, s.Timezone)
		}
		p.loc = loc
	}
	if s.Cron != "" {
		c, err := ParseCron(s.Cron, p.loc)
		if err != nil {
			return nil, err
		}
		p.cron = c
	}
	if s.Interval < 0 {
		return nil, store.Invalid("schedule.interval", wantInterval, s.Interval.String())
	}
	if s.Interval > 0 && s.Interval < time.Second {
		return nil, store.Invalid("schedule.interval", `a duration of at least 1s like "24h" (0 = one-shot)`, s.Interval.String())
	}
	if s.NumRetries < 0 || s.NumRetries > MaxNumRetries {
		return nil, store.Invalid("schedule.num_retries", wantRetries, fmt.Sprint(s.NumRetries))
	}
	if s.RetryWait < 0 {
		return nil, store.Invalid("schedule.retry_wait", wantWait, s.RetryWait.String())
	}
	if p.retryWait == 0 {
		p.retryWait = DefaultRetryWait
	}
	if len(s.Window) > 0 {
		w, err := ParseWindow(s.Window, p.loc)
		if err != nil {
			return nil, err
		}
		p.window = w
	}
	return p, nil
}

// Location is the zone the cron spec and window are evaluated in.
func (p *Plan) Location() *time.Location { return p.loc }

// Window is the maintenance window, or nil when runs may happen at any
// time.
func (p *Plan) Window() *Window { return p.window }

// NumRetries is how many times a failed run is retried.
func (p *Plan) NumRetries() int { return p.numRetries }

// Recurring reports whether the plan has more than one activation.
func (p *Plan) Recurring() bool { return p.cron != nil || p.interval > 0 }

// Next returns the first activation strictly after after, or the zero
// time if there is none (a one-shot plan already past its start date).
// Activations never precede the start date: with a cron spec the first
// one is the first match at or after it; with an interval they are
// start + k×interval; a plan with neither fires once, at the start date.
//
// Next is computed from the previous activation, not from the end of a
// run, so a run longer than the period does not shift the schedule.
func (p *Plan) Next(after time.Time) time.Time {
	if p.cron != nil {
		if !p.start.IsZero() && after.Before(p.start) {
			// First match at or after start (cron.Next is strict).
			after = p.start.Add(-time.Nanosecond)
		}
		a := after.In(p.loc)
		t := p.cron.Next(a)
		// On a fall-back day a wall clock time happens twice; cron
		// fires once, at the first.
		if !t.IsZero() && t.Sub(a) <= 2*time.Hour && sameWall(t, a) {
			t = p.cron.Next(t)
		}
		if t.IsZero() {
			return t
		}
		return t.UTC()
	}
	if after.Before(p.start) {
		return p.start.UTC()
	}
	if p.interval <= 0 {
		return time.Time{}
	}
	k := after.Sub(p.start)/p.interval + 1
	return p.start.Add(k * p.interval).UTC()
}

// sameWall reports whether a and b (in one zone) show the same wall clock
// time to the second.
func sameWall(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd && a.Hour() == b.Hour() && a.Minute() == b.Minute() && a.Second() == b.Second()
}

// Backoff is the wait before retry number attempt+1 after try number
// attempt (0 = the first try) failed: retry_wait × 2^attempt, capped at 3h,
// without jitter.
func (p *Plan) Backoff(attempt int) time.Duration {
	return Backoff(p.retryWait, attempt)
}

// Backoff returns wait × 2^attempt capped at MaxRetryWait (wait <= 0
// means DefaultRetryWait).
func Backoff(wait time.Duration, attempt int) time.Duration {
	if wait <= 0 {
		wait = DefaultRetryWait
	}
	if wait >= MaxRetryWait {
		return MaxRetryWait
	}
	d := wait
	for range max(attempt, 0) {
		d *= 2
		if d >= MaxRetryWait {
			return MaxRetryWait
		}
	}
	return d
}

// ParseDuration parses a duration as Go's time.ParseDuration does, plus
// the units "d" (24h) and "w" (7d) that sctool accepts, e.g. "7d", "1d12h".
// Errors name field and give an example.
func ParseDuration(field, s string) (time.Duration, error) {
	bad := func() (time.Duration, error) {
		return 0, store.Invalid(field, `a duration like "90s", "10m", "1h30m" or "7d"`, s)
	}
	in := strings.TrimSpace(s)
	if in == "" {
		return bad()
	}
	if in == "0" {
		return 0, nil
	}
	neg := false
	if in[0] == '-' || in[0] == '+' {
		neg = in[0] == '-'
		in = in[1:]
	}
	var total time.Duration
	for in != "" {
		// Split off one "<number><unit>" term.
		i := 0
		for i < len(in) && (in[i] >= '0' && in[i] <= '9' || in[i] == '.') {
			i++
		}
		j := i
		for j < len(in) && (in[j] < '0' || in[j] > '9') && in[j] != '.' {
			j++
		}
		if i == 0 || j == i {
			return bad()
		}
		num, unit := in[:i], in[i:j]
		in = in[j:]
		var mult time.Duration
		switch unit {
		case "d":
			mult = 24 * time.Hour
		case "w":
			mult = 7 * 24 * time.Hour
		}
		if mult == 0 {
			d, err := time.ParseDuration(num + unit)
			if err != nil {
				return bad()
			}
			if total > 1<<62 || d > 1<<62 {
				return bad()
			}
			total += d
			continue
		}
		if strings.Contains(num, ".") {
			return bad()
		}
		var n int64
		for _, c := range num {
			n = n*10 + int64(c-'0')
			if n > int64(1<<62)/int64(mult) {
				return bad()
			}
		}
		total += time.Duration(n) * mult
		if total < 0 || total > 1<<62 {
			return bad()
		}
	}
	if neg {
		total = -total
	}
	return total, nil
}
