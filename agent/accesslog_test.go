package agent_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/scyllaops/scyllaops/agent"
)

// syncBuffer is a bytes.Buffer safe for the agent's concurrent logging.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRefusedRequestsLogged: each 401 is logged at warn with the remote
// address and path but never a token, rate-limited; each rc call is
// logged at debug.
func TestRefusedRequestsLogged(t *testing.T) {
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, _ := newAgent(t, agent.Options{AuthToken: "the-real-token", Logger: log})
	const n = 50
	for i := range n {
		w := do(a, http.MethodGet, fmt.Sprintf("/storage_service/host_id?i=%d", i), "Bearer wrong-token-xyz", "")
		if w.Code != http.StatusUnauthorized {
			t.Fatalf("wrong token: %d", w.Code)
		}
	}
	out := logs.String()
	warns := strings.Count(out, "level=WARN msg=\"refused request")
	if warns == 0 || warns >= n {
		t.Fatalf("%d refusal warnings for %d refused requests, want at least one and rate-limited:\n%s", warns, n, out)
	}
	if !strings.Contains(out, "remote=192.0.2.1:1234") || !strings.Contains(out, "path=/storage_service/host_id") {
		t.Errorf("refusal warning lacks remote address or path:\n%s", out)
	}
	if strings.Contains(out, "wrong-token-xyz") || strings.Contains(out, "the-real-token") {
		t.Fatalf("a token was logged:\n%s", out)
	}
	w := do(a, http.MethodPost, "/agent/rclone/core/transfers", "Bearer the-real-token", `{}`)
	if w.Code != http.StatusOK {
		t.Fatalf("core/transfers = %d %s", w.Code, w.Body.String())
	}
	if out := logs.String(); !strings.Contains(out, "level=DEBUG msg=\"rc call\"") || !strings.Contains(out, "call=core/transfers") || !strings.Contains(out, "status=200") {
		t.Errorf("no debug line for the rc call:\n%s", out)
	}
}

// TestUnexposedAccessLabelBounded: an authenticated client calling many
// unknown rc paths does not create unbounded series.
func TestUnexposedAccessLabelBounded(t *testing.T) {
	a, reg := newAgent(t, agent.Options{})
	for i := range 300 {
		if w := do(a, http.MethodPost, fmt.Sprintf("/agent/rclone/no/such/call%d", i), "", `{}`); w.Code != http.StatusNotFound {
			t.Fatalf("unknown call = %d", w.Code)
		}
		if w := do(a, http.MethodGet, fmt.Sprintf("/agent/nope%d", i), "", ""); w.Code != http.StatusNotFound {
			t.Fatalf("unknown agent path = %d", w.Code)
		}
		_ = do(a, http.MethodGet, fmt.Sprintf("/x%d/y", i), "", "")
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	var total float64
	for _, mf := range mfs {
		counts[mf.GetName()] = len(mf.GetMetric())
		if mf.GetName() == "scylla_manager_agent_unexposed_access" {
			for _, m := range mf.GetMetric() {
				total += m.GetCounter().GetValue()
			}
		}
	}
	if c := counts["scylla_manager_agent_unexposed_access"]; c == 0 || c > 101 || total != 300 {
		t.Errorf("unexposed_access: %d series counting %v requests, want 1..101 series counting 300", c, total)
	}
	if c := counts["scylla_manager_agent_http_status_code"]; c > 110 {
		t.Errorf("http_status_code: %d series, want bounded", c)
	}
}
