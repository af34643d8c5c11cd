package restapi

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/store"
)

func toCluster(c scyllaops.Cluster) Cluster {
	return Cluster{
		ID: c.ID.String(), Name: c.Name, Host: c.Host, Port: int64(c.Port), AuthToken: c.AuthToken,
		Username: c.Username, Password: c.Password,
		AlternatorAccessKeyID: c.AlternatorAccessKeyID, AlternatorSecretAccessKey: c.AlternatorSecretAccessKey,
		Labels: c.Labels, ForceTLSDisabled: c.ForceTLSDisabled, ForceNonSSLSessionPort: c.ForceNonSSLSessionPort,
	}
}

func fromCluster(c Cluster) (scyllaops.Cluster, error) {
	out := scyllaops.Cluster{
		Name: c.Name, Host: c.Host, Port: int(c.Port), AuthToken: c.AuthToken,
		Username: c.Username, Password: c.Password,
		AlternatorAccessKeyID: c.AlternatorAccessKeyID, AlternatorSecretAccessKey: c.AlternatorSecretAccessKey,
		Labels: c.Labels, SSLUserCertFile: c.SSLUserCertFile, SSLUserKeyFile: c.SSLUserKeyFile,
		WithoutRepair: c.WithoutRepair, ForceTLSDisabled: c.ForceTLSDisabled, ForceNonSSLSessionPort: c.ForceNonSSLSessionPort,
	}
	if c.ID != "" {
		id, err := uuid.Parse(c.ID)
		if err != nil {
			return out, store.Invalid("cluster.id", "a UUID, e.g. \"0f3e5a9c-7c6e-4f39-9f0e-3c1b2a4d5e6f\", or empty", c.ID)
		}
		out.ID = id
	}
	if c.Port < 0 || c.Port > 65535 {
		return out, store.Invalid("cluster.port", "the agent port 1-65535, e.g. 10001", strconv.FormatInt(c.Port, 10))
	}
	return out, nil
}

func (h *handler) listClusters(w http.ResponseWriter, r *http.Request) {
	cs, err := h.m.ListClusters(r.Context())
	if err != nil {
		h.writeError(w, r, "list clusters", err)
		return
	}
	out := make([]Cluster, 0, len(cs))
	for _, c := range cs {
		out = append(out, toCluster(c))
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) createCluster(w http.ResponseWriter, r *http.Request) {
	var in Cluster
	if err := decodeJSON(r, &in, true); err != nil {
		h.writeError(w, r, "create cluster", err)
		return
	}
	c, err := fromCluster(in)
	if err != nil {
		h.writeError(w, r, "create cluster", err)
		return
	}
	created, err := h.m.CreateCluster(r.Context(), c)
	if err != nil {
		h.writeError(w, r, "create cluster", err)
		return
	}
	w.Header().Set("Location", APIPrefix+"/cluster/"+created.ID.String())
	w.WriteHeader(http.StatusCreated)
}

func (h *handler) getCluster(w http.ResponseWriter, r *http.Request) {
	c, err := h.m.GetCluster(r.Context(), r.PathValue("cluster_id"))
	if err != nil {
		h.writeError(w, r, "get cluster", err)
		return
	}
	writeJSON(w, http.StatusOK, toCluster(c))
}

func (h *handler) updateCluster(w http.ResponseWriter, r *http.Request) {
	var in Cluster
	if err := decodeJSON(r, &in, true); err != nil {
		h.writeError(w, r, "update cluster", err)
		return
	}
	c, err := fromCluster(in)
	if err != nil {
		h.writeError(w, r, "update cluster", err)
		return
	}
	// scyllaops: ?accept_new_agent_keys=true pins the keys the agents
	// present now (after a node's key was replaced on purpose).
	if c.AcceptNewAgentKeys, err = queryBool(r.URL.Query().Get("accept_new_agent_keys"), "accept_new_agent_keys", false); err != nil {
		h.writeError(w, r, "update cluster", err)
		return
	}
	updated, err := h.m.UpdateCluster(r.Context(), r.PathValue("cluster_id"), c)
	if err != nil {
		h.writeError(w, r, "update cluster", err)
		return
	}
	writeJSON(w, http.StatusOK, toCluster(updated))
}

func (h *handler) deleteCluster(w http.ResponseWriter, r *http.Request) {
	var what scyllaops.DeleteWhat
	var err error
	q := r.URL.Query()
	for name, dst := range map[string]*bool{"cql_creds": &what.CQLCreds, "alternator_creds": &what.AlternatorCreds, "ssl_user_cert": &what.SSLUserCert} {
		if *dst, err = queryBool(q.Get(name), name, false); err != nil {
			h.writeError(w, r, "delete cluster", err)
			return
		}
	}
	if err := h.m.DeleteCluster(r.Context(), r.PathValue("cluster_id"), what); err != nil {
		h.writeError(w, r, "delete cluster", err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// queryBool parses a boolean query parameter; empty gives def.
func queryBool(v, name string, def bool) (bool, error) {
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequest(store.Invalid(name, "true or false", v))
	}
	return b, nil
}

// queryInt parses an integer query parameter; empty gives def.
func queryInt(v, name string, def int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, badRequest(store.Invalid(name, "an integer, e.g. 10", v))
	}
	return n, nil
}

var _ = errors.New
