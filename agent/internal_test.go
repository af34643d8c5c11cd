package agent

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	for in, want := range map[string]int64{
		"": 0, "off": 0, "0": 0, "100M": 100 << 20, "512k": 512 << 10, "1.5G": 3 << 29, "10": 10 << 10, "2048B": 2048, "1T": 1 << 40,
	} {
		got, err := parseRate(in)
		if err != nil || got != want {
			t.Errorf("parseRate(%q) = %d, %v; want %d", in, got, err, want)
		}
		if want > 0 {
			back, _ := parseRate(formatRate(want))
			if back != want {
				t.Errorf("formatRate(%d) = %q does not parse back", want, formatRate(want))
			}
		}
	}
	for _, bad := range []string{"fast", "-1M", "1M:2M", "10M,off", "NaNk", "1e300G"} {
		if _, err := parseRate(bad); err == nil {
			t.Errorf("parseRate(%q) accepted", bad)
		}
	}
}

func TestMetricLineOf(t *testing.T) {
	const n = "scylla_database_total_writes"
	for line, want := range map[string]bool{
		"# HELP " + n + " total":             true,
		"# TYPE " + n + " counter":           true,
		n + `{shard="0"} 1`:                  true,
		n + " 5":                             true,
		n + "_x 5":                           false,
		"# HELP " + n + "_x other":           false,
		"scylla_other 1":                     false,
		"# comment " + n:                     false,
		n:                                    false,
		"scylla_database_total_write{a=1} 1": false,
	} {
		if got := metricLineOf(line, n); got != want {
			t.Errorf("metricLineOf(%q) = %v, want %v", line, got, want)
		}
	}
}

func TestIsVersioned(t *testing.T) {
	for name, want := range map[string]bool{
		"mc-5-big-Data.db.sm_20250101000000UTC": true,
		"mc-5-big-Data.db":                      false,
		"mc-5-big-Data.db.sm_2025010100000UTC":  false,
		"mc-5-big-Data.db.sm_2025010100000xUTC": false,
		".sm_20250101000000UTC":                 true,
		"x.sm_20250101000000UTCx":               false,
	} {
		if got := isVersioned(name); got != want {
			t.Errorf("isVersioned(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestJobsExpireAndClose: finished jobs disappear after the TTL; close
// cancels running jobs with ErrClosed and waits for them.
func TestJobsExpireAndClose(t *testing.T) {
	js := newJobs(time.Nanosecond)
	j, err := js.start(t.Context(), "", func(context.Context, *job) (any, error) { return nil, nil })
	if err != nil {
		t.Fatal(err)
	}
	<-j.done
	time.Sleep(time.Millisecond) // let the nanosecond TTL pass
	if js.get(j.id) != nil {
		t.Fatal("finished job outlived its TTL")
	}

	js = newJobs(time.Hour)
	started := make(chan struct{})
	j, err = js.start(t.Context(), "", func(ctx context.Context, _ *job) (any, error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	if p := js.get(j.id).progress(); p.Status != "running" {
		t.Fatalf("progress = %+v", p)
	}
	js.close()
	p := j.progress()
	if p.Status != "error" || p.Error != ErrClosed.Error() {
		t.Fatalf("after close: %+v; want error %q", p, ErrClosed)
	}
	if _, err := js.start(t.Context(), "", func(context.Context, *job) (any, error) { return nil, nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("start after close = %v", err)
	}
}

// TestJobsJoinSameWork: a second start of the same work while the first
// runs returns the running job (no second job racing for the same files);
// once it ended, the same work starts a new job; other work never joins.
func TestJobsJoinSameWork(t *testing.T) {
	js := newJobs(time.Hour)
	t.Cleanup(js.close)
	release := make(chan struct{})
	runs := 0
	fn := func(ctx context.Context, _ *job) (any, error) {
		runs++
		<-release
		return nil, nil
	}
	a, err := js.start(t.Context(), "move ks/t1", fn)
	if err != nil {
		t.Fatal(err)
	}
	b, err := js.start(t.Context(), "move ks/t1", fn)
	if err != nil {
		t.Fatal(err)
	}
	if b.id != a.id {
		t.Fatalf("same work while running: job %d, want the running %d", b.id, a.id)
	}
	other, err := js.start(t.Context(), "move ks/t2", func(context.Context, *job) (any, error) { return nil, nil })
	if err != nil {
		t.Fatal(err)
	}
	if other.id == a.id {
		t.Fatal("other work joined a running job")
	}
	close(release)
	<-a.done
	c, err := js.start(t.Context(), "move ks/t1", func(context.Context, *job) (any, error) { return nil, nil })
	if err != nil {
		t.Fatal(err)
	}
	if c.id == a.id {
		t.Fatal("finished job was joined")
	}
	<-c.done
	if runs != 1 {
		t.Fatalf("the joined work ran %d times, want 1", runs)
	}
}
