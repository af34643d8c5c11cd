package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/store/boltstore"
)

type managerConfig struct {
	Clusters   []simCluster `json:"clusters"`
	Rounds     int          `json:"rounds"`
	CPUProfile string       `json:"cpu_profile"`
}

// runManager runs a Manager over boltstore, adds the clusters, waits for
// 1+Rounds rounds of health checks and prints a result as JSON.
func runManager(cfgJSON string) error {
	var cfg managerConfig
	if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	dir, err := os.MkdirTemp("", "scyllaops-bench-fleet-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := boltstore.Open(ctx, filepath.Join(dir, "store.db"), boltstore.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	rec := newRecorder()
	m, err := scyllaops.New(st, nil, scyllaops.Options{Logger: slog.New(rec), Registerer: prometheus.NewRegistry()})
	if err != nil {
		return err
	}
	defer m.Close()
	runDone := make(chan error, 1)
	go func() { runDone <- m.Run(ctx) }()
	nodes := 0
	for _, c := range cfg.Clusters {
		actx, acancel := context.WithTimeout(ctx, 2*time.Minute)
		_, err := m.CreateCluster(actx, scyllaops.Cluster{Name: c.Name, Host: c.Host, AuthToken: c.Token, WithoutRepair: true})
		acancel()
		if err != nil {
			return fmt.Errorf("add cluster %s: %w", c.Name, err)
		}
		nodes += c.Nodes
	}
	// The first round is the first minute that starts after every
	// cluster was added.
	first := time.Now().Truncate(time.Minute).Add(time.Minute)
	want := 3 * len(cfg.Clusters)
	res := result{Nodes: nodes}
	var cpuStart time.Duration
	var tStart time.Time
	for i := range 1 + cfg.Rounds {
		minute := first.Add(time.Duration(i) * time.Minute)
		if err := rec.waitRound(minute, want, 2*time.Minute); err != nil {
			return fmt.Errorf("round %d: %w", i+1, err)
		}
		rd := rec.round(minute)
		res.Rounds = append(res.Rounds, rd.failed)
		res.RoundSeconds = append(res.RoundSeconds, rd.longest.Seconds())
		if i == 0 {
			cpuStart, tStart = cpuTime(), time.Now()
			if cfg.CPUProfile != "" {
				f, err := os.Create(cfg.CPUProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
		}
	}
	cpu := cpuTime() - cpuStart
	mins := time.Since(tStart).Minutes()
	res.CPUPerNodeMin = float64(cpu.Milliseconds()) / float64(nodes) / mins
	res.RSSMiB, res.PeakMiB = memStatus("VmRSS"), memStatus("VmHWM")
	res.Warnings = rec.warnings()
	cancel()
	if err := <-runDone; err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// memStatus returns a /proc/self/status field in MiB.
func memStatus(field string) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}

// recorder is a slog.Handler that keeps what the health check logs: per
// round (the minute a run ended in) and mode the
// failed pings of every "health check done" record.
type recorder struct {
	mu     sync.Mutex
	cond   *sync.Cond
	rounds map[time.Time]*roundStats
	warns  int
}

type roundStats struct {
	runs    int
	failed  map[string]int
	longest time.Duration
}

func newRecorder() *recorder {
	r := &recorder{rounds: map[time.Time]*roundStats{}}
	r.cond = sync.NewCond(&r.mu)
	return r
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rec.Level >= slog.LevelWarn {
		r.warns++
		var b strings.Builder
		rec.Attrs(func(a slog.Attr) bool {
			switch a.Key {
			case "mode", "nodes", "failed", "statuses", "first_error":
				fmt.Fprintf(&b, " %s=%q", a.Key, a.Value.String())
			}
			return true
		})
		fmt.Fprintf(os.Stderr, "manager log: %s %s%s\n", rec.Level, rec.Message, b.String())
	}
	if rec.Message != "health check done" {
		return nil
	}
	var mode string
	var failed int
	rec.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "mode":
			mode = a.Value.String()
		case "failed":
			failed = int(a.Value.Int64())
		}
		return true
	})
	// A run starts on its minute and ends before the next one.
	minute := rec.Time.Truncate(time.Minute)
	rs := r.rounds[minute]
	if rs == nil {
		rs = &roundStats{failed: map[string]int{}}
		r.rounds[minute] = rs
	}
	rs.runs++
	rs.failed[mode] += failed
	rs.longest = max(rs.longest, rec.Time.Sub(minute))
	r.cond.Broadcast()
	return nil
}

func (r *recorder) waitRound(minute time.Time, runs int, limit time.Duration) error {
	deadline := time.AfterFunc(time.Until(minute)+limit, func() {
		r.mu.Lock()
		r.cond.Broadcast()
		r.mu.Unlock()
	})
	defer deadline.Stop()
	end := minute.Add(limit)
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		if rs := r.rounds[minute]; rs != nil && rs.runs >= runs {
			return nil
		}
		if time.Now().After(end) {
			got := 0
			if rs := r.rounds[minute]; rs != nil {
				got = rs.runs
			}
			return fmt.Errorf("%d of %d health-check runs of %s ended within %s", got, runs, minute.Format(time.TimeOnly), limit)
		}
		r.cond.Wait()
	}
}

func (r *recorder) round(minute time.Time) roundStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	rs := *r.rounds[minute]
	rs.failed = maps.Clone(rs.failed)
	return rs
}

func (r *recorder) warnings() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.warns
}
