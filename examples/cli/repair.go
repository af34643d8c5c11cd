package main

import (
	"fmt"
	"strings"

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
	set := changedSetter(cmd, props)
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

// repairSubmit prints the dry-run target, or creates (ref == nil) or
// updates the task.
func (a *app) repairSubmit(cmd *cobra.Command, f *repairFlags, cl string, t restapi.TaskUpdate, ref *taskRef) error {
	if f.dryRun {
		return showTarget(cmd.Context(), a, cl, t, true, func(target restapi.RepairTarget) string {
			return repairTargetText(target, f.showTables)
		})
	}
	return a.saveTask(cmd.Context(), cl, t, ref)
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
			t, err := newTask(cmd, "repair", &f.sched, func() (map[string]any, error) {
				props := map[string]any{}
				f.properties(cmd, props)
				return props, nil
			})
			if err != nil {
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
			cl, ref, t, err := a.editTask(cmd, args[0], &f.sched, func(props map[string]any) { f.properties(cmd, props) })
			if err != nil {
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
	units := make([]targetUnit, 0, len(t.Units))
	for _, u := range t.Units {
		units = append(units, targetUnit{u.Keyspace, u.Tables, u.AllTables})
	}
	writeTargetUnits(&b, t.DC, units, showTables)
	if t.Host != "" {
		fmt.Fprintf(&b, "\nHost: %s\n", t.Host)
	}
	if len(t.IgnoreHosts) > 0 {
		fmt.Fprintf(&b, "\nIgnored hosts: %s\n", strings.Join(t.IgnoreHosts, ", "))
	}
	fmt.Fprintf(&b, "\nToken ranges: %s\n", t.TokenRanges)
	return b.String()
}
