package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/scyllaops/scyllaops/restapi"
)

// What the backup, repair and restore commands share: turning the flags
// given into task properties, building the task to create or update,
// the dry run, and saving the task.

// changedSetter returns set(flag, key, v): props[key] = v when flag was
// given on the command line (a flag left out keeps the task's value).
func changedSetter(cmd *cobra.Command, props map[string]any) func(flag, key string, v any) {
	ch := cmd.Flags().Changed
	return func(flag, key string, v any) {
		if ch(flag) {
			props[key] = v
		}
	}
}

// newTask is the task of type typ that the schedule flags and the
// properties props returns describe.
func newTask(cmd *cobra.Command, typ string, sched *scheduleFlags, props func() (map[string]any, error)) (restapi.TaskUpdate, error) {
	t := restapi.TaskUpdate{Type: typ}
	if err := sched.apply(cmd, &t, true, time.Now()); err != nil {
		return t, err
	}
	p, err := props()
	if err != nil {
		return t, err
	}
	t.Properties, err = json.Marshal(p)
	return t, err
}

// editTask loads the task arg names ("<type>/<id or name>") and returns
// it as an update: its fields kept, the schedule flags given applied and
// the flags given merged into its properties by merge.
func (a *app) editTask(cmd *cobra.Command, arg string, sched *scheduleFlags, merge func(props map[string]any)) (string, taskRef, restapi.TaskUpdate, error) {
	ctx := cmd.Context()
	cl, ref, err := a.clusterTask(ctx, arg)
	if err != nil {
		return "", ref, restapi.TaskUpdate{}, err
	}
	cur, err := a.client.GetTask(ctx, cl, ref.typ, ref.id)
	if err != nil {
		return "", ref, restapi.TaskUpdate{}, err
	}
	s := cur.Schedule
	t := restapi.TaskUpdate{Type: cur.Type, Name: cur.Name, Labels: cur.Labels, Tags: cur.Tags, Enabled: cur.Enabled, Schedule: &s}
	if err := sched.apply(cmd, &t, false, time.Now()); err != nil {
		return "", ref, t, err
	}
	props := map[string]any{}
	if len(cur.Properties) > 0 {
		if err := json.Unmarshal(cur.Properties, &props); err != nil {
			return "", ref, t, fmt.Errorf("task properties: %w", err)
		}
	}
	merge(props)
	t.Properties, err = json.Marshal(props)
	return cl, ref, t, err
}

// showTarget prints the dry-run target of t as text(target), or as the
// --output format when structured.
func showTarget[T any](ctx context.Context, a *app, cl string, t restapi.TaskUpdate, structured bool, text func(T) string) error {
	var target T
	if err := a.client.TaskTarget(ctx, cl, t, &target); err != nil {
		return err
	}
	if structured {
		if ok, err := a.structured(target); ok {
			return err
		}
	}
	a.printf("%s", text(target))
	return nil
}

// saveTask creates t (ref == nil) and prints "<type>/<id>", or updates
// the task ref and prints its name.
func (a *app) saveTask(ctx context.Context, cl string, t restapi.TaskUpdate, ref *taskRef) error {
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
	if ok, err := a.structured(map[string]string{"id": t.Type + "/" + id}); ok {
		return err
	}
	a.printf("%s/%s\n", t.Type, id)
	return nil
}

// targetUnit is a keyspace of a backup or repair dry-run target.
type targetUnit struct {
	keyspace  string
	tables    []string
	allTables bool
}

// writeTargetUnits writes the data centers and keyspaces of a backup or
// repair dry-run target.
func writeTargetUnits(b *strings.Builder, dcs []string, units []targetUnit, showTables bool) {
	fmt.Fprintf(b, "Data Centers:\n")
	for _, dc := range dcs {
		fmt.Fprintf(b, "  - %s\n", dc)
	}
	fmt.Fprintf(b, "\nKeyspaces:\n")
	for _, u := range units {
		all := ""
		if u.allTables {
			all = "all "
		}
		fmt.Fprintf(b, "  - %s %s(%d tables)\n", u.keyspace, all, len(u.tables))
		if showTables {
			for _, tb := range u.tables {
				fmt.Fprintf(b, "    - %s\n", tb)
			}
		}
	}
}
