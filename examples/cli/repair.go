package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/scyllaops/scyllaops/restapi"
)

type repairFlags struct {
	sched                                      scheduleFlags
	keyspace, dc                               []string
	host, smallTable, replication, incremental string
	ignoreDown, failFast, allowEmpty           bool
	intensity                                  float64
	parallel                                   int
	dryRun, showTables                         bool
}

func (f *repairFlags) register(cmd *cobra.Command) {
	f.sched.register(cmd)
	fl := cmd.Flags()
	fl.StringSliceVarP(&f.keyspace, "keyspace", "K", nil, "Keyspace/table glob patterns (default *,!system_traces)")
	fl.StringSliceVar(&f.dc, "dc", nil, "Datacenter glob patterns")
	fl.StringVar(&f.host, "host", "", "Repair only the token ranges of this node (IP)")
	fl.BoolVar(&f.ignoreDown, "ignore-down-hosts", false, "Repair without the nodes that are down")
	fl.BoolVar(&f.failFast, "fail-fast", false, "Stop the repair on the first error")
	fl.Float64Var(&f.intensity, "intensity", 1, "Token ranges per job (0: max)")
	fl.IntVar(&f.parallel, "parallel", 0, "Jobs at once (0: max)")
	fl.StringVar(&f.smallTable, "small-table-threshold", "1GiB", "Tables below this size are repaired in one job")
	fl.StringVar(&f.replication, "keyspace-replication", "", "all, vnodes or tablets")
	fl.StringVar(&f.incremental, "incremental-mode", "", "incremental, full or disabled")
	fl.BoolVar(&f.allowEmpty, "allow-empty", false, "Do not fail when nothing matches")
	fl.BoolVar(&f.dryRun, "dry-run", false, "Validate and print the repair target without creating the task")
	fl.BoolVar(&f.showTables, "show-tables", false, "Print table names with --dry-run")
}

func (f *repairFlags) properties(cmd *cobra.Command, props map[string]any) {
	ch := cmd.Flags().Changed
	set := func(flag, key string, v any) {
		if ch(flag) {
			props[key] = v
		}
	}
	set("keyspace", "keyspace", f.keyspace)
	set("dc", "dc", f.dc)
	set("host", "host", f.host)
	set("ignore-down-hosts", "ignore_down_hosts", f.ignoreDown)
	set("fail-fast", "fail_fast", f.failFast)
	set("intensity", "intensity", f.intensity)
	set("parallel", "parallel", f.parallel)
	set("small-table-threshold", "small_table_threshold", f.smallTable)
	set("keyspace-replication", "keyspace_replication", f.replication)
	set("incremental-mode", "incremental_mode", f.incremental)
	set("allow-empty", "allow_empty", f.allowEmpty)
}

// submit prints the dry-run target, or creates (cur == nil) or updates
// the task.
func (a *app) repairSubmit(cmd *cobra.Command, f *repairFlags, cl string, t restapi.TaskUpdate, ref *taskRef) error {
	ctx := cmd.Context()
	if f.dryRun {
		var target restapi.RepairTarget
		if err := a.client.TaskTarget(ctx, cl, t, &target); err != nil {
			return err
		}
		if ok, err := a.structured(target); ok {
			return err
		}
		a.printf("%s", repairTargetText(target, f.showTables))
		return nil
	}
	if ref != nil {
		out, err := a.client.UpdateTask(ctx, cl, ref.typ, ref.id, t)
		if err != nil {
			return err
		}
		if ok, err := a.structured(out); ok {
			return err
		}
		a.printf("%s\n", taskName(out))
		return nil
	}
	id, err := a.client.CreateTask(ctx, cl, t)
	if err != nil {
		return err
	}
	if ok, err := a.structured(map[string]string{"id": "repair/" + id}); ok {
		return err
	}
	a.printf("repair/%s\n", id)
	return nil
}

func (a *app) repairCmd() *cobra.Command {
	f := &repairFlags{}
	cmd := &cobra.Command{
		Use:   "repair --cluster <id|name> [flags]",
		Short: "Schedule a repair (ad-hoc or scheduled)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := a.requireCluster()
			if err != nil {
				return err
			}
			t := restapi.TaskUpdate{Type: "repair"}
			if err := f.sched.apply(cmd, &t, true, time.Now()); err != nil {
				return err
			}
			props := map[string]any{}
			f.properties(cmd, props)
			if t.Properties, err = json.Marshal(props); err != nil {
				return err
			}
			return a.repairSubmit(cmd, f, cl, t, nil)
		},
	}
	a.clusterFlag(cmd)
	f.register(cmd)
	cmd.AddCommand(a.repairUpdateCmd(), a.repairControlCmd())
	return cmd
}

func (a *app) repairUpdateCmd() *cobra.Command {
	f := &repairFlags{}
	cmd := &cobra.Command{
		Use:   "update <type/task-id>",
		Short: "Modify properties of an existing repair task",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cl, ref, err := a.clusterTask(ctx, args[0])
			if err != nil {
				return err
			}
			cur, err := a.client.GetTask(ctx, cl, ref.typ, ref.id)
			if err != nil {
				return err
			}
			sched := cur.Schedule
			t := restapi.TaskUpdate{Type: cur.Type, Name: cur.Name, Labels: cur.Labels, Tags: cur.Tags, Enabled: cur.Enabled, Schedule: &sched}
			if err := f.sched.apply(cmd, &t, false, time.Now()); err != nil {
				return err
			}
			props := map[string]any{}
			if len(cur.Properties) > 0 {
				if err := json.Unmarshal(cur.Properties, &props); err != nil {
					return fmt.Errorf("task properties: %w", err)
				}
			}
			f.properties(cmd, props)
			if t.Properties, err = json.Marshal(props); err != nil {
				return err
			}
			return a.repairSubmit(cmd, f, cl, t, &ref)
		},
	}
	a.clusterFlag(cmd)
	f.register(cmd)
	return cmd
}

func (a *app) repairControlCmd() *cobra.Command {
	var intensity float64
	var parallel int
	cmd := &cobra.Command{
		Use:   "control --cluster <id|name> [--intensity F] [--parallel N]",
		Short: "Change the intensity or parallel of a running repair",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := a.requireCluster()
			if err != nil {
				return err
			}
			ch := cmd.Flags().Changed
			if !ch("intensity") && !ch("parallel") {
				return fmt.Errorf("at least one of the flags \"intensity\" or \"parallel\" must be set")
			}
			if ch("intensity") {
				if err := a.client.SetRepairIntensity(cmd.Context(), cl, intensity); err != nil {
					return err
				}
			}
			if ch("parallel") {
				if err := a.client.SetRepairParallel(cmd.Context(), cl, parallel); err != nil {
					return err
				}
			}
			return nil
		},
	}
	a.clusterFlag(cmd)
	cmd.Flags().Float64Var(&intensity, "intensity", 1, "Token ranges per job (0: max)")
	cmd.Flags().IntVar(&parallel, "parallel", 0, "Jobs at once (0: max)")
	return cmd
}

func repairTargetText(t restapi.RepairTarget, showTables bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Data Centers:\n")
	for _, dc := range t.DC {
		fmt.Fprintf(&b, "  - %s\n", dc)
	}
	fmt.Fprintf(&b, "\nKeyspaces:\n")
	for _, u := range t.Units {
		all := ""
		if u.AllTables {
			all = "all "
		}
		fmt.Fprintf(&b, "  - %s %s(%d tables)\n", u.Keyspace, all, len(u.Tables))
		if showTables {
			for _, tb := range u.Tables {
				fmt.Fprintf(&b, "    - %s\n", tb)
			}
		}
	}
	if t.Host != "" {
		fmt.Fprintf(&b, "\nHost: %s\n", t.Host)
	}
	if len(t.IgnoreHosts) > 0 {
		fmt.Fprintf(&b, "\nIgnored hosts: %s\n", strings.Join(t.IgnoreHosts, ", "))
	}
	fmt.Fprintf(&b, "\nToken ranges: %s\n", t.TokenRanges)
	return b.String()
}
