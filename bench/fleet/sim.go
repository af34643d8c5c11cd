package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/scyllaops/scyllaops/scyllatest"
)

type simConfig struct {
	Nodes      int    `json:"nodes"`
	PerCluster int    `json:"per_cluster"`
	DataDir    string `json:"data_dir"`
}

// simCluster is one simulated cluster as the Manager adds it.
type simCluster struct {
	Name  string `json:"name"`
	Host  string `json:"host"`
	Token string `json:"token"`
	Nodes int    `json:"nodes"`
}

// runSim starts the clusters in Listen mode, prints one JSON simCluster
// per line and then READY, and serves until stdin closes.
func runSim(cfgJSON string) (err error) {
	var cfg simConfig
	if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	var clusters []*scyllatest.Cluster
	defer func() {
		// Closing thousands of nodes can wait long on connections the
		// Manager left open; the parent removes DataDir anyway.
		done := make(chan error, 1)
		go func() {
			var errs error
			for _, c := range clusters {
				errs = errors.Join(errs, c.Close())
			}
			done <- errs
		}()
		select {
		case cerr := <-done:
			err = errors.Join(err, cerr)
		case <-time.After(20 * time.Second):
		}
	}()
	enc := json.NewEncoder(os.Stdout)
	for i, left := 0, cfg.Nodes; left > 0; i++ {
		n := min(left, cfg.PerCluster)
		left -= n
		c, err := scyllatest.Start(scyllatest.Options{
			Topology:  []scyllatest.DC{{Name: "dc1", Racks: []scyllatest.Rack{{Name: "rack1", Nodes: n}}}},
			Keyspaces: []scyllatest.Keyspace{},
			Seed:      uint64(i + 1),
			DataDir:   filepath.Join(cfg.DataDir, fmt.Sprint(i+1)),
			Listen:    true,
			// Half the sockets per node: 2,000 nodes fit the open-files
			// limit (20,000 here; the agents' TCP hop to their Scylla
			// REST API took ~6,000 of the ~19,400 sockets at 2,000 nodes).
			ListenAgentToScyllaInProcess: true,
		})
		if err != nil {
			return fmt.Errorf("cluster %d (%d nodes): %w", i+1, n, err)
		}
		clusters = append(clusters, c)
		if err := enc.Encode(simCluster{Name: fmt.Sprintf("fleet-%d", i+1), Host: c.ContactHost(), Token: c.AuthToken(), Nodes: n}); err != nil {
			return err
		}
	}
	fmt.Println("READY")
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}
