package healthcheck

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
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
// Each ping uses a fresh connection (no keep-alive), so it measures the
// node as it is now and leaves nothing open.
func alternatorPing(ctx context.Context, dial DialFunc, ep endpoints, tlsConf *tls.Config) error {
	tr := &http.Transport{
		DialContext:       dial,
		TLSClientConfig:   tlsConf,
		DisableKeepAlives: true,
		ForceAttemptHTTP2: false,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	var req *http.Request
	var err error
	if ep.alternatorEnforceAuth {
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, ep.alternatorURL+"/", nil)
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, ep.alternatorURL+"/", bytes.NewReader([]byte(alternatorScanBody)))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-amz-json-1.0")
			req.Header.Set("X-Amz-Target", "DynamoDB_20120810.Scan")
		}
	}
	if err != nil {
		return fmt.Errorf("healthcheck: alternator request: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return &alternatorHTTPError{code: resp.StatusCode, body: string(bytes.TrimSpace(b))}
	}
	return nil
}
