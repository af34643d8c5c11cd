package restapi

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
)

// fromTaskUpdate converts a TaskUpdate body to a task record (without
// cluster and ID). Properties must be a JSON object (or absent).
func fromTaskUpdate(in TaskUpdate) (store.Task, error) {
	var t store.Task
	typ := strings.TrimSpace(in.Type)
	if typ == "" {
		return t, store.Invalid("task.type", "a task type, e.g. \"backup\", \"repair\", \"healthcheck\", \"validate_backup\"", "")
	}
	sched, err := fromSchedule(in.Schedule)
	if err != nil {
		return t, err
	}
	props := bytes.TrimSpace(in.Properties)
	if len(props) == 0 || bytes.Equal(props, []byte("null")) {
		props = []byte("{}")
	}
	if props[0] != '{' {
		return t, store.Invalid("task.properties", "a JSON object of the type's properties, e.g. {\"location\":[\"s3:bucket\"]}", string(props))
	}
	labels := in.Labels
	if len(labels) == 0 && len(in.Tags) > 0 {
		// Legacy tags become labels with empty values.
		labels = make(map[string]string, len(in.Tags))
		for _, tag := range in.Tags {
			labels[tag] = ""
		}
	}
	t = store.Task{Type: typ, Name: in.Name, Labels: labels, Enabled: in.Enabled, Schedule: sched, Properties: json.RawMessage(props)}
	return t, nil
}

// toTask converts a task record to its JSON form.
func toTask(t *store.Task) Task {
	props := t.Properties
	if len(props) == 0 {
		props = json.RawMessage("{}")
	}
	return Task{
		ClusterID: t.ClusterID.String(), Type: t.Type, ID: t.ID.String(), Name: t.Name, Labels: t.Labels,
		Enabled: t.Enabled, Schedule: toSchedule(t.Schedule), Properties: props,
	}
}

// toRun converts a run record to its JSON form.
func toRun(r *store.Run) TaskRun {
	out := TaskRun{
		ClusterID: r.ClusterID.String(), Type: r.Type, TaskID: r.TaskID.String(), ID: r.ID.String(),
		Status: string(r.Status), Cause: r.Cause, Owner: r.Owner,
	}
	if !r.StartTime.IsZero() {
		t := r.StartTime.UTC()
		out.StartTime = &t
	}
	if !r.EndTime.IsZero() {
		t := r.EndTime.UTC()
		out.EndTime = &t
	}
	return out
}

// parseTaskID parses the {task_id} path value.
func parseTaskID(s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, badRequest(store.Invalid("task_id", "a task UUID", s))
	}
	return id, nil
}
