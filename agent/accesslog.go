package agent

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Refused-request logging: at most authLogBurst warnings at once, then one
// per authLogEvery; the skipped ones are counted in the next warning.
const (
	authLogEvery = time.Second
	authLogBurst = 5
	// maxLogPath caps the path written to a log line.
	maxLogPath = 256
	// maxLabelValues caps the distinct values of a client-controlled
	// metric label (unexposed_access{addr,path}); later values share the
	// label value otherLabel.
	maxLabelValues = 100
	otherLabel     = "other"
)

// refusedLog logs 401 answers at warn, rate-limited.
type refusedLog struct {
	lim        *rate.Limiter
	suppressed atomic.Int64
}

func newRefusedLog() *refusedLog {
	return &refusedLog{lim: rate.NewLimiter(rate.Every(authLogEvery), authLogBurst)}
}

// log writes one warning for the refused request r (remote address, method
// and path; never headers, so never the token) unless the rate limit is
// exhausted, in which case the request is only counted.
func (l *refusedLog) log(a *Agent, r *http.Request) {
	if !l.lim.Allow() {
		l.suppressed.Add(1)
		return
	}
	a.log.Warn("refused request: missing or wrong auth token",
		"remote", r.RemoteAddr, "method", r.Method, "path", logPath(r.URL.Path),
		"suppressed_since_last", l.suppressed.Swap(0))
}

func logPath(p string) string {
	if len(p) > maxLogPath {
		return p[:maxLogPath] + "…"
	}
	return p
}

// labelBound keeps a metric label's distinct values bounded: the first
// maxLabelValues values are kept as they are, later ones become
// otherLabel.
type labelBound struct {
	mu   sync.Mutex
	seen map[string]struct{}
}

func (b *labelBound) value(v string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.seen[v]; ok {
		return v
	}
	if len(b.seen) >= maxLabelValues {
		return otherLabel
	}
	if b.seen == nil {
		b.seen = map[string]struct{}{}
	}
	b.seen[v] = struct{}{}
	return v
}
