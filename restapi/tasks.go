package restapi

import (
	"errors"
	"net/http"
)

var errNotWired = errors.New("not available in this build of the manager yet")

func (h *handler) notWired(w http.ResponseWriter, r *http.Request) {
	h.writeError(w, r, r.Method+" "+r.URL.Path, &httpError{status: http.StatusNotImplemented, message: "not implemented", err: errNotWired})
}

func (h *handler) listTasks(w http.ResponseWriter, r *http.Request)     { h.notWired(w, r) }
func (h *handler) createTask(w http.ResponseWriter, r *http.Request)    { h.notWired(w, r) }
func (h *handler) taskTarget(w http.ResponseWriter, r *http.Request)    { h.notWired(w, r) }
func (h *handler) getTask(w http.ResponseWriter, r *http.Request)       { h.notWired(w, r) }
func (h *handler) updateTask(w http.ResponseWriter, r *http.Request)    { h.notWired(w, r) }
func (h *handler) deleteTask(w http.ResponseWriter, r *http.Request)    { h.notWired(w, r) }
func (h *handler) startTask(w http.ResponseWriter, r *http.Request)     { h.notWired(w, r) }
func (h *handler) stopTask(w http.ResponseWriter, r *http.Request)      { h.notWired(w, r) }
func (h *handler) taskHistory(w http.ResponseWriter, r *http.Request)   { h.notWired(w, r) }
func (h *handler) runProgress(w http.ResponseWriter, r *http.Request)   { h.notWired(w, r) }
func (h *handler) listBackups(w http.ResponseWriter, r *http.Request)   { h.notWired(w, r) }
func (h *handler) deleteBackups(w http.ResponseWriter, r *http.Request) { h.notWired(w, r) }
func (h *handler) backupFiles(w http.ResponseWriter, r *http.Request)   { h.notWired(w, r) }
func (h *handler) backupSchema(w http.ResponseWriter, r *http.Request)  { h.notWired(w, r) }
func (h *handler) getSuspended(w http.ResponseWriter, r *http.Request)  { h.notWired(w, r) }
func (h *handler) putSuspended(w http.ResponseWriter, r *http.Request)  { h.notWired(w, r) }
func (h *handler) suspendDetails(w http.ResponseWriter, r *http.Request) {
	h.notWired(w, r)
}
