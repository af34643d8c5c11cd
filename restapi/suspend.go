package restapi

import (
	"net/http"

	"github.com/scyllaops/scyllaops/store"
)

func (h *handler) getSuspended(w http.ResponseWriter, r *http.Request) {
	s, _, err := h.b.suspended(r.Context(), r.PathValue("cluster_id"))
	if err != nil {
		h.writeError(w, r, "get suspended", err)
		return
	}
	writeJSON(w, http.StatusOK, s)
}

func (h *handler) suspendDetails(w http.ResponseWriter, r *http.Request) {
	s, allow, err := h.b.suspended(r.Context(), r.PathValue("cluster_id"))
	if err != nil {
		h.writeError(w, r, "get suspend details", err)
		return
	}
	writeJSON(w, http.StatusOK, SuspendDetails{Suspended: s, AllowTaskType: allow})
}

// putSuspended suspends (body true) or resumes (body false).
func (h *handler) putSuspended(w http.ResponseWriter, r *http.Request) {
	var suspend bool
	if err := decodeJSON(r, &suspend, true); err != nil {
		h.writeError(w, r, "suspend", err)
		return
	}
	q := r.URL.Query()
	noContinue, err := queryBool(q.Get("no_continue"), "no_continue", false)
	if err != nil {
		h.writeError(w, r, "suspend", err)
		return
	}
	cluster := r.PathValue("cluster_id")
	if suspend {
		var failIfRunning bool
		switch p := q.Get("suspend_policy"); p {
		case "", "stop_running_tasks":
		case "fail_if_running_tasks":
			failIfRunning = true
		default:
			h.writeError(w, r, "suspend", badRequest(store.Invalid("suspend_policy", "stop_running_tasks or fail_if_running_tasks", p)))
			return
		}
		if err := h.b.suspend(r.Context(), cluster, q.Get("allow_task_type"), failIfRunning, noContinue); err != nil {
			h.writeError(w, r, "suspend", err)
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	start, err := queryBool(q.Get("start_tasks"), "start_tasks", false)
	if err != nil {
		h.writeError(w, r, "resume", err)
		return
	}
	missed, err := queryBool(q.Get("start_tasks_missed_activation"), "start_tasks_missed_activation", false)
	if err != nil {
		h.writeError(w, r, "resume", err)
		return
	}
	if err := h.b.resume(r.Context(), cluster, start, missed, noContinue); err != nil {
		h.writeError(w, r, "resume", err)
		return
	}
	w.WriteHeader(http.StatusOK)
}
