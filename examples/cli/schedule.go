package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/scyllaops/scyllaops/restapi"
)

// scheduleFlags are the flags every task-creating command shares.
type scheduleFlags struct {
	cron, timezone, startDate, retryWait, name, interval string
	window, labels                                       []string
	numRetries                                           int64
	enabled                                              bool
}

func (f *scheduleFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.cron, "cron", "", "Task schedule as a cron `expression`, e.g. \"0 23 * * SAT\" or @daily")
	fl.StringSliceVar(&f.window, "window", nil, "Time windows when the task may run, e.g. Sat-22:00,Sun-06:00")
	fl.StringVar(&f.timezone, "timezone", "", "Timezone of --cron and --window (default: the local zone)")
	fl.StringVarP(&f.startDate, "start-date", "s", "", "When to start: now, now+duration (now+1h) or RFC3339 (default now)")
	fl.Int64VarP(&f.numRetries, "num-retries", "r", 3, "Number of times a failed run is retried")
	fl.StringVar(&f.retryWait, "retry-wait", "10m", "Initial wait before a retry (doubles each time)")
	fl.BoolVar(&f.enabled, "enabled", true, "Enable or disable the task")
	fl.StringVar(&f.name, "name", "", "Task name, usable instead of its ID")
	fl.StringSliceVar(&f.labels, "label", nil, "Labels as key=value, or key- to remove a label")
	fl.StringVar(&f.interval, "interval", "", "Deprecated: use --cron")
	_ = fl.MarkDeprecated("interval", "use --cron")
}

// apply writes the flags the user gave (all, on create) into t.
func (f *scheduleFlags) apply(cmd *cobra.Command, t *restapi.TaskUpdate, create bool, now time.Time) error {
	ch := func(n string) bool { return create || cmd.Flags().Changed(n) }
	if t.Schedule == nil {
		t.Schedule = &restapi.Schedule{}
	}
	s := t.Schedule
	if ch("cron") {
		s.Cron = f.cron
	} else {
		s.Cron = restapi.CronSpec(s.Cron)
	}
	if ch("window") {
		s.Window = f.window
	}
	if ch("timezone") {
		s.Timezone = f.timezone
		if s.Timezone == "" && create {
			s.Timezone = localZone()
		}
	}
	if ch("start-date") {
		if f.startDate == "" && create && f.cron != "" {
			s.StartDate = nil
		} else {
			sd, err := parseStartDate(f.startDate, now)
			if err != nil {
				return err
			}
			s.StartDate = &sd
		}
	}
	if ch("num-retries") {
		s.NumRetries = f.numRetries
	}
	if ch("retry-wait") {
		s.RetryWait = f.retryWait
	}
	if ch("interval") {
		s.Interval = f.interval
	}
	if ch("enabled") {
		t.Enabled = f.enabled
	}
	if ch("name") {
		t.Name = f.name
	}
	var err error
	t.Labels, err = applyLabels(t.Labels, f.labels)
	return err
}

func localZone() string {
	if z := time.Local.String(); z != "" && z != "Local" {
		return z
	}
	return "Etc/UTC"
}

// parseStartDate accepts now, now+<duration> and RFC3339.
func parseStartDate(s string, now time.Time) (time.Time, error) {
	switch {
	case s == "" || s == "now":
		return now.UTC(), nil
	case strings.HasPrefix(s, "now+"):
		d, err := time.ParseDuration(strings.TrimPrefix(s, "now+"))
		if err != nil {
			return time.Time{}, fmt.Errorf("invalid --start-date %q: want now, now+<duration> (now+1h) or RFC3339", s)
		}
		return now.Add(d).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid --start-date %q: want now, now+<duration> (now+1h) or RFC3339", s)
	}
	return t.UTC(), nil
}

// propertiesText prints task properties as sorted "key: value" lines.
func propertiesText(raw json.RawMessage) string {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return string(raw) + "\n"
	}
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v, _ := json.Marshal(m[k])
		fmt.Fprintf(&b, "- %s: %s\n", k, v)
	}
	return b.String()
}

func secondsDur(s int64) time.Duration { return time.Duration(s) * time.Second }
