// Command restore benchmarks the restore side of the agent's transfer
// path: downloads of a backup into the nodes of a 3-node cluster through
// the scyllaops agent (the real agent handler, one child process per
// node, over TCP+TLS) next to Debian's rclone (or the one given with
// -rclone) and, from a local directory, cp, on the data set of
// bench/backup; and an end-to-end backup and restore through a Manager
// of a simulated 3-node cluster.
//
// Usage (see the README, "Benchmarks"):
//
//	scripts/services.sh start versitygw rclone && source "$(scripts/services.sh env)"
//	go run ./bench/restore [-dir DIR] [-runs 3] [-size 1] [-targets local,s3] [-rclone /usr/bin/rclone]
//
// # Downloads
//
// For every run and target (a local directory, the agent's
// localstorage:, and an S3 bucket), a source agent first backs the data
// set up with sync/copydir (timed: the backup throughput on the same
// data), then every tool downloads it into 3 node directories, each node
// its third of the SSTables (bundles dealt in turn), the nodes at once:
// the agent with sync/copypaths per table into <table>/upload (as a
// restore does), rclone with `rclone copy --files-from`, cp with
// `cp --parents`, each followed by sync(2). It prints MiB/s per run, the
// medians, the agent/rclone and agent/cp ratios, the CPU seconds per GiB
// of every tool (the sum over its 3 processes), the agents' peak RSS
// (VmHWM), the S3 server's CPU during S3 transfers (-s3-pidfile) and
// the backup throughput of the same run. Before each local download the
// backup's files are evicted from the page cache (-cold, the default):
// every tool reads them from the disk. Emptied node directories are moved
// aside and deleted after the timed runs (see emptyDir). Downloads are
// verified: every file on its node with the source's size and SHA-256
// (-verify agent: the agent's only; all: every tool's).
//
// # End to end
//
// With -e2e-mib > 0, a simulated 3-node cluster (scyllatest, in this
// process) holding about that many MiB of SSTables is backed up by a
// Manager to each target and restored by another into a second 3-node
// cluster (restore_tables, load&stream). Both are timed from the task's
// start to its DONE; the figures are MiB of SSTables per second.
//
// # Errors
//
// A failed transfer, a failed check, or an end-to-end run that does not
// end DONE ends the benchmark with exit status 1 and a message naming the
// run, target and tool.
package main
