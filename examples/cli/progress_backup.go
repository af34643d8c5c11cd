package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/scyllaops/scyllaops/restapi"
)

func backupView() progressView {
	return progressView{
		text:     backupProgressText,
		fraction: barFraction(func(p restapi.BackupProgress) (int64, int64) { return p.Uploaded + p.Skipped, p.Size }),
	}
}

func backupProgressText(raw json.RawMessage, o progressOpts) (string, error) {
	p, err := decodeProgress[restapi.BackupProgress](raw, "backup")
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Progress:\t%s\n", percent(p.Uploaded+p.Skipped, p.Size))
	if p.SnapshotTag != "" {
		fmt.Fprintf(&b, "Snapshot Tag:\t%s\n", p.SnapshotTag)
	}
	writeList(&b, "Datacenters:", p.DCs)
	if p.Stage != "" {
		fmt.Fprintf(&b, "Stage:\t\t%s\n", p.Stage)
	}
	writeWarnings(&b, p.Warnings)
	if len(p.Hosts) == 0 {
		return b.String(), nil
	}
	b.WriteString("\n")
	slices.SortFunc(p.Hosts, func(x, y restapi.HostProgress) int { return compareHosts(x.Host, y.Host) })
	t := newTable("Host", "Progress", "Size", "Success", "Deduplicated", "Failed")
	for _, h := range p.Hosts {
		if len(o.hosts) > 0 && !slices.Contains(o.hosts, h.Host) {
			continue
		}
		t.add(h.Host, percent(h.Uploaded+h.Skipped, h.Size), sizeString(h.Size), sizeString(h.Uploaded), sizeString(h.Skipped), sizeString(h.Failed))
	}
	b.WriteString(t.String())
	if o.details {
		for _, h := range p.Hosts {
			if len(h.Keyspaces) == 0 || len(o.hosts) > 0 && !slices.Contains(o.hosts, h.Host) {
				continue
			}
			fmt.Fprintf(&b, "\nHost: %s\n", h.Host)
			d := newTable("Keyspace", "Table", "Progress", "Size", "Success", "Deduplicated", "Failed", "Started at", "Completed at")
			for i, k := range h.Keyspaces {
				if i > 0 {
					d.separator()
				}
				for _, tb := range k.Tables {
					d.add(k.Keyspace, tb.Table, percent(tb.Uploaded+tb.Skipped, tb.Size), sizeString(tb.Size), sizeString(tb.Uploaded),
						sizeString(tb.Skipped), sizeString(tb.Failed), timeString(tb.StartedAt), timeString(tb.CompletedAt))
				}
			}
			b.WriteString(d.String())
		}
	}
	return b.String(), nil
}

// writeWarnings lists warnings under a "Warnings:" heading.
func writeWarnings(b *strings.Builder, warnings []string) { writeList(b, "Warnings:", warnings) }

// writeList lists items under heading; nothing when there are none.
func writeList(b *strings.Builder, heading string, items []string) {
	if len(items) == 0 {
		return
	}
	b.WriteString(heading + "\n")
	for _, it := range items {
		fmt.Fprintf(b, "  - %s\n", it)
	}
}
