package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/scyllaops/scyllaops/restapi"
)

type backupFlags struct {
	sched                                       scheduleFlags
	location, keyspace, dc                      []string
	rateLimit, snapshotParallel, uploadParallel []string
	retention, retentionDays, transfers         int64
	purgeOnly, skipSchema, overrideLock         bool
	method, lockMode                            string
	dryRun, showTables                          bool
}

func (f *backupFlags) register(cmd *cobra.Command) {
	f.sched.register(cmd)
	fl := cmd.Flags()
	fl.StringSliceVarP(&f.location, "location", "L", nil, "Backup locations [<dc>:]<provider>:<bucket>, e.g. s3:my-bucket")
	fl.StringSliceVarP(&f.keyspace, "keyspace", "K", nil, "Keyspace/table glob patterns, e.g. ks1,ks2.t*,!ks3")
	fl.StringSliceVar(&f.dc, "dc", nil, "Datacenter glob patterns")
	fl.Int64Var(&f.retention, "retention", 3, "Number of backups to keep")
	fl.Int64Var(&f.retentionDays, "retention-days", 0, "Days to keep backups (0: no limit)")
	fl.StringSliceVar(&f.rateLimit, "rate-limit", nil, "Upload rate limits [<dc>:]<MiB/s>")
	fl.Int64Var(&f.transfers, "transfers", -1, "Parallel file transfers per node (-1: agent config)")
	fl.StringSliceVar(&f.snapshotParallel, "snapshot-parallel", nil, "Nodes snapshotted in parallel [<dc>:]<N>")
	fl.StringSliceVar(&f.uploadParallel, "upload-parallel", nil, "Nodes uploading in parallel [<dc>:]<N>")
	fl.BoolVar(&f.purgeOnly, "purge-only", false, "Only purge old backups")
	fl.BoolVar(&f.skipSchema, "skip-schema", false, "Do not back up the schema")
	fl.StringVar(&f.method, "method", "", "Upload method: rclone, auto or native")
	fl.StringVar(&f.lockMode, "retention-lock-mode", "", "disabled, unlocked, locked or event-based-hold")
	fl.BoolVar(&f.overrideLock, "override-retention-lock", false, "Override the retention lock")
	fl.BoolVar(&f.dryRun, "dry-run", false, "Validate and print the backup target without creating the task")
	fl.BoolVar(&f.showTables, "show-tables", false, "Print table names with --dry-run")
}

// properties merges the flags given into props.
func (f *backupFlags) properties(cmd *cobra.Command, props map[string]any) {
	set := changedSetter(cmd, props)
	set("location", "location", f.location)
	set("keyspace", "keyspace", f.keyspace)
	set("dc", "dc", f.dc)
	set("retention", "retention", f.retention)
	set("retention-days", "retention_days", f.retentionDays)
	set("rate-limit", "rate_limit", f.rateLimit)
	set("transfers", "transfers", f.transfers)
	set("snapshot-parallel", "snapshot_parallel", f.snapshotParallel)
	set("upload-parallel", "upload_parallel", f.uploadParallel)
	set("purge-only", "purge_only", f.purgeOnly)
	set("skip-schema", "skip_schema", f.skipSchema)
	set("method", "method", f.method)
	set("retention-lock-mode", "retention_lock_mode", f.lockMode)
	set("override-retention-lock", "override_retention_lock", f.overrideLock)
}

// backupSubmit prints the dry-run target (as the --output format when
// structured), or creates (ref == nil) or updates the task.
func (a *app) backupSubmit(cmd *cobra.Command, f *backupFlags, cl string, t restapi.TaskUpdate, ref *taskRef, structured bool) error {
	if f.dryRun {
		return showTarget(cmd.Context(), a, cl, t, structured, func(target restapi.BackupTarget) string {
			return backupTargetText(target, f.showTables)
		})
	}
	return a.saveTask(cmd.Context(), cl, t, ref)
}

func (a *app) backupCmd() *cobra.Command {
	f := &backupFlags{}
	cmd := &cobra.Command{
		Use:   "backup --cluster <id|name> --location [<dc>:]<provider>:<bucket> [flags]",
		Short: "Schedule a backup (ad-hoc or scheduled)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := a.requireCluster()
			if err != nil {
				return err
			}
			if len(f.location) == 0 {
				return fmt.Errorf("required flag \"location\" not set")
			}
			t, err := newTask(cmd, "backup", &f.sched, func() (map[string]any, error) {
				props := map[string]any{}
				f.properties(cmd, props)
				return props, nil
			})
			if err != nil {
				return err
			}
			return a.backupSubmit(cmd, f, cl, t, nil, true)
		},
	}
	a.clusterFlag(cmd)
	f.register(cmd)
	cmd.AddCommand(a.backupUpdateCmd(), a.backupListCmd(), a.backupFilesCmd(), a.backupValidateCmd(), a.backupDeleteCmd())
	return cmd
}

func backupTargetText(t restapi.BackupTarget, showTables bool) string {
	var b strings.Builder
	units := make([]targetUnit, 0, len(t.Units))
	for _, u := range t.Units {
		units = append(units, targetUnit{u.Keyspace, u.Tables, u.AllTables})
	}
	writeTargetUnits(&b, t.DC, units, showTables)
	fmt.Fprintf(&b, "\nDisk size: ~%s\n\nLocations:\n", sizeString(t.Size))
	for _, l := range t.Location {
		fmt.Fprintf(&b, "  - %s\n", l)
	}
	if t.Method != "" {
		fmt.Fprintf(&b, "\nBackup Method: %s\n", t.Method)
	}
	fmt.Fprintf(&b, "\nRetention: last %d backups", t.Retention)
	if t.RetentionDays > 0 {
		fmt.Fprintf(&b, " and %d days", t.RetentionDays)
	}
	b.WriteString("\n")
	if len(t.Warnings) > 0 {
		b.WriteString("\n")
		writeWarnings(&b, t.Warnings)
	}
	return b.String()
}

func (a *app) backupUpdateCmd() *cobra.Command {
	f := &backupFlags{}
	cmd := &cobra.Command{
		Use:   "update <type/task-id>",
		Short: "Modify properties of an existing backup task",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, ref, t, err := a.editTask(cmd, args[0], &f.sched, func(props map[string]any) { f.properties(cmd, props) })
			if err != nil {
				return err
			}
			// The dry run of an update prints text whatever --output says.
			return a.backupSubmit(cmd, f, cl, t, &ref, false)
		},
	}
	a.clusterFlag(cmd)
	f.register(cmd)
	return cmd
}

func (a *app) backupListCmd() *cobra.Command {
	var o restapi.ListBackupsOptions
	var allClusters, showTables bool
	var minDate, maxDate string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List backups",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := a.requireCluster()
			if err != nil {
				return err
			}
			for _, d := range []struct {
				s   string
				dst *time.Time
			}{{minDate, &o.MinDate}, {maxDate, &o.MaxDate}} {
				if d.s == "" {
					continue
				}
				t, err := parseStartDate(d.s, time.Now())
				if err != nil {
					return fmt.Errorf("invalid date %q: want now, now+<duration> or RFC3339", d.s)
				}
				*d.dst = t
			}
			if !allClusters {
				c, err := a.client.GetCluster(cmd.Context(), cl)
				if err != nil {
					return err
				}
				o.QueryClusterID = c.ID
			}
			items, err := a.client.ListBackups(cmd.Context(), cl, o)
			if err != nil {
				return err
			}
			if ok, err := a.structured(items); ok {
				return err
			}
			var names map[string]string
			if allClusters {
				cs, err := a.client.ListClusters(cmd.Context())
				if err != nil {
					return err
				}
				names = make(map[string]string, len(cs))
				for _, c := range cs {
					names[c.ID] = c.Name
				}
			}
			a.printf("%s", backupListText(items, allClusters, names, showTables))
			return nil
		},
	}
	a.clusterFlag(cmd)
	fl := cmd.Flags()
	fl.StringSliceVarP(&o.Locations, "location", "L", nil, "Backup locations (default: those of the cluster's backup tasks)")
	fl.StringSliceVarP(&o.Keyspace, "keyspace", "K", nil, "Keyspace glob patterns")
	fl.BoolVar(&allClusters, "all-clusters", false, "Show backups of all clusters in the locations")
	fl.StringVar(&minDate, "min-date", "", "Only backups newer than this date (RFC3339)")
	fl.StringVar(&maxDate, "max-date", "", "Only backups older than this date (RFC3339)")
	fl.BoolVar(&showTables, "show-tables", false, "Print table names")
	return cmd
}

// backupListText prints the listing as sctool does. With allClusters
// each item names its cluster: names maps the IDs of the clusters the
// server knows to their names (a bucket may hold others: ID only).
func backupListText(items []restapi.BackupListItem, allClusters bool, names map[string]string, showTables bool) string {
	var b strings.Builder
	for i, it := range items {
		if i > 0 {
			b.WriteString("\n")
		}
		if allClusters {
			if n := names[it.ClusterID]; n != "" {
				fmt.Fprintf(&b, "Cluster: %s (%s)\n", n, it.ClusterID)
			} else {
				fmt.Fprintf(&b, "Cluster: %s\n", it.ClusterID)
			}
		}
		fmt.Fprintf(&b, "backup/%s\nSnapshots:\n", it.TaskID)
		for _, s := range it.SnapshotInfo {
			fmt.Fprintf(&b, "  - %s (%s, %d nodes)\n", s.SnapshotTag, sizeString(s.Size), s.Nodes)
		}
		b.WriteString("Keyspaces:\n")
		for _, u := range it.Units {
			all := ""
			if u.AllTables {
				all = "all "
			}
			fmt.Fprintf(&b, "  - %s %s(%d tables)\n", u.Keyspace, all, len(u.Tables))
			if showTables {
				for _, t := range u.Tables {
					fmt.Fprintf(&b, "    - %s\n", t)
				}
			}
		}
	}
	return b.String()
}

func (a *app) backupFilesCmd() *cobra.Command {
	var o restapi.ListBackupsOptions
	var withVersion, allClusters bool
	var delim string
	cmd := &cobra.Command{
		Use:   "files --snapshot-tag <tag>",
		Short: "List contents of a given backup",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := a.requireCluster()
			if err != nil {
				return err
			}
			if o.SnapshotTag == "" {
				return fmt.Errorf("required flag \"snapshot-tag\" not set")
			}
			if !allClusters {
				c, err := a.client.GetCluster(cmd.Context(), cl)
				if err != nil {
					return err
				}
				o.QueryClusterID = c.ID
			}
			infos, err := a.client.BackupFiles(cmd.Context(), cl, o)
			if err != nil {
				return err
			}
			if ok, err := a.structured(infos); ok {
				return err
			}
			for _, fi := range infos {
				if fi.Schema != "" {
					a.printf("%s%s./\n", fileURL(fi.Location, fi.Schema), delim)
				}
				for _, t := range fi.Files {
					dst := t.Keyspace + "/" + t.Table
					if withVersion {
						dst += "-" + t.Version
					}
					for _, f := range t.Files {
						a.printf("%s%s%s\n", fileURL(fi.Location, t.Path+"/"+f), delim, dst)
					}
				}
			}
			return nil
		},
	}
	a.clusterFlag(cmd)
	fl := cmd.Flags()
	fl.StringVarP(&o.SnapshotTag, "snapshot-tag", "T", "", "Snapshot `tag` as shown by backup list")
	fl.StringSliceVarP(&o.Locations, "location", "L", nil, "Backup locations")
	fl.StringSliceVarP(&o.Keyspace, "keyspace", "K", nil, "Keyspace glob patterns")
	fl.BoolVar(&withVersion, "with-version", false, "Render table names with the version UUID")
	fl.StringVarP(&delim, "delimiter", "d", "\t", "Delimiter between the file URL and the destination")
	fl.BoolVar(&allClusters, "all-clusters", false, "Show files of all clusters")
	return cmd
}

// fileURL turns "provider:bucket" + path into provider://bucket/path.
func fileURL(location, p string) string {
	loc := location
	if i := strings.Index(loc, ":"); i >= 0 {
		// Drop a leading "dc:" when there are two colons.
		if strings.Count(loc, ":") > 1 {
			loc = loc[i+1:]
		}
	}
	loc = strings.Replace(loc, ":", "://", 1)
	return strings.TrimSuffix(loc, "/") + "/" + strings.TrimPrefix(p, "/")
}

func (a *app) backupValidateCmd() *cobra.Command {
	var sched scheduleFlags
	var locations []string
	var deleteOrphaned bool
	var parallel int64
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Validate backup files in remote locations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := a.requireCluster()
			if err != nil {
				return err
			}
			t := restapi.TaskUpdate{Type: "validate_backup"}
			if err := sched.apply(cmd, &t, true, time.Now()); err != nil {
				return err
			}
			props := map[string]any{}
			if len(locations) > 0 {
				props["location"] = locations
			}
			if deleteOrphaned {
				props["delete_orphaned_files"] = true
			}
			if cmd.Flags().Changed("parallel") {
				props["parallel"] = parallel
			}
			if t.Properties, err = json.Marshal(props); err != nil {
				return err
			}
			id, err := a.client.CreateTask(cmd.Context(), cl, t)
			if err != nil {
				return err
			}
			if ok, err := a.structured(map[string]string{"id": "validate_backup/" + id}); ok {
				return err
			}
			a.printf("validate_backup/%s\n", id)
			return nil
		},
	}
	a.clusterFlag(cmd)
	sched.register(cmd)
	cmd.Flags().StringSliceVarP(&locations, "location", "L", nil, "Backup locations (default: those of the cluster's backup tasks)")
	cmd.Flags().BoolVar(&deleteOrphaned, "delete-orphaned-files", false, "Delete files no backup references")
	cmd.Flags().Int64Var(&parallel, "parallel", 0, "Hosts validating in parallel (0: all)")
	return cmd
}

func (a *app) backupDeleteCmd() *cobra.Command {
	var tags, locations []string
	cmd := &cobra.Command{
		Use:   "delete --snapshot-tag <tag>",
		Short: "Delete backup files in remote locations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := a.requireCluster()
			if err != nil {
				return err
			}
			if len(tags) == 0 {
				return fmt.Errorf("required flag \"snapshot-tag\" not set")
			}
			return a.client.DeleteSnapshots(cmd.Context(), cl, locations, tags)
		},
	}
	a.clusterFlag(cmd)
	cmd.Flags().StringSliceVarP(&tags, "snapshot-tag", "T", nil, "Snapshot tags to delete")
	cmd.Flags().StringSliceVarP(&locations, "location", "L", nil, "Backup locations")
	return cmd
}
