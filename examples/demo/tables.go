package main

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/scyllaops/scyllaops/restapi"
)

type table struct {
	header []string
	rows   [][]string
}

func newTable(h ...string) *table { return &table{header: h} }

func (t *table) add(cells ...any) {
	r := make([]string, len(cells))
	for i, c := range cells {
		r[i] = fmt.Sprint(c)
	}
	t.rows = append(t.rows, r)
}

func (t *table) String() string {
	w := make([]int, len(t.header))
	for i, h := range t.header {
		w[i] = utf8.RuneCountInString(h)
	}
	for _, r := range t.rows {
		for i, c := range r {
			w[i] = max(w[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	line := func(l, m, r string) {
		b.WriteString(l)
		for i := range w {
			if i > 0 {
				b.WriteString(m)
			}
			b.WriteString(strings.Repeat("─", w[i]+2))
		}
		b.WriteString(r + "\n")
	}
	row := func(cells []string) {
		b.WriteString("│")
		for i := range w {
			b.WriteString(" " + cells[i] + strings.Repeat(" ", w[i]-utf8.RuneCountInString(cells[i])) + " │")
		}
		b.WriteString("\n")
	}
	line("╭", "┬", "╮")
	row(t.header)
	line("├", "┼", "┤")
	for _, r := range t.rows {
		row(r)
	}
	line("╰", "┴", "╯")
	return b.String()
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2fGiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2fMiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fKiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}

func bar(done, total int64, width int) string {
	return barOf(done, total, width, size)
}

// barOf is bar with the amounts formatted by format.
func barOf(done, total int64, width int, format func(int64) string) string {
	f := 0.0
	if total > 0 {
		f = min(max(float64(done)/float64(total), 0), 1)
	}
	n := int(f * float64(width))
	return fmt.Sprintf("[%s%s] %3.0f%% %s/%s", strings.Repeat("█", n), strings.Repeat("░", width-n), f*100, format(done), format(total))
}

func statusTable(ns []restapi.NodeStatus) string {
	sort.Slice(ns, func(i, j int) bool {
		if ns[i].DC != ns[j].DC {
			return ns[i].DC < ns[j].DC
		}
		return ns[i].Host < ns[j].Host
	})
	t := newTable("DC", "", "CQL", "REST", "Address", "Scylla", "Host ID")
	cell := func(s string, rtt float32) string {
		if s == "" {
			return "-"
		}
		return fmt.Sprintf("%s (%.0fms)", s, rtt)
	}
	for _, n := range ns {
		t.add(n.DC, n.Status, cell(n.CQLStatus, n.CQLRttMs), cell(n.RESTStatus, n.RESTRttMs), n.Host, n.ScyllaVersion, n.HostID)
	}
	return t.String()
}

func hostTable(p restapi.BackupProgress) string {
	t := newTable("Host", "Progress", "Size", "Uploaded", "Deduplicated", "Failed")
	for _, h := range p.Hosts {
		pct := "100%"
		if h.Size > 0 {
			pct = fmt.Sprintf("%d%%", (h.Uploaded+h.Skipped)*100/h.Size)
		}
		t.add(h.Host, pct, size(h.Size), size(h.Uploaded), size(h.Skipped), size(h.Failed))
	}
	return t.String()
}

func summaryTable(rs []backupResult) string {
	t := newTable("Backup", "Snapshot", "Size", "Files", "Uploaded", "Deduplicated", "Time", "MiB/s (size)", "MiB/s (uploaded)")
	for _, r := range rs {
		var rate, up float64
		if s := r.took.Seconds(); s > 0 {
			rate = float64(r.size) / (1 << 20) / s
			up = float64(r.uploaded) / (1 << 20) / s
		}
		t.add(r.name, r.tag, size(r.size), r.files, size(r.uploaded), size(r.skipped), r.took.Round(1e6), fmt.Sprintf("%.1f", rate), fmt.Sprintf("%.1f", up))
	}
	return t.String()
}
