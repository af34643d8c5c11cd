package agent

import (
	"bufio"
	"fmt"
	"net/http"
	"strings"
)

// serveMetrics proxies GET /metrics to the node's Prometheus endpoint.
// With ?name=<family>, only that family's samples (and its HELP/TYPE
// lines) are returned, filtered while streaming.
func (a *Agent) serveMetrics(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if name == "" {
		a.prom.ServeHTTP(w, r)
		return
	}
	u := *a.promURL
	u.Path = strings.TrimSuffix(u.Path, "/") + "/metrics"
	u.RawQuery = ""
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, u.String(), nil)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"message": err.Error(), "code": 500})
		return
	}
	resp, err := a.opts.ScyllaTransport.RoundTrip(req)
	if err != nil {
		writeJSON(w, http.StatusBadGateway, map[string]any{"message": fmt.Sprintf("agent: scylla prometheus %s: %v", u.Host, err), "code": http.StatusBadGateway})
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		writeJSON(w, http.StatusBadGateway, map[string]any{"message": fmt.Sprintf("agent: scylla prometheus %s: status %d", u.Host, resp.StatusCode), "code": http.StatusBadGateway})
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriter(w)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if metricLineOf(line, name) {
			_, _ = bw.WriteString(line)
			_ = bw.WriteByte('\n')
		}
	}
	_ = bw.Flush()
}

// metricLineOf reports whether a Prometheus text-format line belongs to
// the family name: a sample "name{...} v" / "name v", or "# HELP name" /
// "# TYPE name".
func metricLineOf(line, name string) bool {
	if rest, ok := strings.CutPrefix(line, "# HELP "); ok {
		line = rest
	} else if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
		line = rest
	} else if strings.HasPrefix(line, "#") {
		return false
	}
	rest, ok := strings.CutPrefix(line, name)
	return ok && rest != "" && (rest[0] == '{' || rest[0] == ' ')
}
