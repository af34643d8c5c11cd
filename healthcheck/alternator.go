package healthcheck

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/google/uuid"
)

// alternatorScanBody is a DynamoDB Scan of one item of a system table that
// exists on every node.
const alternatorScanBody = `{"TableName":".scylla.alternator.system_schema.tables","Limit":1}`

// alternatorHTTPError is a non-200 answer of Alternator.
type alternatorHTTPError struct {
	code int
	body string
}

func (e *alternatorHTTPError) Error() string {
	return fmt.Sprintf("healthcheck: alternator answered HTTP %d: %s", e.code, e.body)
}

// Is makes 401/403 answers, and DynamoDB's authentication error types,
// match errUnauthorized.
func (e *alternatorHTTPError) Is(target error) bool {
	if target != errUnauthorized {
		return false
	}
	return e.code == http.StatusUnauthorized || e.code == http.StatusForbidden ||
		strings.Contains(e.body, "UnrecognizedClientException") ||
		strings.Contains(e.body, "AccessDeniedException") ||
		strings.Contains(e.body, "MissingAuthenticationToken")
}

// alternatorPing does one Alternator ping of ep: GET / when the node
// enforces authorization, else an anonymous DynamoDB Scan with Limit 1.
// It goes through the cluster's Alternator transport, which keeps one
// idle connection per node between rounds (no dial and no TLS handshake
// per round). A kept connection the node closed meanwhile (restarted,
// stopped) is replaced by a fresh one within the same request (the Scan
// is marked idempotent, so net/http retries it), so a stopped node is
// DOWN and a hung one TIMEOUT within the ping's deadline as before.
func alternatorPing(ctx context.Context, tr http.RoundTripper, ep endpoints) error {
	var req *http.Request
	var err error
	if ep.alternatorEnforceAuth {
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, ep.alternatorURL+"/", nil)
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, ep.alternatorURL+"/", bytes.NewReader([]byte(alternatorScanBody)))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-amz-json-1.0")
			req.Header.Set("X-Amz-Target", "DynamoDB_20120810.Scan")
			// Replayable on a kept connection found closed; not sent.
			req.Header["Idempotency-Key"] = nil
		}
	}
	if err != nil {
		return fmt.Errorf("healthcheck: alternator request: %w", err)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	// Read to the end (answers are small): net/http keeps a connection
	// only when its body was read to EOF.
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return &alternatorHTTPError{code: resp.StatusCode, body: string(bytes.TrimSpace(b))}
	}
	return nil
}

// altTransports are the Alternator transports of the clusters: one per
// cluster (its TLS identity is the transport's), keeping one idle
// connection per node for keptIdle.
type altTransports struct {
	mu     sync.Mutex
	m      map[uuid.UUID]*http.Transport
	closed bool
}

// get returns the transport of a cluster, creating it with c's TLS
// identity and dial.
func (a *altTransports) get(clusterID uuid.UUID, c *Cluster, dial DialFunc) *http.Transport {
	a.mu.Lock()
	defer a.mu.Unlock()
	if t, ok := a.m[clusterID]; ok {
		return t
	}
	t := &http.Transport{
		DialContext:         dial,
		TLSClientConfig:     clientTLS(c),
		ForceAttemptHTTP2:   false,
		MaxIdleConnsPerHost: 1,
		IdleConnTimeout:     keptIdle,
		DisableKeepAlives:   a.closed,
	}
	if a.m == nil {
		a.m = map[uuid.UUID]*http.Transport{}
	}
	if !a.closed {
		a.m[clusterID] = t
	}
	return t
}

// forget closes the idle connections of a cluster and drops its
// transport (the next ping makes one with the cluster's current TLS
// identity).
func (a *altTransports) forget(clusterID uuid.UUID) {
	a.mu.Lock()
	t, ok := a.m[clusterID]
	delete(a.m, clusterID)
	a.mu.Unlock()
	if ok {
		t.CloseIdleConnections()
	}
}

// close closes every idle connection; later pings keep none.
func (a *altTransports) close() {
	a.mu.Lock()
	m := a.m
	a.m, a.closed = nil, true
	a.mu.Unlock()
	for _, t := range m {
		t.CloseIdleConnections()
	}
}
