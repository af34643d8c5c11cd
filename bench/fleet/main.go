package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// roleEnv selects the child role ("sim" or "manager"); its value is the
// role's JSON configuration prefixed by the role and a colon.
const roleEnv = "SCYLLAOPS_BENCH_FLEET_ROLE"

func main() {
	if v := os.Getenv(roleEnv); v != "" {
		role, cfg, _ := strings.Cut(v, ":")
		var err error
		switch role {
		case "sim":
			err = runSim(cfg)
		case "manager":
			err = runManager(cfg)
		default:
			err = fmt.Errorf("unknown role %q", role)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench/fleet %s: %v\n", role, err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/fleet:", err)
		os.Exit(1)
	}
}

type config struct {
	sizes      []int
	rounds     int
	perCluster int
	cpuProfile string
}

func parseFlags() (config, error) {
	var c config
	var sizes string
	flag.StringVar(&sizes, "nodes", "500,1000,2000", "comma-separated fleet sizes (nodes in all)")
	flag.IntVar(&c.rounds, "rounds", 3, "rounds measured after the first (one per minute; medians need >= 3)")
	flag.IntVar(&c.perCluster, "per-cluster", 250, "nodes per simulated cluster (1..250, the Listen mode limit)")
	flag.StringVar(&c.cpuProfile, "cpuprofile", "", "write the Manager's CPU profile of the later rounds to this file (of the last size)")
	flag.Parse()
	for s := range strings.SplitSeq(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return c, fmt.Errorf("-nodes: want comma-separated counts >= 1, e.g. 500,1000, got %q", sizes)
		}
		c.sizes = append(c.sizes, n)
	}
	if c.rounds < 1 {
		return c, fmt.Errorf("-rounds: want a count >= 1, got %d", c.rounds)
	}
	if c.perCluster < 1 || c.perCluster > 250 {
		return c, fmt.Errorf("-per-cluster: want 1..250, got %d", c.perCluster)
	}
	return c, nil
}

func run() error {
	cfg, err := parseFlags()
	if err != nil {
		return err
	}
	fmt.Printf("health checks at fleet scale: %d measured rounds after the first, clusters of <= %d nodes\n", cfg.rounds, cfg.perCluster)
	var results []result
	for _, n := range cfg.sizes {
		r, err := runSize(cfg, n)
		if err != nil {
			return fmt.Errorf("%d nodes: %w", n, err)
		}
		results = append(results, r)
		printResult(r)
	}
	fmt.Println()
	fmt.Println("| nodes | false down, first round (cql/rest/alternator) | false down per later round, median (cql/rest/alternator) | RSS end / peak MiB | CPU ms per node per minute |")
	fmt.Println("|---|---|---|---|---|")
	for _, r := range results {
		fmt.Printf("| %d | %s | %s | %.0f / %.0f | %.2f |\n", r.Nodes, r.first(), r.laterMedian(), r.RSSMiB, r.PeakMiB, r.CPUPerNodeMin)
	}
	return nil
}

// runSize starts the simulator and then the Manager for n nodes.
func runSize(cfg config, n int) (result, error) {
	exe, err := os.Executable()
	if err != nil {
		return result{}, err
	}
	dataDir, err := os.MkdirTemp("", "scyllaops-bench-fleet-sim-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dataDir)
	simCfg, _ := json.Marshal(simConfig{Nodes: n, PerCluster: cfg.perCluster, DataDir: dataDir})
	sim := exec.Command(exe)
	sim.Env = append(os.Environ(), roleEnv+"=sim:"+string(simCfg))
	sim.Stderr = os.Stderr
	simIn, err := sim.StdinPipe()
	if err != nil {
		return result{}, err
	}
	simOut, err := sim.StdoutPipe()
	if err != nil {
		return result{}, err
	}
	start := time.Now()
	if err := sim.Start(); err != nil {
		return result{}, fmt.Errorf("start simulator: %w", err)
	}
	defer func() {
		simIn.Close() // the simulator stops when its stdin closes
		_ = sim.Wait()
	}()
	var clusters []simCluster
	sc := bufio.NewScanner(simOut)
	for sc.Scan() {
		line := sc.Text()
		if line == "READY" {
			break
		}
		var c simCluster
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			return result{}, fmt.Errorf("simulator said %q: %w", line, err)
		}
		clusters = append(clusters, c)
	}
	if len(clusters) == 0 {
		return result{}, errors.New("simulator started no cluster")
	}
	go func() { _, _ = io.Copy(io.Discard, simOut) }()
	fmt.Printf("%d nodes: %d simulated clusters up in %s\n", n, len(clusters), time.Since(start).Round(time.Millisecond))

	mgrCfg, _ := json.Marshal(managerConfig{Clusters: clusters, Rounds: cfg.rounds, CPUProfile: cfg.cpuProfile})
	mgr := exec.Command(exe)
	mgr.Env = append(os.Environ(), roleEnv+"=manager:"+string(mgrCfg))
	mgr.Stderr = os.Stderr
	out, err := mgr.Output()
	if err != nil {
		return result{}, fmt.Errorf("manager: %w", err)
	}
	var r result
	if err := json.Unmarshal(out, &r); err != nil {
		return result{}, fmt.Errorf("manager said %q: %w", out, err)
	}
	return r, nil
}

// result is what the Manager child reports.
type result struct {
	Nodes int `json:"nodes"`
	// Rounds are per round (first one first) the failed pings per mode.
	Rounds []map[string]int `json:"rounds"`
	// Warnings counts log records at Warn or above during the rounds.
	Warnings      int       `json:"warnings"`
	RSSMiB        float64   `json:"rss_mib"`
	PeakMiB       float64   `json:"peak_mib"`
	CPUPerNodeMin float64   `json:"cpu_ms_per_node_min"`
	RoundSeconds  []float64 `json:"round_seconds"`
}

var modes = []string{"cql", "rest", "alternator"}

func (r result) first() string {
	var parts []string
	for _, m := range modes {
		parts = append(parts, strconv.Itoa(r.Rounds[0][m]))
	}
	return strings.Join(parts, " / ")
}

func (r result) laterMedian() string {
	var parts []string
	for _, m := range modes {
		var v []int
		for _, rd := range r.Rounds[1:] {
			v = append(v, rd[m])
		}
		parts = append(parts, fmt.Sprint(median(v)))
	}
	return strings.Join(parts, " / ")
}

func median(v []int) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return float64(v[len(v)/2])
	}
	return float64(v[len(v)/2-1]+v[len(v)/2]) / 2
}

func printResult(r result) {
	fmt.Printf("%d nodes:\n", r.Nodes)
	for i, rd := range r.Rounds {
		fmt.Printf("  round %d: false down cql %d, rest %d, alternator %d (longest run %.1fs)\n",
			i+1, rd["cql"], rd["rest"], rd["alternator"], r.RoundSeconds[i])
	}
	fmt.Printf("  warnings logged: %d\n", r.Warnings)
	fmt.Printf("  manager RSS at end %.0f MiB, peak %.0f MiB\n", r.RSSMiB, r.PeakMiB)
	fmt.Printf("  manager CPU over the later rounds: %.2f ms per node per minute\n", r.CPUPerNodeMin)
}
