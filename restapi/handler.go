package restapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/scyllaops/scyllaops"
)

// Options tunes the handler. The zero value is valid.
type Options struct {
	// Logger receives one line per request (debug) and every 5xx
	// (error). Default: discard.
	Logger *slog.Logger
	// Version is what GET /version answers. Default: "Snapshot", as a
	// Scylla Manager build without a version does.
	Version string
	// StoreBackup, when set, serves POST /api/v1/admin/store/backup
	// (scyllaops-specific): it writes a consistent copy of the store to w,
	// e.g. (*boltstore.Store).WriteTo. Nil: that path answers 501.
	StoreBackup func(ctx context.Context, w io.Writer) (int64, error)
}

// DefaultVersion is the version reported when Options.Version is empty.
const DefaultVersion = "Snapshot"

// Validate reports the first invalid field; every value is valid today.
func (o Options) Validate() error { return nil }

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Version == "" {
		o.Version = DefaultVersion
	}
	return o
}

// APIPrefix is the path prefix of the versioned API.
const APIPrefix = "/api/v1"

type handler struct {
	m     *scyllaops.Manager
	b     backend
	opts  Options
	log   *slog.Logger
	types map[string]taskType
	mux   *http.ServeMux
}

// NewHandler returns the http.Handler of Scylla Manager's REST API over
// m: /ping, /version and everything under /api/v1. Mount it at the root
// of a server (it routes the full path).
func NewHandler(m *scyllaops.Manager, opts Options) http.Handler {
	opts = opts.withDefaults()
	h := &handler{m: m, opts: opts, log: opts.Logger.With("component", "restapi"), mux: http.NewServeMux(), b: managerBackend{m}}
	h.types = registry()
	h.routes()
	return h
}

func (h *handler) routes() {
	const c = APIPrefix + "/cluster/{cluster_id}"
	t := c + "/task/{task_type}/{task_id}"
	for _, r := range []struct {
		pattern string
		fn      http.HandlerFunc
	}{
		{"GET /ping", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }},
		{"GET /version", h.version},
		{"GET " + APIPrefix + "/version", h.version},

		{"GET " + APIPrefix + "/clusters", h.listClusters},
		{"POST " + APIPrefix + "/clusters", h.createCluster},
		{"GET " + c, h.getCluster},
		{"PUT " + c, h.updateCluster},
		{"DELETE " + c, h.deleteCluster},
		{"GET " + c + "/status", h.clusterStatus},

		{"GET " + c + "/tasks", h.listTasks},
		{"POST " + c + "/tasks", h.createTask},
		{"GET " + c + "/tasks/{task_type}/target", h.taskTarget},
		{"GET " + t, h.getTask},
		{"PUT " + t, h.updateTask},
		{"DELETE " + t, h.deleteTask},
		{"PUT " + t + "/start", h.startTask},
		{"PUT " + t + "/stop", h.stopTask},
		{"GET " + t + "/history", h.taskHistory},
		{"GET " + t + "/{run_id}", h.runProgress},

		{"GET " + c + "/backups", h.listBackups},
		{"DELETE " + c + "/backups", h.deleteBackups},
		{"GET " + c + "/backups/files", h.backupFiles},
		{"GET " + c + "/backups/schema", h.backupSchema},
		{"DELETE " + c + "/backups/local_snapshots", h.deleteLocalSnapshots},

		{"PUT " + c + "/repairs/intensity", h.putRepairIntensity},
		{"PUT " + c + "/repairs/parallel", h.putRepairParallel},

		{"GET " + c + "/suspended", h.getSuspended},
		{"PUT " + c + "/suspended", h.putSuspended},
		{"GET " + c + "/suspended/details", h.suspendDetails},

		{"POST " + StoreBackupPath, h.storeBackup}, // admin.go
	} {
		h.mux.HandleFunc(r.pattern, r.fn)
	}
	h.mux.HandleFunc("/", h.noRoute)
}

// unknownPath answers 404 for a path no route serves.
func (h *handler) unknownPath(w http.ResponseWriter, r *http.Request) {
	h.writeError(w, r, "", notFound("find endpoint for path "+r.URL.Path+" - make sure api-url is correct"))
}

type traceKey struct{}

func traceID(ctx context.Context) string {
	s, _ := ctx.Value(traceKey{}).(string)
	return s
}

// ServeHTTP assigns a trace ID, recovers from panics (a 500 with the
// error body) and routes.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	r = r.WithContext(context.WithValue(r.Context(), traceKey{}, id))
	w.Header().Set("X-Trace-Id", id)
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	start := time.Now()
	rw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	defer func() { //nolint:contextcheck // logs with the request context
		if p := recover(); p != nil {
			h.log.ErrorContext(r.Context(), "panic serving request", "method", r.Method, "path", r.URL.Path, "panic", p, "trace_id", id)
			if !rw.wrote {
				writeJSON(rw, http.StatusInternalServerError, ErrorResponse{Message: "internal error", TraceID: id})
			}
		}
		h.log.DebugContext(r.Context(), "request", "method", r.Method, "path", r.URL.Path, "status", rw.status,
			"duration", time.Since(start), "trace_id", id)
	}()
	h.mux.ServeHTTP(rw, r)
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(s int) {
	if !w.wrote {
		w.status, w.wrote = s, true
	}
	w.ResponseWriter.WriteHeader(s)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Flush lets long answers stream.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (h *handler) noRoute(w http.ResponseWriter, r *http.Request) {
	if allow := h.allowed(r); len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		h.writeError(w, r, "", &httpError{status: http.StatusMethodNotAllowed,
			message: "method " + r.Method + " not allowed on " + r.URL.Path + "; allowed: " + strings.Join(allow, ", ")})
		return
	}
	h.unknownPath(w, r)
}

// allowed returns the methods with a route for r's path (the catch-all
// aside), for a 405's Allow header; none means the path is unknown.
func (h *handler) allowed(r *http.Request) []string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, pattern := h.mux.Handler(probe); pattern != "/" && pattern != "" {
			out = append(out, m)
		}
	}
	return out
}

func (h *handler) version(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, Version{Version: h.opts.Version})
}
