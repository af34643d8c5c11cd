package main

import (
	"fmt"
	"slices"
	"time"

	"github.com/scyllaops/scyllaops/bench/internal/kit"
)

// Goals of the restore issue.
const (
	goalS3VsRclone    = 1.5
	goalLocalVsCp     = 0.8
	goalPeakRSS       = 100 * kit.MiB
	goalCPUPerGiB     = 1.5
	goalCPUPerGiBNote = "agent, both ways"
)

// summary prints medians, ratios and the goals.
func (b *bench) summary(targets []kit.Target, results map[string][]sample, e2e []e2eResult) {
	fmt.Printf("\nload: %s (shared machine: other processes ran too)\n", kit.Uptime())
	fmt.Printf("data set: %d files, %.1f MiB (scale %g); %d runs; %d nodes download their shares at once; each transfer + sync(2) into emptied directories; %s\n",
		len(b.ds.Files), float64(b.ds.Bytes)/kit.MiB, b.c.scale, b.c.runs, b.c.nodes,
		map[bool]string{true: "local downloads read the backup cold (evicted from the page cache first)", false: "page cache not dropped"}[b.c.cold])
	if slices.Contains(b.c.tools, "rclone") {
		fmt.Printf("%s, defaults (--transfers 4 --checkers 8), one process per node with --files-from\n", kit.RcloneVersion(b.c.rclone))
	}
	tr := "agent defaults (2 transfers)"
	if b.c.transfers > 0 {
		tr = fmt.Sprintf("%d transfers per job (-transfers)", b.c.transfers)
	}
	fmt.Printf("agent: sync/copypaths per table into <table>/upload, %s; backup = the agent's sync/copydir of the whole data set (one agent)\n", tr)
	fmt.Printf("integrity: %s\n", map[string]string{
		"all":   "every download verified: every file on its node with the source's size and SHA-256",
		"agent": "agent downloads verified: every file on its node with the source's size and SHA-256",
		"none":  "not verified (-verify none)",
	}[b.c.verify])
	fmt.Printf("\n%-6s %-7s %10s %10s %10s %12s\n", "from", "tool", "median s", "MiB/s", "cpu s", "cpu s/GiB")
	med := map[string]time.Duration{}
	var rss int64
	worstCPU := 0.0
	for _, t := range targets {
		for _, tool := range append([]string{"backup"}, b.c.tools...) {
			ss := results[t.Name()+"/"+tool]
			if len(ss) == 0 {
				continue
			}
			m := kit.Median(kit.Pick(ss, func(s sample) time.Duration { return s.d }))
			med[t.Name()+"/"+tool] = m
			cpu := kit.Median(kit.Pick(ss, func(s sample) time.Duration { return s.cpu }))
			name := tool
			if tool == "backup" {
				name = "backup"
			}
			line := fmt.Sprintf("%-6s %-7s %10.2f %10.1f %10.1f %12.2f", t.Name(), name, m.Seconds(), b.mibps(m), cpu.Seconds(), b.cpuPerGiB(cpu))
			if srv := kit.Median(kit.Pick(ss, func(s sample) time.Duration { return s.srv })); srv > 0 {
				line += fmt.Sprintf("   S3 server %.1f s (%.2f s/GiB)", srv.Seconds(), b.cpuPerGiB(srv))
			}
			fmt.Println(line)
			if tool == "agent" || tool == "backup" {
				worstCPU = max(worstCPU, b.cpuPerGiB(cpu))
			}
			for _, s := range ss {
				rss = max(rss, s.rss)
			}
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
		fmt.Printf("s3:    download agent/rclone = %.2fx  (goal >= %.1fx: %s)\n", r, goalS3VsRclone, kit.Verdict(r >= goalS3VsRclone))
	}
	if r, ok := ratio("local/agent", "local/rclone"); ok {
		fmt.Printf("local: download agent/rclone = %.2fx\n", r)
	}
	if r, ok := ratio("local/agent", "local/cp"); ok {
		fmt.Printf("local: download agent/cp     = %.2fx  (goal >= %.1fx: %s)\n", r, goalLocalVsCp, kit.Verdict(r >= goalLocalVsCp))
	}
	for _, t := range targets {
		if r, ok := ratio(t.Name()+"/agent", t.Name()+"/backup"); ok {
			fmt.Printf("%-6s download/backup throughput (agent) = %.2fx\n", t.Name()+":", r)
		}
	}
	if rss > 0 {
		fmt.Printf("agent peak RSS (VmHWM, max over nodes and runs) = %.1f MiB  (goal <= %d MiB: %s)\n", float64(rss)/kit.MiB, goalPeakRSS/kit.MiB, kit.Verdict(rss <= goalPeakRSS))
	}
	if worstCPU > 0 {
		fmt.Printf("agent CPU per GiB, worst median (%s) = %.2f s  (goal <= %.1f s: %s)\n", goalCPUPerGiBNote, worstCPU, goalCPUPerGiB, kit.Verdict(worstCPU <= goalCPUPerGiB))
	}
	if len(e2e) > 0 {
		fmt.Printf("\nend to end (one run each; %d-node simulated clusters in this process, Manager backup then restore_tables with load&stream):\n", b.c.nodes)
		fmt.Printf("%-6s %10s %12s %12s %12s %12s %14s\n", "to", "MiB", "backup s", "backup MiB/s", "restore s", "restore MiB/s", "restore/backup")
		for _, r := range e2e {
			mb := float64(r.bytes) / kit.MiB
			fmt.Printf("%-6s %10.1f %12.2f %12.1f %12.2f %12.1f %13.2fx\n", r.target, mb, r.backupD.Seconds(), mb/r.backupD.Seconds(),
				r.restoreD.Seconds(), mb/r.restoreD.Seconds(), r.backupD.Seconds()/r.restoreD.Seconds())
		}
		fmt.Println("(process CPU includes the simulated nodes, their agents and both Managers)")
		for _, r := range e2e {
			gib := float64(r.bytes) / (1 << 30)
			fmt.Printf("%-6s process CPU per GiB: backup %.2f s, restore %.2f s\n", r.target+":", r.cpuBackup.Seconds()/gib, r.cpuRestore.Seconds()/gib)
		}
	}
}
