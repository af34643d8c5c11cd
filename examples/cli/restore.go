package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/scyllaops/scyllaops/restore"
)

type restoreFlags struct {
	sched                                    scheduleFlags
	location, keyspace, rateLimit, dcMapping []string
	snapshotTag, nodesMapping                string
	batchSize, parallel, transfers           int64
	restoreTables, restoreSchema             bool
	allowCompaction, unpinAgentCPU, dryRun   bool
	showTables                               bool
}

func (f *restoreFlags) register(cmd *cobra.Command) {
	f.sched.register(cmd)
	fl := cmd.Flags()
	fl.StringSliceVarP(&f.location, "location", "L", nil, "Backup locations [<dc>:]<provider>:<bucket> holding the snapshot")
	fl.StringVarP(&f.snapshotTag, "snapshot-tag", "T", "", "Snapshot to restore, e.g. sm_20210809095541UTC")
	fl.StringSliceVarP(&f.keyspace, "keyspace", "K", nil, "Keyspace/table glob patterns, e.g. ks1,ks2.t*,!ks3")
	fl.Int64Var(&f.batchSize, "batch-size", restore.DefaultBatchSize, "SSTables per shard in one batch (0: sized by the workload)")
	fl.Int64Var(&f.parallel, "parallel", 0, "Nodes restoring at once (0: all)")
	fl.Int64Var(&f.transfers, "transfers", 0, "Parallel file downloads per node (0: 2 x shards)")
	fl.StringSliceVar(&f.rateLimit, "rate-limit", nil, "Download rate limits [<dc>:]<MiB/s> (0: none)")
	fl.StringSliceVar(&f.dcMapping, "dc-mapping", nil, "Source to target DC mapping <src_dc>=<dst_dc>, e.g. dc1=dcA,dc2=dcA")
	fl.BoolVar(&f.restoreTables, "restore-tables", false, "Restore the tables' data (needs their schema in the cluster)")
	fl.BoolVar(&f.restoreSchema, "restore-schema", false, "Restore the schema from the snapshot's schema file")
	fl.BoolVar(&f.allowCompaction, "allow-compaction", false, "Keep auto-compaction on during the restore")
	fl.BoolVar(&f.unpinAgentCPU, "unpin-agent-cpu", false, "Accepted for compatibility")
	fl.StringVar(&f.nodesMapping, "nodes-mapping", "", "File with one <dc>:<rack>:<host_id>=<dc>:<rack>:<host_id> line per node: a 1-1 restore")
	fl.BoolVar(&f.dryRun, "dry-run", false, "Validate and print the restore target without creating the task")
	fl.BoolVar(&f.showTables, "show-tables", false, "Print table names with --dry-run")
}

// properties builds the task properties from the flags given.
func (f *restoreFlags) properties(cmd *cobra.Command) (map[string]any, error) {
	props := map[string]any{"location": f.location, "snapshot_tag": f.snapshotTag}
	set := changedSetter(cmd, props)
	set("keyspace", "keyspace", f.keyspace)
	set("batch-size", "batch_size", f.batchSize)
	set("parallel", "parallel", f.parallel)
	set("transfers", "transfers", f.transfers)
	set("rate-limit", "rate_limit", f.rateLimit)
	set("restore-tables", "restore_tables", f.restoreTables)
	set("restore-schema", "restore_schema", f.restoreSchema)
	set("allow-compaction", "allow_compaction", f.allowCompaction)
	set("unpin-agent-cpu", "unpin_agent_cpu", f.unpinAgentCPU)
	if len(f.dcMapping) > 0 {
		m := map[string]string{}
		for _, s := range f.dcMapping {
			src, dst, ok := strings.Cut(s, "=")
			if !ok || src == "" || dst == "" {
				return nil, fmt.Errorf("invalid --dc-mapping %q: want <src_dc>=<dst_dc>", s)
			}
			m[src] = dst
		}
		props["dc_mapping"] = m
	}
	if f.nodesMapping != "" {
		nm, err := readNodesMapping(f.nodesMapping)
		if err != nil {
			return nil, err
		}
		props["nodes_mapping"] = nm
	}
	return props, nil
}

// readNodesMapping reads sctool's nodes-mapping file.
func readNodesMapping(path string) ([]restore.NodeMapping, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--nodes-mapping: %w", err)
	}
	defer fh.Close()
	var out []restore.NodeMapping
	sc := bufio.NewScanner(fh)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		src, dst, ok := strings.Cut(line, "=")
		s, sok := parseNodeRef(src)
		d, dok := parseNodeRef(dst)
		if !ok || !sok || !dok {
			return nil, fmt.Errorf("--nodes-mapping %s line %d %q: want <dc>:<rack>:<host_id>=<dc>:<rack>:<host_id>", path, n, line)
		}
		out = append(out, restore.NodeMapping{Source: s, Target: d})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--nodes-mapping: %w", err)
	}
	return out, nil
}

func parseNodeRef(s string) (restore.NodeRef, bool) {
	p := strings.Split(strings.TrimSpace(s), ":")
	if len(p) != 3 || p[0] == "" || p[1] == "" || p[2] == "" {
		return restore.NodeRef{}, false
	}
	return restore.NodeRef{DC: p[0], Rack: p[1], HostID: p[2]}, true
}

func (a *app) restoreCmd() *cobra.Command {
	f := &restoreFlags{}
	cmd := &cobra.Command{
		Use:   "restore --cluster <id|name> --location [<dc>:]<provider>:<bucket> --snapshot-tag <tag> (--restore-tables | --restore-schema) [flags]",
		Short: "Schedule a restore of a backup (ad-hoc or scheduled)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := a.requireCluster()
			if err != nil {
				return err
			}
			if len(f.location) == 0 || f.snapshotTag == "" {
				return fmt.Errorf("required flags \"location\" and \"snapshot-tag\" not set")
			}
			typ := "restore"
			if f.nodesMapping != "" {
				typ = "1_1_restore"
			}
			t, err := newTask(cmd, typ, &f.sched, func() (map[string]any, error) { return f.properties(cmd) })
			if err != nil {
				return err
			}
			if f.dryRun {
				t.Type = "restore" // the dry run of both types
				return showTarget(cmd.Context(), a, cl, t, true, func(target restore.Target) string {
					return restoreTargetText(target, f.showTables)
				})
			}
			return a.saveTask(cmd.Context(), cl, t, nil)
		},
	}
	a.clusterFlag(cmd)
	f.register(cmd)
	return cmd
}

func restoreTargetText(t restore.Target, showTables bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Snapshot %s from %s\n", t.SnapshotTag, strings.Join(t.Location, ", "))
	fmt.Fprintf(&b, "Size: %s in %d batches, estimated duration %s\n", sizeString(t.Size), t.Batches, t.EstimatedDuration)
	if t.OneToOne {
		b.WriteString("Mode: 1-1 (no streaming)\n")
	}
	for _, src := range slices.Sorted(mapKeys(t.DCMapping)) {
		fmt.Fprintf(&b, "DC %s -> %s\n", src, t.DCMapping[src])
	}
	fmt.Fprintf(&b, "Source nodes: %s\n", strings.Join(t.SourceNodes, ", "))
	var hosts []string
	for _, h := range t.TargetHosts {
		hosts = append(hosts, h.IP)
	}
	fmt.Fprintf(&b, "Target hosts: %s\n", strings.Join(hosts, ", "))
	tb := newTable("Keyspace", "Size")
	if showTables {
		tb = newTable("Keyspace", "Table", "Size")
	}
	for _, u := range t.Units {
		if !showTables {
			tb.add(u.Keyspace, sizeString(u.Size))
			continue
		}
		for _, x := range u.Tables {
			tb.add(u.Keyspace, x.Table, sizeString(x.Size))
		}
	}
	b.WriteString(tb.String())
	return b.String()
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func restoreView() progressView {
	return progressView{
		text:     restoreProgressText,
		fraction: barFraction(func(p restore.Progress) (int64, int64) { return p.Restored, p.Size }),
	}
}

func restoreProgressText(raw json.RawMessage, o progressOpts) (string, error) {
	p, err := decodeProgress[restore.Progress](raw, "restore")
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Progress:\t%s\n", percent(p.Restored, p.Size))
	if p.SnapshotTag != "" {
		fmt.Fprintf(&b, "Snapshot Tag:\t%s\n", p.SnapshotTag)
	}
	if p.Stage != "" {
		fmt.Fprintf(&b, "Stage:\t\t%s\n", p.Stage)
	}
	if len(p.Keyspaces) > 0 {
		b.WriteString("\n")
		t := newTable("Keyspace", "Progress", "Size", "Downloaded", "Restored", "Failed")
		for _, k := range p.Keyspaces {
			t.add(k.Keyspace, percent(k.Restored, k.Size), sizeString(k.Size), sizeString(k.Downloaded), sizeString(k.Restored), sizeString(k.Failed))
		}
		b.WriteString(t.String())
	}
	if o.details {
		for _, k := range p.Keyspaces {
			fmt.Fprintf(&b, "\nKeyspace: %s\n", k.Keyspace)
			d := newTable("Table", "Progress", "Size", "Downloaded", "Restored", "Failed", "tombstone_gc")
			for _, tb := range k.Tables {
				d.add(tb.Table, percent(tb.Restored, tb.Size), sizeString(tb.Size), sizeString(tb.Downloaded), sizeString(tb.Restored), sizeString(tb.Failed), tb.TombstoneGC)
			}
			b.WriteString(d.String())
		}
	}
	if len(p.Hosts) > 0 {
		b.WriteString("\n")
		t := newTable("Host", "Shards", "Downloaded", "Download time", "Streamed", "Stream time")
		for _, h := range p.Hosts {
			if len(o.hosts) > 0 && !slices.Contains(o.hosts, h.Host) {
				continue
			}
			t.add(h.Host, fmt.Sprint(h.ShardCnt), sizeString(h.DownloadedBytes), (time.Duration(h.DownloadDuration) * time.Millisecond).String(),
				sizeString(h.StreamedBytes), (time.Duration(h.StreamDuration) * time.Millisecond).String())
		}
		b.WriteString(t.String())
	}
	if p.Error != "" {
		fmt.Fprintf(&b, "\nError: %s\n", p.Error)
	}
	return b.String(), nil
}
