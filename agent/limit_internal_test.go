package agent

import (
	"testing"
	"time"
)

// A job's limiter starts empty: its first bytes wait for the rate like
// the rest (a full bucket let every small job through at once).
func TestNewLimiterStartsEmpty(t *testing.T) {
	l := newLimiter(1 << 20)
	if tok := l.TokensAt(time.Now()); tok > 1<<10 {
		t.Errorf("new 1 MiB/s limiter holds %.0f tokens, want about 0", tok)
	}
	if r := l.ReserveN(time.Now(), 1<<19); r.Delay() < 400*time.Millisecond {
		t.Errorf("512 KiB from a new 1 MiB/s limiter wait %s, want about 500ms", r.Delay())
	}
	if u := newLimiter(0); !u.AllowN(time.Now(), maxBurst) {
		t.Error("an unlimited limiter refuses a burst")
	}
}
