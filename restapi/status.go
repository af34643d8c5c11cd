package restapi

import (
	"net/http"
)

func (h *handler) clusterStatus(w http.ResponseWriter, r *http.Request) {
	ns, err := h.m.Healthcheck().ClusterStatus(r.Context(), r.PathValue("cluster_id"))
	if err != nil {
		h.writeError(w, r, "get cluster status", err)
		return
	}
	if ns == nil {
		ns = []NodeStatus{}
	}
	writeJSON(w, http.StatusOK, ns)
}
