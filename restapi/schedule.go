package restapi

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/scyllaops/scyllaops/store"
)

// cronDoc is the JSON document Scylla Manager puts in Schedule.cron.
type cronDoc struct {
	Spec      string    `json:"spec"`
	StartDate time.Time `json:"start_date"`
}

// fromSchedule converts the JSON form to the stored form. A nil schedule
// is the zero schedule (one-shot, started by hand or at once).
func fromSchedule(s *Schedule) (store.Schedule, error) {
	var out store.Schedule
	if s == nil {
		return out, nil
	}
	out.Window = s.Window
	out.Timezone = s.Timezone
	if s.StartDate != nil {
		out.StartDate = s.StartDate.UTC()
	}
	if c := strings.TrimSpace(s.Cron); c != "" {
		if strings.HasPrefix(c, "{") {
			var d cronDoc
			if err := json.Unmarshal([]byte(c), &d); err != nil {
				return out, store.Invalid("schedule.cron", `a cron spec such as "0 23 * * SAT", or {"spec":"...","start_date":"RFC3339"}`, s.Cron)
			}
			out.Cron = d.Spec
			if out.StartDate.IsZero() && !d.StartDate.IsZero() && d.StartDate.Year() > 1 {
				out.StartDate = d.StartDate.UTC()
			}
		} else {
			out.Cron = c
		}
	}
	if s.Interval != "" {
		d, err := parseDuration(s.Interval)
		if err != nil || d < 0 {
			return out, store.Invalid("schedule.interval", "a duration such as 24h or 7d (deprecated: use cron)", s.Interval)
		}
		out.Interval = d
	}
	if s.NumRetries < 0 {
		return out, store.Invalid("schedule.num_retries", "a count >= 0", strconv.FormatInt(s.NumRetries, 10))
	}
	out.NumRetries = int(s.NumRetries)
	if s.RetryWait != "" {
		d, err := parseDuration(s.RetryWait)
		if err != nil || d < 0 {
			return out, store.Invalid("schedule.retry_wait", "a duration such as 10m", s.RetryWait)
		}
		out.RetryWait = d
	}
	return out, nil
}

// toSchedule converts the stored form to the JSON form, cron as Scylla
// Manager writes it.
func toSchedule(s store.Schedule) Schedule {
	out := Schedule{Window: s.Window, Timezone: s.Timezone, NumRetries: int64(s.NumRetries)}
	if s.Cron != "" {
		b, _ := json.Marshal(cronDoc{Spec: s.Cron, StartDate: s.StartDate})
		out.Cron = string(b)
	}
	if !s.StartDate.IsZero() {
		t := s.StartDate.UTC()
		out.StartDate = &t
	}
	if s.Interval > 0 {
		out.Interval = formatDuration(s.Interval)
	}
	if s.RetryWait > 0 {
		out.RetryWait = formatDuration(s.RetryWait)
	}
	return out
}

// CronSpec returns the plain cron spec of an output Schedule.cron (the
// JSON document) or the string itself when it is already plain.
func CronSpec(cron string) string {
	if strings.HasPrefix(strings.TrimSpace(cron), "{") {
		var d cronDoc
		if json.Unmarshal([]byte(cron), &d) == nil {
			return d.Spec
		}
	}
	return cron
}

var durPart = regexp.MustCompile(`^(\d+)d`)

// parseDuration accepts Go durations plus a leading day count ("7d",
// "1d12h"), as Scylla Manager does.
func parseDuration(s string) (time.Duration, error) {
	var days time.Duration
	if m := durPart.FindStringSubmatch(s); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil {
			return 0, fmt.Errorf("duration %q: %w", s, err)
		}
		days = time.Duration(n) * 24 * time.Hour
		s = s[len(m[0]):]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q: %w", s, err)
	}
	return days + d, nil
}

// formatDuration prints d compactly: 10m, 1h30m, 7d, 2d13h30m55s.
func formatDuration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	var b strings.Builder
	if days := d / (24 * time.Hour); days > 0 {
		fmt.Fprintf(&b, "%dd", days)
		d -= days * 24 * time.Hour
	}
	if h := d / time.Hour; h > 0 {
		fmt.Fprintf(&b, "%dh", h)
		d -= h * time.Hour
	}
	if m := d / time.Minute; m > 0 {
		fmt.Fprintf(&b, "%dm", m)
		d -= m * time.Minute
	}
	if d > 0 {
		if d%time.Second == 0 {
			fmt.Fprintf(&b, "%ds", d/time.Second)
		} else {
			b.WriteString(d.Round(time.Millisecond).String())
		}
	}
	return b.String()
}

// FormatDuration prints d as sctool does: 2d13h30m55s.
func FormatDuration(d time.Duration) string { return formatDuration(d) }

// UnmarshalJSON decodes a Schedule, naming schedule.start_date when it is
// not an RFC3339 time.
func (s *Schedule) UnmarshalJSON(b []byte) error {
	type plain Schedule
	var aux struct {
		plain
		StartDate *string `json:"start_date,omitempty"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*s = Schedule(aux.plain)
	s.StartDate = nil
	if aux.StartDate != nil && *aux.StartDate != "" {
		t, err := time.Parse(time.RFC3339Nano, *aux.StartDate)
		if err != nil {
			return store.Invalid("schedule.start_date", "an RFC3339 time, e.g. 2024-01-02T15:04:05Z", *aux.StartDate)
		}
		s.StartDate = &t
	}
	return nil
}
