package restapi

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/scyllaops/scyllaops/repair"
	"github.com/scyllaops/scyllaops/store"
)

// repairType: repair has a dry-run target (RepairTarget) and a
// RepairProgress object as progress (passed through: the service writes
// Scylla Manager's shape, plus "waiting").
func repairType() taskType {
	return taskType{name: "repair", target: true,
		emptyProgress: `{"success_percentage":0,"error_percentage":0,"token_ranges":0,"success":0,"error":0,"duration_ms":0,"dcs":[],"intensity":0,"max_intensity":0,"parallel":0,"max_parallel":0,"hosts":[],"tables":[]}`}
}

// putRepairIntensity changes the intensity of the cluster's running
// repair: PUT /cluster/{id}/repairs/intensity?intensity=F.
func (h *handler) putRepairIntensity(w http.ResponseWriter, r *http.Request) {
	const op = "set repair intensity"
	s := r.URL.Query().Get("intensity")
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 {
		h.writeError(w, r, op, badRequest(store.Invalid("intensity", "a number >= 0 (0 = max), e.g. ?intensity=2", s)))
		return
	}
	if err := h.b.setRepairIntensity(r.Context(), r.PathValue("cluster_id"), v); err != nil {
		h.writeError(w, r, op, repairErr(err))
		return
	}
	w.WriteHeader(http.StatusOK)
}

// putRepairParallel changes the parallel of the cluster's running repair:
// PUT /cluster/{id}/repairs/parallel?parallel=N.
func (h *handler) putRepairParallel(w http.ResponseWriter, r *http.Request) {
	const op = "set repair parallel"
	s := r.URL.Query().Get("parallel")
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 {
		h.writeError(w, r, op, badRequest(store.Invalid("parallel", "an integer >= 0 (0 = max), e.g. ?parallel=2", s)))
		return
	}
	if err := h.b.setRepairParallel(r.Context(), r.PathValue("cluster_id"), v); err != nil {
		h.writeError(w, r, op, repairErr(err))
		return
	}
	w.WriteHeader(http.StatusOK)
}

// repairErr maps "no repair running" to 404.
func repairErr(err error) error {
	if errors.Is(err, repair.ErrNotRunning) {
		return &httpError{status: http.StatusNotFound, message: "no repair is running", err: err}
	}
	return err
}
