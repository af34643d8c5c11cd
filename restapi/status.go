package restapi

import (
	"net/http"
)

func (h *handler) clusterStatus(w http.ResponseWriter, r *http.Request) {
	ns, err := h.m.ClusterStatus(r.Context(), r.PathValue("cluster_id"))
	if err != nil {
		h.writeError(w, r, "get cluster status", err)
		return
	}
	out := make([]NodeStatus, 0, len(ns))
	for _, n := range ns {
		out = append(out, NodeStatus{
			DC: n.DC, HostID: n.HostID, Host: n.Host, Status: n.Status, SSL: n.SSL,
			AlternatorStatus: n.AlternatorStatus, AlternatorRttMs: n.AlternatorRttMs, AlternatorCause: n.AlternatorCause,
			CQLStatus: n.CQLStatus, CQLRttMs: n.CQLRttMs, CQLCause: n.CQLCause,
			RESTStatus: n.RESTStatus, RESTRttMs: n.RESTRttMs, RESTCause: n.RESTCause,
			TotalRAM: n.TotalRAM, Uptime: n.Uptime, CPUCount: n.CPUCount, ScyllaVersion: n.ScyllaVersion, AgentVersion: n.AgentVersion,
		})
	}
	writeJSON(w, http.StatusOK, out)
}
