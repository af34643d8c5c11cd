package main

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scyllaops/scyllaops/restapi"
)

// table renders rows with sctool's rounded box drawing.
type table struct {
	header []string
	rows   [][]string
	// seps are row indexes before which a separator line is drawn.
	seps map[int]bool
}

func newTable(header ...string) *table { return &table{header: header, seps: map[int]bool{}} }

func (t *table) add(cells ...any) {
	row := make([]string, len(cells))
	for i, c := range cells {
		row[i] = fmt.Sprint(c)
	}
	t.rows = append(t.rows, row)
}

func (t *table) separator() { t.seps[len(t.rows)] = true }

func (t *table) String() string {
	n := len(t.header)
	w := make([]int, n)
	for i, h := range t.header {
		w[i] = utf8.RuneCountInString(h)
	}
	for _, r := range t.rows {
		for i := 0; i < n && i < len(r); i++ {
			w[i] = max(w[i], utf8.RuneCountInString(r[i]))
		}
	}
	var b strings.Builder
	line := func(l, m, r string) {
		b.WriteString(l)
		for i := range n {
			b.WriteString(strings.Repeat("─", w[i]+2))
			if i < n-1 {
				b.WriteString(m)
			}
		}
		b.WriteString(r + "\n")
	}
	row := func(cells []string) {
		b.WriteString("│")
		for i := range n {
			c := ""
			if i < len(cells) {
				c = cells[i]
			}
			b.WriteString(" " + c + strings.Repeat(" ", w[i]-utf8.RuneCountInString(c)) + " │")
		}
		b.WriteString("\n")
	}
	line("╭", "┬", "╮")
	row(t.header)
	line("├", "┼", "┤")
	for i, r := range t.rows {
		if i > 0 && t.seps[i] {
			line("├", "┼", "┤")
		}
		row(r)
	}
	line("╰", "┴", "╯")
	return b.String()
}

// sizeString prints bytes as sctool does: 1.234GiB, 512B.
func sizeString(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB"}
	f := float64(n) / unit
	i := 0
	for f >= unit && i < len(units)-1 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.3f%s", f, units[i])
}

// timeString prints a time as sctool does, in the local zone.
func timeString(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.Local().Format("02 Jan 06 15:04:05 MST")
}

// durationString prints the duration between two times (end nil: now).
func durationString(start, end *time.Time, now time.Time) string {
	if start == nil || start.IsZero() {
		return ""
	}
	e := now
	if end != nil && !end.IsZero() {
		e = *end
	}
	return restapi.FormatDuration(e.Sub(*start).Truncate(time.Second))
}

// relTime prints "in 58s" or "1s ago".
func relTime(t *time.Time, now time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	d := t.Sub(now).Truncate(time.Second)
	if d >= 0 {
		return "in " + restapi.FormatDuration(d)
	}
	return restapi.FormatDuration(-d) + " ago"
}

// percent prints done/total as an integer percentage.
func percent(done, total int64) string {
	if total <= 0 {
		return "100%"
	}
	return fmt.Sprintf("%d%%", done*100/total)
}

// compareHosts orders host addresses numerically (127.0.0.2 before
// 127.0.0.10; IPv4 before IPv6); names that are not addresses come
// after, by text.
func compareHosts(a, b string) int {
	pa, ea := netip.ParseAddr(a)
	pb, eb := netip.ParseAddr(b)
	switch {
	case ea == nil && eb == nil:
		return pa.Compare(pb)
	case ea == nil:
		return -1
	case eb == nil:
		return 1
	}
	return strings.Compare(a, b)
}
