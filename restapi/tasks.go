package restapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
)

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func (h *handler) listTasks(w http.ResponseWriter, r *http.Request) {
	const op = "list tasks"
	q := r.URL.Query()
	var f taskFilter
	var err error
	if f.all, err = queryBool(q.Get("all"), "all", false); err != nil {
		h.writeError(w, r, op, err)
		return
	}
	if f.short, err = queryBool(q.Get("short"), "short", false); err != nil {
		h.writeError(w, r, op, err)
		return
	}
	f.typ = q.Get("type")
	if s := q.Get("status"); s != "" {
		if !store.Status(strings.ToUpper(s)).Valid() {
			h.writeError(w, r, op, badRequest(store.Invalid("status", "one of NEW, RUNNING, STOPPING, STOPPED, WAITING, DONE, ERROR, ABORTED", s)))
			return
		}
		f.status = strings.ToUpper(s)
	}
	if s := q.Get("task_id"); s != "" {
		if f.taskID, err = parseTaskID(s); err != nil {
			h.writeError(w, r, op, err)
			return
		}
	}
	ts, err := h.b.listTasks(r.Context(), r.PathValue("cluster_id"), f)
	if err != nil {
		h.writeError(w, r, op, err)
		return
	}
	out := make([]TaskListItem, 0, len(ts))
	for _, s := range ts {
		out = append(out, TaskListItem{
			Task: toTask(&s.task), Status: s.status, SuccessCount: int64(s.successCount), ErrorCount: int64(s.errorCount),
			LastSuccess: optTime(s.lastSuccess), LastError: optTime(s.lastError), NextActivation: optTime(s.nextActivation),
			Suspended: s.suspended, Retry: int64(s.retry),
		})
	}
	writeJSON(w, http.StatusOK, out)
}

// decodeTask reads a TaskUpdate body into a task record. pathType is the
// {task_type} of the path ("" on create): a body without "type" takes it,
// as sctool's update and dry run send none.
func decodeTask(r *http.Request, pathType string) (store.Task, error) {
	var in TaskUpdate
	if err := decodeJSON(r, &in, false); err != nil {
		return store.Task{}, err
	}
	if strings.TrimSpace(in.Type) == "" {
		in.Type = pathType
	}
	return fromTaskUpdate(in)
}

func (h *handler) createTask(w http.ResponseWriter, r *http.Request) {
	const op = "create task"
	t, err := decodeTask(r, "")
	if err != nil {
		h.writeError(w, r, op, err)
		return
	}
	if err := h.checkTarget(r, t); err != nil {
		h.writeError(w, r, op, err)
		return
	}
	created, err := h.b.createTask(r.Context(), r.PathValue("cluster_id"), t)
	if err != nil {
		h.writeError(w, r, op, err)
		return
	}
	w.Header().Set("Location", fmt.Sprintf("%s/cluster/%s/task/%s/%s", APIPrefix, created.ClusterID, url.PathEscape(created.Type), created.ID))
	w.WriteHeader(http.StatusCreated)
}

func (h *handler) taskTarget(w http.ResponseWriter, r *http.Request) {
	const op = "get target"
	typ := r.PathValue("task_type")
	if tt, ok := h.types[typ]; !ok || !tt.target {
		h.noRoute(w, r)
		return
	}
	t, err := decodeTask(r, typ)
	if err != nil {
		h.writeError(w, r, op, err)
		return
	}
	if t.Type != typ {
		h.writeError(w, r, op, badRequest(store.Invalid("task.type", "the type in the path, "+strconv.Quote(typ), t.Type)))
		return
	}
	target, err := h.b.target(r.Context(), r.PathValue("cluster_id"), t)
	if err != nil {
		h.writeError(w, r, op, err)
		return
	}
	writeJSON(w, http.StatusOK, target)
}

// checkTarget computes the dry-run target of a task whose type has one,
// as Scylla Manager validates task properties on create and update: a
// task that could never run (a location the nodes cannot reach, no
// matching keyspace, an unknown DC) is a 400 before anything is stored.
func (h *handler) checkTarget(r *http.Request, t store.Task) error {
	if tt, ok := h.types[t.Type]; !ok || !tt.target {
		return nil
	}
	_, err := h.b.target(r.Context(), r.PathValue("cluster_id"), t)
	return err
}

// pathTask resolves {task_type}/{task_id}: the task must exist and have
// that type.
func (h *handler) pathTask(r *http.Request) (store.Task, error) {
	id, err := parseTaskID(r.PathValue("task_id"))
	if err != nil {
		return store.Task{}, err
	}
	t, err := h.b.getTask(r.Context(), r.PathValue("cluster_id"), id)
	if err != nil {
		return store.Task{}, err
	}
	if t.Type != r.PathValue("task_type") || t.Deleted {
		return store.Task{}, fmt.Errorf("task %s/%s: %w", r.PathValue("task_type"), id, store.ErrNotFound)
	}
	return t, nil
}

func (h *handler) getTask(w http.ResponseWriter, r *http.Request) {
	t, err := h.pathTask(r)
	if err != nil {
		h.writeError(w, r, "get task", err)
		return
	}
	writeJSON(w, http.StatusOK, toTask(&t))
}

func (h *handler) updateTask(w http.ResponseWriter, r *http.Request) {
	const op = "update task"
	cur, err := h.pathTask(r)
	if err != nil {
		h.writeError(w, r, op, err)
		return
	}
	t, err := decodeTask(r, cur.Type)
	if err != nil {
		h.writeError(w, r, op, err)
		return
	}
	if t.Type != cur.Type {
		h.writeError(w, r, op, badRequest(store.Invalid("task.type", "the task's type "+strconv.Quote(cur.Type)+" (it cannot change)", t.Type)))
		return
	}
	t.ClusterID, t.ID = cur.ClusterID, cur.ID
	if err := h.checkTarget(r, t); err != nil {
		h.writeError(w, r, op, err)
		return
	}
	updated, err := h.b.updateTask(r.Context(), r.PathValue("cluster_id"), t)
	if err != nil {
		h.writeError(w, r, op, err)
		return
	}
	writeJSON(w, http.StatusOK, toTask(&updated))
}

func (h *handler) deleteTask(w http.ResponseWriter, r *http.Request) {
	t, err := h.pathTask(r)
	if err == nil {
		err = h.b.deleteTask(r.Context(), r.PathValue("cluster_id"), t.ID)
	}
	if err != nil {
		h.writeError(w, r, "delete task", err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (h *handler) startTask(w http.ResponseWriter, r *http.Request) {
	const op = "start task"
	cont, err := queryBool(r.URL.Query().Get("continue"), "continue", true)
	if err != nil {
		h.writeError(w, r, op, err)
		return
	}
	t, err := h.pathTask(r)
	if err == nil {
		err = h.b.startTask(r.Context(), r.PathValue("cluster_id"), t.ID, cont)
	}
	if err != nil {
		h.writeError(w, r, op, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (h *handler) stopTask(w http.ResponseWriter, r *http.Request) {
	const op = "stop task"
	disable, err := queryBool(r.URL.Query().Get("disable"), "disable", false)
	if err != nil {
		h.writeError(w, r, op, err)
		return
	}
	t, err := h.pathTask(r)
	if err == nil {
		err = h.b.stopTask(r.Context(), r.PathValue("cluster_id"), t.ID, disable)
	}
	if err != nil {
		h.writeError(w, r, op, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (h *handler) taskHistory(w http.ResponseWriter, r *http.Request) {
	const op = "get task history"
	limit, err := queryInt(r.URL.Query().Get("limit"), "limit", 10)
	if err == nil && limit < 1 {
		err = badRequest(store.Invalid("limit", "a count >= 1, e.g. 10", strconv.Itoa(limit)))
	}
	if err != nil {
		h.writeError(w, r, op, err)
		return
	}
	t, err := h.pathTask(r)
	if err != nil {
		h.writeError(w, r, op, err)
		return
	}
	runs, err := h.b.history(r.Context(), r.PathValue("cluster_id"), t.ID, limit)
	if err != nil {
		h.writeError(w, r, op, err)
		return
	}
	out := make([]TaskRun, 0, len(runs))
	for i := range runs {
		out = append(out, toRun(&runs[i]))
	}
	writeJSON(w, http.StatusOK, out)
}

var runRefRe = regexp.MustCompile(`^(latest|~[0-9]+|[0-9a-fA-F-]{36})$`)

func (h *handler) runProgress(w http.ResponseWriter, r *http.Request) {
	const op = "get run progress"
	ref := r.PathValue("run_id")
	if !runRefRe.MatchString(ref) {
		h.writeError(w, r, op, badRequest(store.Invalid("run_id", "a run UUID, latest, or ~N for the Nth-last run", ref)))
		return
	}
	if ref != "latest" && ref[0] != '~' {
		if _, err := uuid.Parse(ref); err != nil {
			h.writeError(w, r, op, badRequest(store.Invalid("run_id", "a run UUID, latest, or ~N for the Nth-last run", ref)))
			return
		}
	}
	t, err := h.pathTask(r)
	if err != nil {
		h.writeError(w, r, op, err)
		return
	}
	run, prog, err := h.b.runProgress(r.Context(), r.PathValue("cluster_id"), t.ID, ref)
	if errors.Is(err, store.ErrNotFound) && ref == "latest" {
		run, err = nil, nil
	}
	if err != nil {
		h.writeError(w, r, op, err)
		return
	}
	tt := h.types[t.Type]
	out := TaskRunProgress{}
	if run == nil {
		// No run yet: a synthetic NEW run and empty progress.
		out.Run = TaskRun{ClusterID: t.ClusterID.String(), Type: t.Type, TaskID: t.ID.String(), ID: uuid.Nil.String(), Status: string(store.StatusNew)}
		out.Progress = tt.empty()
		writeJSON(w, http.StatusOK, out)
		return
	}
	out.Run = toRun(run)
	if len(prog) == 0 || string(prog) == "null" {
		prog = tt.empty()
	} else if tt.shape != nil {
		if prog, err = tt.shape(prog); err != nil {
			h.writeError(w, r, op, err)
			return
		}
	}
	out.Progress = prog
	writeJSON(w, http.StatusOK, out)
}
