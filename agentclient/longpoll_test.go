package agentclient_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/scyllaops/scyllaops/agentclient"
)

// A long poll answers as soon as its job ends, not when its wait is over:
// the backup's upload waits with a 10s long poll per job, and a job that
// ends early must not cost the rest of those 10s.
func TestJobProgressLongPollReturnsWhenJobEnds(t *testing.T) {
	const longWait = 30 * time.Second
	forEachTransport(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		e.writeLocal(t, "ks/t/snapshots/fast/a-Data.db", []byte("small"))
		id, err := e.c.CopyDir(ctx, e.host, agentclient.SyncOptions{SrcFs: "data:", SrcRemote: "ks/t/snapshots/fast", DstFs: "s3:backups", DstRemote: "fast"})
		if err != nil {
			t.Fatal(err)
		}
		begin := time.Now()
		pr, err := e.c.JobProgress(ctx, e.host, id, longWait)
		if err != nil {
			t.Fatal(err)
		}
		if pr.Status != agentclient.JobSuccess || time.Since(begin) > longWait/3 {
			t.Fatalf("long poll of a finishing job = %+v after %s; want success well before %s", pr, time.Since(begin), longWait)
		}

		// A job that ends while the poll waits (here: stopped) wakes it.
		e.writeLocal(t, "ks/t/snapshots/slow/big-Data.db", bytes.Repeat([]byte("z"), 1<<20))
		id, err = e.c.CopyDir(ctx, e.host, agentclient.SyncOptions{SrcFs: "data:", SrcRemote: "ks/t/snapshots/slow", DstFs: "s3:backups", DstRemote: "slow", BandwidthRate: "16k"})
		if err != nil {
			t.Fatal(err)
		}
		stopped := make(chan error, 1)
		go func() {
			select {
			case <-time.After(200 * time.Millisecond):
				stopped <- e.c.JobStop(ctx, e.host, id)
			case <-ctx.Done():
				stopped <- ctx.Err()
			}
		}()
		begin = time.Now()
		pr, err = e.c.JobProgress(ctx, e.host, id, longWait)
		if err != nil {
			t.Fatal(err)
		}
		if err := <-stopped; err != nil {
			t.Fatalf("JobStop: %v", err)
		}
		if pr.Status != agentclient.JobError || !strings.Contains(pr.Error, "stopped") || time.Since(begin) > longWait/3 {
			t.Fatalf("long poll of a job stopped after 200ms = %+v after %s; want the stop well before %s", pr, time.Since(begin), longWait)
		}
	})
}
