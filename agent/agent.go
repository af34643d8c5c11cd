package agent

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/scyllaops/scyllaops/internal/agentapi"
)

// ErrClosed is returned (and answered as 503) after Close.
var ErrClosed = errors.New("agent: closed")

// Agent is the node agent's http.Handler. Create it with New, serve it
// (over TLS) and Close it when done.
type Agent struct {
	opts      Options
	log       *slog.Logger
	scylla    *httputil.ReverseProxy
	prom      *httputil.ReverseProxy
	scyllaURL *url.URL
	promURL   *url.URL
	started   time.Time
	closed    atomic.Bool

	statusCode *prometheus.CounterVec
	unexposed  *prometheus.CounterVec
	// Bounds of the client-controlled labels of unexposed_access and of
	// the proxied paths of http_status_code.
	unexposedAddr, unexposedPath, proxiedPath labelBound
	refused                                   *refusedLog

	rc *rcServer
}

// New returns an Agent configured by opts. It opens no connections; storage
// buckets are opened per call.
func New(opts Options) (*Agent, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	a := &Agent{opts: opts, log: opts.Logger.With("component", "agent"), started: time.Now(), refused: newRefusedLog()}
	if opts.AuthToken == "" {
		a.log.Warn("no auth_token configured: the agent API is open to anyone who can reach it")
	}
	f := promauto.With(opts.Registerer)
	a.statusCode = f.NewCounterVec(prometheus.CounterOpts{
		Namespace: "scylla_manager", Subsystem: "agent", Name: "http_status_code",
		Help: "Number of agent HTTP answers by method, path and status code.",
	}, []string{"method", "path", "code"})
	a.unexposed = f.NewCounterVec(prometheus.CounterOpts{
		Namespace: "scylla_manager", Subsystem: "agent", Name: "unexposed_access",
		Help: "Number of requests to rclone calls the agent does not expose (at most 100 distinct addr and path values each; later ones are \"other\").",
	}, []string{"addr", "path"})

	var err error
	a.scyllaURL, _ = url.Parse(opts.ScyllaAPI)
	a.scylla = a.newProxy(a.scyllaURL)
	a.promURL, _ = url.Parse(opts.ScyllaPrometheus)
	a.prom = a.newProxy(a.promURL)
	a.rc, err = newRCServer(a)
	if err != nil {
		return nil, err
	}
	return a, nil
}

func (a *Agent) newProxy(target *url.URL) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = target.Host
			pr.Out.Header.Del("Authorization")
		},
		Transport:     a.opts.ScyllaTransport,
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			a.log.Warn("proxy to scylla failed", "path", r.URL.Path, "err", err)
			writeJSON(w, http.StatusBadGateway, map[string]any{
				"message": fmt.Sprintf("agent: scylla api %s: %v", target.Host, err), "code": http.StatusBadGateway,
			})
		},
	}
}

// Close stops running jobs and waits for their goroutines. Later requests
// get 503. Close is idempotent.
func (a *Agent) Close() error {
	if !a.closed.CompareAndSwap(false, true) {
		return nil
	}
	a.rc.close()
	return nil
}

// ServeHTTP implements http.Handler.
func (a *Agent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		a.statusCode.WithLabelValues(metricMethod(r.Method), a.metricPath(r.URL.Path), strconv.Itoa(sw.statusOr200())).Inc()
	}()
	if a.closed.Load() {
		writeJSON(sw, http.StatusServiceUnavailable, agentapi.Unauthorized{Message: ErrClosed.Error(), Code: http.StatusServiceUnavailable})
		return
	}
	p := r.URL.Path
	switch {
	case p == agentapi.PathPing && r.Method == http.MethodGet:
		sw.WriteHeader(http.StatusNoContent)
		return
	case p == agentapi.PathVersion && r.Method == http.MethodGet:
		writeJSON(sw, http.StatusOK, agentapi.VersionInfo{Version: a.opts.Version})
		return
	}
	if !a.authorized(r) {
		if a.opts.AuthPenalty > 0 {
			t := time.NewTimer(a.opts.AuthPenalty)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
			}
		}
		a.refused.log(a, r)
		writeJSON(sw, http.StatusUnauthorized, agentapi.Unauthorized{Message: "unauthorized", Code: http.StatusUnauthorized})
		return
	}
	switch {
	case strings.HasPrefix(p, agentapi.PathRclone):
		start := time.Now()
		a.rc.serve(sw, r)
		a.log.Debug("rc call", "call", logPath(strings.TrimPrefix(p, agentapi.PathRclone)), "remote", r.RemoteAddr,
			"status", sw.statusOr200(), "duration", time.Since(start))
	case p == agentapi.PathNodeInfo:
		a.serveNodeInfo(sw, r)
	case p == agentapi.PathCloudMetadata && r.Method == http.MethodGet:
		writeJSON(sw, http.StatusOK, agentapi.InstanceMetadata{})
	case p == agentapi.PathFreeOSMemory && r.Method == http.MethodPost:
		debug.FreeOSMemory()
		sw.WriteHeader(http.StatusOK)
	case p == agentapi.PathPinCPU:
		a.servePinCPU(sw, r)
	case p == agentapi.PathTerminate && r.Method == http.MethodPost:
		if a.opts.OnTerminate == nil {
			writeJSON(sw, http.StatusNotImplemented, agentapi.Unauthorized{Message: "agent: terminate not supported by this embedding", Code: http.StatusNotImplemented})
			return
		}
		a.opts.OnTerminate()
		sw.WriteHeader(http.StatusOK)
	case p == agentapi.PathMetrics:
		a.serveMetrics(sw, r)
	case strings.HasPrefix(p, "/agent/"):
		writeJSON(sw, http.StatusNotFound, agentapi.Unauthorized{Message: "agent: no such endpoint " + p, Code: http.StatusNotFound})
	default:
		a.scylla.ServeHTTP(sw, r)
	}
}

func (a *Agent) servePinCPU(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		cpus := make([]int, runtime.NumCPU())
		for i := range cpus {
			cpus[i] = i
		}
		writeJSON(w, http.StatusOK, agentapi.Cpus{CPU: cpus})
	case http.MethodPost, http.MethodDelete:
		// CPU pinning is the embedding process's business; accept as a no-op.
		w.WriteHeader(http.StatusOK)
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		writeJSON(w, http.StatusMethodNotAllowed, agentapi.Unauthorized{Message: "method not allowed", Code: http.StatusMethodNotAllowed})
	}
}

// authorized reports whether r carries the configured bearer token.
func (a *Agent) authorized(r *http.Request) bool {
	if a.opts.AuthToken == "" {
		return true
	}
	h := r.Header.Get("Authorization")
	const prefix = "bearer "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		// Still compare, so the timing does not reveal which check failed.
		subtle.ConstantTimeCompare([]byte(a.opts.AuthToken), []byte(a.opts.AuthToken+"x"))
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(h[len(prefix):])), []byte(a.opts.AuthToken)) == 1
}

// metricPath bounds the path label: known agent routes as they are, other
// /agent/ paths and unknown rc calls as one value each, proxied Scylla
// paths cut to their first two segments, of which at most maxLabelValues
// distinct values are kept.
func (a *Agent) metricPath(p string) string {
	switch p {
	case agentapi.PathPing, agentapi.PathVersion, agentapi.PathMetrics, agentapi.PathNodeInfo, agentapi.PathCloudMetadata,
		agentapi.PathFreeOSMemory, agentapi.PathPinCPU, agentapi.PathTerminate:
		return p
	}
	if name, ok := strings.CutPrefix(p, agentapi.PathRclone); ok {
		if knownCall(name) {
			return p
		}
		return agentapi.PathRclone + "unknown"
	}
	if strings.HasPrefix(p, "/agent/") {
		return "/agent/unknown"
	}
	parts := strings.SplitN(strings.TrimPrefix(p, "/"), "/", 3)
	if len(parts) > 2 {
		parts = parts[:2]
	}
	v := "/" + strings.Join(parts, "/")
	if len(v) > 64 {
		v = v[:64]
	}
	return a.proxiedPath.value(v)
}

// metricMethod bounds the method label to the standard methods.
func metricMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return otherLabel
}

func remoteHost(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// statusWriter records the status code for metrics; it forwards Flush.
type statusWriter struct {
	http.ResponseWriter
	mu     sync.Mutex
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.mu.Lock()
	if w.status == 0 {
		w.status = code
	}
	w.mu.Unlock()
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.mu.Unlock()
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) statusOr200() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}
