package agent

import (
	"context"
	"io"
	"math"
	"time"

	"golang.org/x/time/rate"
)

// maxBurst caps the limiter's burst (and so the size of one rate-limited
// read).
const maxBurst = 1 << 20

// newLimiter returns a limiter of bps bytes per second (0 = unlimited)
// whose bucket starts empty: a job's first burst is not free, so a job
// of less than a burst does not escape the limit.
func newLimiter(bps int64) *rate.Limiter {
	l := rate.NewLimiter(rate.Inf, maxBurst)
	setLimit(l, bps)
	if bps > 0 {
		l.ReserveN(time.Now(), l.Burst())
	}
	return l
}

// setLimit sets l to bps bytes per second; 0 = unlimited.
func setLimit(l *rate.Limiter, bps int64) {
	if bps <= 0 {
		l.SetLimit(rate.Inf)
		l.SetBurst(maxBurst)
		return
	}
	l.SetLimit(rate.Limit(bps))
	l.SetBurst(int(min(max(bps, 1), maxBurst)))
}

func limitOf(l *rate.Limiter) int64 {
	lim := l.Limit()
	if lim == rate.Inf || lim <= 0 {
		return 0
	}
	return int64(math.Round(float64(lim)))
}

// meteredReader rate-limits reads with lim and counts bytes into the
// counters. Reads are cut to the limiter's burst so WaitN never fails on
// size.
type meteredReader struct {
	ctx    context.Context //nolint:containedctx // scoped to one transfer
	r      io.Reader
	lim    *rate.Limiter
	counts []interface{ Add(int64) int64 }
}

func (m *meteredReader) Read(p []byte) (int, error) {
	limited := m.lim != nil && m.lim.Limit() != rate.Inf
	if limited {
		if b := m.lim.Burst(); len(p) > b {
			p = p[:b]
		}
	}
	n, err := m.r.Read(p)
	if n > 0 {
		for _, c := range m.counts {
			c.Add(int64(n))
		}
		for left := n; limited && left > 0; {
			c := min(left, max(m.lim.Burst(), 1))
			if werr := m.lim.WaitN(m.ctx, c); werr != nil {
				if err == nil {
					err = werr
				}
				break
			}
			left -= c
		}
	}
	return n, err
}
