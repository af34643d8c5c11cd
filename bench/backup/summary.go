package main

import (
	"github.com/scyllaops/scyllaops/bench/internal/kit"

	"fmt"
	"slices"
	"time"
)

// Goals of the backup issue.
const (
	goalS3VsRclone      = 1.5
	goalLocalVsRclone   = 2.0
	goalLocalVsCp       = 0.8
	goalPeakRSS         = 100 * kit.MiB
	goalSecondPctOfTime = 5.0
)

// summary prints medians, ratios and the goals.
func (b *bench) summary(targets []kit.Target, results map[string][]sample) {
	fmt.Printf("\nload: %s (shared machine)\n", kit.Uptime())
	fmt.Printf("data set: %d files, %.1f MiB (scale %g); %d runs; each upload + sync(2) into a cleaned destination; page cache not dropped\n",
		len(b.ds.Files), float64(b.ds.Bytes)/kit.MiB, b.c.scale, b.c.runs)
	if slices.Contains(b.c.tools, "rclone") {
		fmt.Printf("%s, defaults (--transfers 4 --checkers 8)\n", kit.RcloneVersion(b.c.rclone))
	}
	fmt.Printf("integrity: %s\n", map[string]string{
		"all":   "every upload verified: same file set, sizes and SHA-256 of every file as the source",
		"agent": "agent uploads verified: same file set, sizes and SHA-256 of every file as the source",
		"none":  "not verified (-verify none)",
	}[b.c.verify])
	fmt.Printf("\n%-6s %-7s %10s %10s %10s %12s %16s\n", "target", "tool", "median s", "MiB/s", "cpu s", "cpu s/GiB", "server cpu s")
	med := map[string]time.Duration{}
	for _, t := range targets {
		for _, tool := range b.c.tools {
			ss := results[t.Name()+"/"+tool]
			if len(ss) == 0 {
				continue
			}
			m := kit.Median(kit.Pick(ss, func(s sample) time.Duration { return s.d }))
			med[t.Name()+"/"+tool] = m
			srv := "-"
			if ms := kit.Median(kit.Pick(ss, func(s sample) time.Duration { return s.srvCPU })); ms > 0 {
				srv = fmt.Sprintf("%.1f", ms.Seconds())
			}
			cpu := kit.Median(kit.Pick(ss, func(s sample) time.Duration { return s.cpu })).Seconds()
			fmt.Printf("%-6s %-7s %10.2f %10.1f %10.1f %12.2f %16s\n", t.Name(), tool, m.Seconds(), b.mibps(m),
				cpu, cpu/(float64(b.ds.Bytes)/(1<<30)), srv)
		}
	}
	fmt.Println()
	ratio := func(a, c string) (float64, bool) {
		ma, oka := med[a]
		mc, okc := med[c]
		if !oka || !okc || ma == 0 {
			return 0, false
		}
		return mc.Seconds() / ma.Seconds(), true // throughput ratio a/c
	}
	if r, ok := ratio("s3/agent", "s3/rclone"); ok {
		fmt.Printf("s3:    agent/rclone = %.2fx  (goal >= %.1fx: %s)\n", r, goalS3VsRclone, kit.Verdict(r >= goalS3VsRclone))
	}
	if r, ok := ratio("local/agent", "local/rclone"); ok {
		fmt.Printf("local: agent/rclone = %.2fx  (goal >= %.1fx: %s)\n", r, goalLocalVsRclone, kit.Verdict(r >= goalLocalVsRclone))
	}
	if r, ok := ratio("local/agent", "local/cp"); ok {
		fmt.Printf("local: agent/cp     = %.2fx  (goal >= %.1fx: %s)\n", r, goalLocalVsCp, kit.Verdict(r >= goalLocalVsCp))
	}
	var rss int64
	var pcts []time.Duration // second/first in units of 0.01 %
	var up int64
	for _, t := range targets {
		for _, s := range results[t.Name()+"/agent"] {
			rss = max(rss, s.rss)
			pcts = append(pcts, time.Duration(10000*s.second.Seconds()/s.d.Seconds()))
			up += s.secondUp
		}
		if ss := results[t.Name()+"/agent"]; len(ss) > 0 {
			m2 := kit.Median(kit.Pick(ss, func(s sample) time.Duration { return s.second }))
			fmt.Printf("%-6s second backup of unchanged data: median %.3f s = %.1f%% of the first's median\n",
				t.Name()+":", m2.Seconds(), 100*m2.Seconds()/med[t.Name()+"/agent"].Seconds())
		}
	}
	if len(pcts) > 0 {
		worst := slices.Max(pcts)
		fmt.Printf("agent peak RSS (VmHWM, max over runs) = %.1f MiB  (goal <= %d MiB: %s)\n", float64(rss)/kit.MiB, goalPeakRSS/kit.MiB, kit.Verdict(rss <= goalPeakRSS))
		fmt.Printf("second backup: %d bytes uploaded in all, worst %.1f%% of the first's time  (goal 0 bytes in <= %.0f%%: %s)\n",
			up, float64(worst)/100, goalSecondPctOfTime, kit.Verdict(up == 0 && float64(worst)/100 <= goalSecondPctOfTime))
	}
}
