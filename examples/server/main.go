// Command server is a Scylla-Manager-compatible server over the scyllaops
// library: the REST API sctool speaks (/api/v1), Prometheus metrics with
// Scylla Manager's names, and the scheduler running backups and health
// checks. State lives in an embedded bbolt file, or in ScyllaDB/Cassandra
// when database.hosts is set.
//
//	go run ./examples/server -c server.yaml
//
// See config.go for the YAML keys (those of scylla-manager.yaml where they
// exist). SIGTERM or SIGINT shut it down gracefully: listeners stop, the
// scheduler stops its runs so that they resume on the next start, and the
// store is closed.
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	cfgPath := fs.String("c", "/etc/scylla-manager/scylla-manager.yaml", "config file (YAML)")
	fs.StringVar(cfgPath, "config-file", *cfgPath, "config file (YAML), same as -c")
	version := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() { usage(fs) }
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		os.Exit(2)
	}
	if *version {
		fmt.Fprintln(os.Stdout, Version)
		return
	}
	cfg, err := LoadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	out := os.Stderr
	if cfg.Logger.Mode == "stdout" {
		out = os.Stdout
	}
	log := newLogger(out, cfg.Logger.Level)
	if err := Run(ctx, cfg, log, nil); err != nil {
		log.Error("server failed", "error", err)
		os.Exit(1)
	}
}

// sampleConfig is server.yaml: every key of the config file, annotated.
//
//go:embed server.yaml
var sampleConfig string

// usage prints the flags and the annotated sample config (every key).
func usage(fs *flag.FlagSet) {
	out := fs.Output()
	fmt.Fprintf(out, "Usage: server [-c FILE]\n\nA Scylla-Manager-compatible server over the scyllaops library.\n\nFlags:\n")
	fs.PrintDefaults()
	fmt.Fprintf(out, "\nThe config file is YAML; keys of scylla-manager.yaml are accepted. Every key, with its\n"+
		"default and meaning (this is examples/server/server.yaml):\n\n%s", sampleConfig)
}
