package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/scyllaops/scyllaops/repair"
	"github.com/scyllaops/scyllaops/restapi"
)

func repairView() progressView {
	return progressView{
		text:     repairProgressText,
		fraction: barFraction(func(p repair.RunProgress) (int64, int64) { return p.Success, p.TokenRanges }),
		unit:     rangesString,
	}
}

// rangesString prints a token range count for the bar.
func rangesString(n int64) string { return strconv.FormatInt(n, 10) }

// repairPercent prints the success percentage, and the error one when
// ranges failed, as sctool does: "40% / 10%".
func repairPercent(success, failed, total int64) string {
	s := percent(success, total)
	if failed > 0 {
		s += " / " + percent(failed, total)
	}
	return s
}

func repairProgressText(raw json.RawMessage, o progressOpts) (string, error) {
	p, err := decodeProgress[repair.RunProgress](raw, "repair")
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Progress:\t%s", progressBar(p.Success, p.TokenRanges, 40, rangesString))
	if p.Error > 0 {
		fmt.Fprintf(&b, " (%s failed)", percent(p.Error, p.TokenRanges))
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "Intensity:\t%s\n", strconv.FormatFloat(p.Intensity, 'f', -1, 64))
	fmt.Fprintf(&b, "Parallel:\t%d\n", p.Parallel)
	if p.Host != "" {
		fmt.Fprintf(&b, "Host:\t\t%s\n", p.Host)
	}
	writeList(&b, "Datacenters:", p.DCs)
	if len(p.Waiting) > 0 {
		fmt.Fprintf(&b, "Waiting:\n")
		for _, w := range p.Waiting {
			fmt.Fprintf(&b, "  - %s\n", w)
		}
	}
	if len(p.Tables) > 0 {
		b.WriteString("\n")
		b.WriteString(repairTablesTable(p.Tables).String())
	}
	if o.details || len(o.hosts) > 0 {
		slices.SortFunc(p.Hosts, func(x, y repair.HostProgress) int { return compareHosts(x.Host, y.Host) })
		for _, h := range p.Hosts {
			if len(h.Tables) == 0 || len(o.hosts) > 0 && !slices.Contains(o.hosts, h.Host) {
				continue
			}
			fmt.Fprintf(&b, "\nHost: %s\n", h.Host)
			b.WriteString(repairTablesTable(h.Tables).String())
		}
	}
	return b.String(), nil
}

// repairTablesTable is the Keyspace | Table | Progress | Duration table,
// with a separator between keyspaces.
func repairTablesTable(ts []repair.TableProgress) *table {
	t := newTable("Keyspace", "Table", "Progress", "Duration")
	for i, tb := range ts {
		if i > 0 && tb.Keyspace != ts[i-1].Keyspace {
			t.separator()
		}
		d := ""
		if tb.StartedAt != nil {
			d = restapi.FormatDuration((time.Duration(tb.DurationMs) * time.Millisecond).Truncate(time.Second))
		}
		t.add(tb.Keyspace, tb.Table, repairPercent(tb.Success, tb.Error, tb.TokenRanges), d)
	}
	return t
}
