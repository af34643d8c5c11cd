package restapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
)

// csv splits comma-separated values; repeated parameters are joined
// (go-swagger clients send CSV, others repeat the parameter).
func csv(vs ...string) []string {
	var out []string
	for _, s := range vs {
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// parseBackupQuery reads the query of the backup endpoints.
func parseBackupQuery(r *http.Request) (backupQuery, error) {
	q := r.URL.Query()
	b := backupQuery{locations: csv(q["locations"]...), keyspace: csv(q["keyspace"]...), snapshotTag: q.Get("snapshot_tag"),
		queryCluster: strings.TrimSpace(q.Get("query_cluster_id"))}
	if l := q.Get("location"); l != "" {
		b.locations = append(b.locations, l)
	}
	if v := q.Get("query_task_id"); v != "" {
		id, err := uuid.Parse(v)
		if err != nil {
			return b, badRequest(store.Invalid("query_task_id", "a UUID", v))
		}
		b.queryTaskID = id
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"min_date", &b.minDate}, {"max_date", &b.maxDate}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return b, badRequest(store.Invalid(p.name, "an RFC3339 time, e.g. 2024-01-02T15:04:05Z", v))
			}
			*p.dst = t.UTC()
		}
	}
	return b, nil
}

func (h *handler) listBackups(w http.ResponseWriter, r *http.Request) {
	const op = "list backups"
	q, err := parseBackupQuery(r)
	if err != nil {
		h.writeError(w, r, op, err)
		return
	}
	out, err := h.b.listBackups(r.Context(), r.PathValue("cluster_id"), q)
	if err != nil {
		h.writeError(w, r, op, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) backupFiles(w http.ResponseWriter, r *http.Request) {
	const op = "list backup files"
	q, err := parseBackupQuery(r)
	if err == nil && q.snapshotTag == "" {
		err = badRequest(store.Invalid("snapshot_tag", "a snapshot tag sm_YYYYMMDDhhmmssUTC, as backup list shows", ""))
	}
	if err != nil {
		h.writeError(w, r, op, err)
		return
	}
	out, err := h.b.backupFiles(r.Context(), r.PathValue("cluster_id"), q)
	if err != nil {
		h.writeError(w, r, op, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) backupSchema(w http.ResponseWriter, r *http.Request) {
	const op = "get backup schema"
	q, err := parseBackupQuery(r)
	switch {
	case err != nil:
	case q.snapshotTag == "":
		err = badRequest(store.Invalid("snapshot_tag", "a snapshot tag sm_YYYYMMDDhhmmssUTC, as backup list shows", ""))
	case r.URL.Query().Get("location") == "":
		err = badRequest(store.Invalid("location", "the backup location [dc:]provider:bucket, e.g. s3:my-bucket", ""))
	}
	if err != nil {
		h.writeError(w, r, op, err)
		return
	}
	out, err := h.b.backupSchema(r.Context(), r.PathValue("cluster_id"), q)
	if err != nil {
		h.writeError(w, r, op, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) deleteBackups(w http.ResponseWriter, r *http.Request) {
	const op = "delete snapshots"
	q := r.URL.Query()
	tags := csv(q["snapshot_tags"]...)
	if len(tags) == 0 {
		h.writeError(w, r, op, badRequest(store.Invalid("snapshot_tags", "a comma-separated list of snapshot tags sm_YYYYMMDDhhmmssUTC", "")))
		return
	}
	if err := h.b.deleteSnapshots(r.Context(), r.PathValue("cluster_id"), csv(q["locations"]...), tags); err != nil {
		h.writeError(w, r, op, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// deleteLocalSnapshots serves DELETE backups/local_snapshots: every sm_*
// snapshot on the cluster's nodes is deleted; 200 with no body.
func (h *handler) deleteLocalSnapshots(w http.ResponseWriter, r *http.Request) {
	const op = "delete local snapshots"
	if err := h.b.deleteLocalSnapshots(r.Context(), r.PathValue("cluster_id")); err != nil {
		h.writeError(w, r, op, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}
