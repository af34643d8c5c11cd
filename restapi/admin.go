package restapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// StoreBackupPath is the scyllaops-specific endpoint (outside Scylla
// Manager's API) answering a consistent copy of the embedded store file:
// POST streams it as application/octet-stream while the server keeps
// running. See Options.StoreBackup.
const StoreBackupPath = APIPrefix + "/admin/store/backup"

// storeBackup streams the store copy. The status line is sent before the
// copy: a failure midway shows as a body shorter than the
// X-Scyllaops-Store-Size trailer announces (the client checks it).
func (h *handler) storeBackup(w http.ResponseWriter, r *http.Request) {
	if h.opts.StoreBackup == nil {
		h.writeError(w, r, "store backup", &httpError{status: http.StatusNotImplemented,
			message: "this server's store is not an embedded file (a CQL database store is backed up with the database's own tools)"})
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="state.db"`)
	w.Header().Set("Trailer", storeSizeTrailer)
	n, err := h.opts.StoreBackup(r.Context(), w)
	if err != nil {
		h.log.ErrorContext(r.Context(), "store backup failed", "bytes", n, "err", err, "trace_id", traceID(r.Context()))
		w.Header().Set(storeSizeTrailer, "-1")
		return
	}
	w.Header().Set(storeSizeTrailer, fmt.Sprint(n))
	h.log.InfoContext(r.Context(), "store backup sent", "bytes", n)
}

const storeSizeTrailer = "X-Scyllaops-Store-Size"

// BackupStore writes a consistent copy of the server's embedded store
// (state.db) to w, made while the server runs (POST StoreBackupPath). It
// returns the bytes written; an incomplete copy is an error.
func (c *Client) BackupStore(ctx context.Context, w io.Writer) (int64, error) {
	u := c.root(StoreBackupPath)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return 0, fmt.Errorf("restapi: %w", err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("restapi: POST %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return 0, errorAnswer(resp.StatusCode, b)
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("restapi: store backup: %w", err)
	}
	if want := resp.Trailer.Get(storeSizeTrailer); want != fmt.Sprint(n) {
		return n, fmt.Errorf("restapi: store backup incomplete: got %d bytes, the server says %q (see its log)", n, want)
	}
	return n, nil
}
