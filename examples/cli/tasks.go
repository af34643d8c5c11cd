package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/scyllaops/scyllaops/restapi"
)

// taskRef is a resolved task reference.
type taskRef struct{ typ, id string }

func (r taskRef) String() string { return r.typ + "/" + r.id }

// resolveTask resolves "type/uuid", "type/name" or a bare "type" (one task
// of that type) to a task ID.
// clusterTask resolves the --cluster flag and a "<type>/<id or name>"
// argument: the preamble of every command that acts on one task.
func (a *app) clusterTask(ctx context.Context, arg string) (string, taskRef, error) {
	cl, err := a.requireCluster()
	if err != nil {
		return "", taskRef{}, err
	}
	ref, err := a.resolveTask(ctx, cl, arg)
	return cl, ref, err
}

func (a *app) resolveTask(ctx context.Context, cluster, ref string) (taskRef, error) {
	typ, rest, hasID := strings.Cut(ref, "/")
	if typ == "" {
		return taskRef{}, fmt.Errorf("invalid task %q: want <type>/<id or name>, e.g. backup/daily", ref)
	}
	if hasID {
		if _, err := uuid.Parse(rest); err == nil {
			return taskRef{typ, rest}, nil
		}
	}
	ts, err := a.client.ListTasks(ctx, cluster, restapi.ListTasksOptions{All: true, Type: typ, Short: true})
	if err != nil {
		return taskRef{}, err
	}
	var hits []restapi.TaskListItem
	for _, t := range ts {
		if !hasID || t.Name == rest {
			hits = append(hits, t)
		}
	}
	switch len(hits) {
	case 0:
		return taskRef{}, fmt.Errorf("task %q not found in cluster %s", ref, cluster)
	case 1:
		return taskRef{typ, hits[0].ID}, nil
	}
	var names []string
	for _, t := range hits {
		names = append(names, taskName(t.Task))
	}
	return taskRef{}, fmt.Errorf("task %q is ambiguous, use one of: %s", ref, strings.Join(names, ", "))
}

// taskName prints a task as sctool does: type/name or type/uuid.
func taskName(t restapi.Task) string {
	if t.Name != "" {
		return t.Type + "/" + t.Name
	}
	return t.Type + "/" + t.ID
}

func (a *app) tasksCmd() *cobra.Command {
	var all, showIDs, showProps bool
	var status, typ string
	cmd := &cobra.Command{
		Use:   "tasks",
		Short: "Show active tasks and their last run status",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := a.requireCluster()
			if err != nil {
				return err
			}
			ts, err := a.client.ListTasks(cmd.Context(), cl, restapi.ListTasksOptions{All: all, Status: status, Type: typ})
			if err != nil {
				return err
			}
			if ok, err := a.structured(ts); ok {
				return err
			}
			a.printf("%s", tasksTable(ts, showIDs, showProps, time.Now()))
			return nil
		},
	}
	a.clusterFlag(cmd)
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "List disabled tasks as well")
	f.StringVarP(&status, "status", "s", "", "Filter tasks by last run `status`")
	f.StringVarP(&typ, "type", "t", "", "Display only tasks of this `type`")
	f.BoolVar(&showIDs, "show-ids", false, "Show task IDs")
	f.BoolVar(&showProps, "show-properties", false, "Show task properties")
	return cmd
}

func tasksTable(ts []restapi.TaskListItem, showIDs, showProps bool, now time.Time) *table {
	header := []string{"Task", "Labels", "Schedule", "Window", "Timezone", "Success", "Error", "Last Success", "Last Error", "Status", "Next"}
	if showProps {
		header = append(header, "Properties")
	}
	t := newTable(header...)
	sort.SliceStable(ts, func(i, j int) bool {
		if ts[i].Type != ts[j].Type {
			return ts[i].Type < ts[j].Type
		}
		return taskName(ts[i].Task) < taskName(ts[j].Task)
	})
	for _, x := range ts {
		name := taskName(x.Task)
		if showIDs {
			name = x.Type + "/" + x.ID
		}
		if !x.Enabled {
			name = "*" + name
		}
		sched := restapi.CronSpec(x.Schedule.Cron)
		if sched == "" && x.Schedule.Interval != "" {
			sched = "@every " + x.Schedule.Interval
		}
		status := x.Status
		if x.Suspended {
			status += " (suspended)"
		}
		tz := x.Schedule.Timezone
		if tz == "" && sched != "" {
			tz = "UTC" // the server applies UTC to a schedule without a zone
		}
		row := []any{name, labelsString(x.Labels), sched, strings.Join(x.Schedule.Window, ","), tz,
			x.SuccessCount, x.ErrorCount, timeString(x.LastSuccess), timeString(x.LastError), status, relTime(x.NextActivation, now)}
		if showProps {
			row = append(row, string(x.Properties))
		}
		t.add(row...)
	}
	return t
}

func (a *app) infoCmd() *cobra.Command {
	var limit int
	var cause bool
	cmd := &cobra.Command{
		Use:   "info <type/task-id>",
		Short: "Show task parameters and history",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cl, ref, err := a.clusterTask(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			t, err := a.client.GetTask(ctx, cl, ref.typ, ref.id)
			if err != nil {
				return err
			}
			runs, err := a.client.TaskHistory(ctx, cl, ref.typ, ref.id, limit)
			if err != nil {
				return err
			}
			if ok, err := a.structured(map[string]any{"task": t, "history": runs}); ok {
				return err
			}
			a.printf("Name:\t%s\n", taskName(t))
			if s := restapi.CronSpec(t.Schedule.Cron); s != "" {
				a.printf("Cron:\t%s %s\n", s, t.Schedule.Timezone)
			}
			if len(t.Schedule.Window) > 0 {
				a.printf("Window:\t%s\n", strings.Join(t.Schedule.Window, ","))
			}
			a.printf("Retry:\t%d", t.Schedule.NumRetries)
			if t.Schedule.RetryWait != "" {
				a.printf(" (initial backoff %s)", t.Schedule.RetryWait)
			}
			a.printf("\n")
			if len(t.Properties) > 0 && string(t.Properties) != "{}" {
				a.printf("\nProperties:\n")
				a.printf("%s", propertiesText(t.Properties))
			}
			a.printf("\n")
			header := []string{"ID", "Start time", "Duration", "Status"}
			if cause {
				header = append(header, "Cause")
			}
			tb := newTable(header...)
			now := time.Now()
			for _, r := range runs {
				row := []any{r.ID, timeString(r.StartTime), durationString(r.StartTime, r.EndTime, now), r.Status}
				if cause {
					row = append(row, r.Cause)
				}
				tb.add(row...)
			}
			a.printf("%s", tb)
			return nil
		},
	}
	a.clusterFlag(cmd)
	cmd.Flags().IntVar(&limit, "limit", 10, "Limit the number of returned results")
	cmd.Flags().BoolVar(&cause, "cause", false, "Show error cause")
	return cmd
}

func (a *app) startCmd() *cobra.Command {
	var noContinue bool
	cmd := &cobra.Command{
		Use:   "start <type/task-id>",
		Short: "Start executing a task",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, ref, err := a.clusterTask(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.client.StartTask(cmd.Context(), cl, ref.typ, ref.id, noContinue)
		},
	}
	a.clusterFlag(cmd)
	cmd.Flags().BoolVar(&noContinue, "no-continue", false, "Do not resume the last run")
	return cmd
}

func (a *app) stopCmd() *cobra.Command {
	var disable, del bool
	cmd := &cobra.Command{
		Use:   "stop <type/task-id>",
		Short: "Stop executing a task",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, ref, err := a.clusterTask(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if err := a.client.StopTask(cmd.Context(), cl, ref.typ, ref.id, disable); err != nil {
				return err
			}
			if del {
				return a.client.DeleteTask(cmd.Context(), cl, ref.typ, ref.id)
			}
			return nil
		},
	}
	a.clusterFlag(cmd)
	cmd.Flags().BoolVar(&disable, "disable", false, "Do not run in the future")
	cmd.Flags().BoolVar(&del, "delete", false, "Completely remove the task")
	return cmd
}

func (a *app) suspendCmd() *cobra.Command {
	var o restapi.SuspendOptions
	var (
		policy, duration string
		startTasks       bool
		sched            scheduleFlags
	)
	cmd := &cobra.Command{
		Use:   "suspend --cluster <id|name> [--duration] [--on-resume-start-tasks] [flags]",
		Short: "Stop execution of all tasks",
		Long: "Stop execution of all tasks of a cluster (health checks go on) until resume.\n\n" +
			"With --duration (or a schedule: --cron, --start-date) it creates a suspend task instead, as sctool\n" +
			"does: each run suspends the cluster, waits the duration, then resumes it. Without a schedule the\n" +
			"task runs now. It prints the task ID, suspend/<id>.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := a.requireCluster()
			if err != nil {
				return err
			}
			switch policy {
			case "stop_running_tasks":
			case "fail_if_running_tasks":
				o.FailIfRunning = true
			default:
				return fmt.Errorf("invalid --suspend-policy %q: want stop_running_tasks or fail_if_running_tasks", policy)
			}
			fl := cmd.Flags()
			scheduled := fl.Changed("cron") || fl.Changed("start-date") || fl.Changed("interval")
			if !fl.Changed("duration") && !scheduled {
				if fl.Changed("on-resume-start-tasks") {
					return fmt.Errorf("--on-resume-start-tasks needs --duration (a plain suspend lasts until resume; use resume --start-tasks)")
				}
				return a.client.Suspend(cmd.Context(), cl, o)
			}
			if duration == "" {
				return fmt.Errorf("required flag \"duration\" not set: a suspend task resumes the cluster after it, e.g. --duration 1h")
			}
			return a.createSuspendTask(cmd, cl, &sched, suspendTaskProperties(cmd, duration, startTasks, o, policy))
		},
	}
	a.clusterFlag(cmd)
	sched.register(cmd)
	cmd.Flags().StringVar(&o.AllowTaskType, "allow-task-type", "", "Task `type` that may run while suspended")
	cmd.Flags().StringVar(&policy, "suspend-policy", "stop_running_tasks", "stop_running_tasks or fail_if_running_tasks")
	cmd.Flags().BoolVar(&o.NoContinue, "no-continue", false, "Clean up after the stopped tasks (backup: delete their snapshots on the nodes); their next runs start from scratch")
	cmd.Flags().StringVar(&duration, "duration", "", "Resume automatically after this `duration` (e.g. 30m, 2h, 1d): creates a suspend task")
	cmd.Flags().BoolVar(&startTasks, "on-resume-start-tasks", false, "On resume, start the tasks that the suspension stopped")
	return cmd
}

// suspendTaskProperties are the properties of the suspend task that
// suspend --duration creates: duration and start_tasks as sctool sends
// them, plus the suspend flags the user set.
func suspendTaskProperties(cmd *cobra.Command, duration string, startTasks bool, o restapi.SuspendOptions, policy string) map[string]any {
	fl := cmd.Flags()
	props := map[string]any{"duration": duration}
	if fl.Changed("on-resume-start-tasks") {
		props["start_tasks"] = startTasks
	}
	if o.AllowTaskType != "" {
		props["allow_task_type"] = o.AllowTaskType
	}
	if fl.Changed("suspend-policy") {
		props["suspend_policy"] = policy
	}
	if o.NoContinue {
		props["no_continue"] = true
	}
	return props
}

// createSuspendTask creates a suspend task (ad-hoc unless scheduled: the
// start date defaults to now, so the server runs it at once) and prints
// its ID.
func (a *app) createSuspendTask(cmd *cobra.Command, cluster string, sched *scheduleFlags, props map[string]any) error {
	t := restapi.TaskUpdate{Type: "suspend"}
	if err := sched.apply(cmd, &t, true, time.Now()); err != nil {
		return err
	}
	var err error
	if t.Properties, err = json.Marshal(props); err != nil {
		return err
	}
	id, err := a.client.CreateTask(cmd.Context(), cluster, t)
	if err != nil {
		return err
	}
	if ok, err := a.structured(map[string]string{"id": "suspend/" + id}); ok {
		return err
	}
	a.printf("suspend/%s\n", id)
	return nil
}

func (a *app) resumeCmd() *cobra.Command {
	var o restapi.ResumeOptions
	cmd := &cobra.Command{
		Use:   "resume",
		Short: "Undo suspend",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := a.requireCluster()
			if err != nil {
				return err
			}
			return a.client.Resume(cmd.Context(), cl, o)
		},
	}
	a.clusterFlag(cmd)
	cmd.Flags().BoolVar(&o.StartTasks, "start-tasks", false, "Start the tasks that suspend stopped")
	cmd.Flags().BoolVar(&o.StartTasksMissedActivation, "start-tasks-missed-activation", false, "Start now the tasks whose activation fell in the suspension (otherwise they wait for their next one)")
	cmd.Flags().BoolVar(&o.NoContinue, "no-continue", false, "Start them from scratch")
	return cmd
}

func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Show version information",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sv, err := a.client.Version(cmd.Context())
			if ok, serr := a.structured(map[string]string{"client_version": Version, "server_version": sv}); ok {
				if err != nil {
					return err
				}
				return serr
			}
			a.printf("Client version: %s\n", Version)
			if err != nil {
				return err
			}
			a.printf("Server version: %s\n", sv)
			return nil
		},
	}
}
