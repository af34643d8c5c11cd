// Command demo shows the whole scyllaops loop on one machine, with
// nothing else installed:
//
//	go run ./examples/demo
//
// It starts a simulated 2-DC, 6-node ScyllaDB cluster (package scyllatest,
// nodes and agents on 127.0.x.y ports, keyspaces with real sstable files),
// a Manager on the embedded bbolt store in a temporary directory and the
// REST API server on loopback, then drives it through the Go client as a
// user would: add the cluster, show its status, back it up to a local
// bucket with a live progress bar, list and validate the backup, change
// some data, back up again (showing what was deduplicated), repair the
// cluster (the weekly repair task added with it, a per-keyspace table),
// restore the first snapshot into a second simulated cluster of another
// topology (one DC, 3 nodes, dc_mapping) checking that every restored
// sstable matches the bucket, and print a summary. Everything is removed
// at exit. With -serve the clusters and
// the server stay up after the summary, and the demo prints sctool and CLI
// commands to try against them, until Ctrl-C.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	verbose := fs.Bool("v", false, "log the manager's and the cluster's messages to stderr")
	keep := fs.Bool("keep", false, "keep the temporary directory (printed at exit)")
	serve := fs.Bool("serve", false, "after the scenario, keep the clusters and the server running and print sctool / CLI commands to try, until Ctrl-C")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	start := time.Now()
	if err := run(ctx, os.Stdout, log, options{keep: *keep, serve: *serve}); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stdout, "\nDemo finished in %s.\n", time.Since(start).Round(time.Millisecond))
}

// step prints a numbered heading.
func step(w io.Writer, n int, format string, args ...any) {
	fmt.Fprintf(w, "\n== %d. %s\n", n, fmt.Sprintf(format, args...))
}
