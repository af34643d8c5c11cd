// Command backup benchmarks backup uploads: the scyllaops agent (the real
// agent handler, in its own process, over TCP+TLS) against Debian's
// rclone and, for a local directory, cp -r, on an SSTable-like data set.
//
// Usage (see the README, "Benchmarks"):
//
//	scripts/services.sh start versitygw rclone && source "$(scripts/services.sh env)"
//	go run ./bench/backup [-dir DIR] [-runs 3] [-size 1] [-targets local,s3] [-rclone BIN] [-keep]
//
// It generates (once, seeded, cached in -dir) 2,000 files of about
// 1,920 MiB in a Scylla data dir layout, then for every run and target
// uploads the whole data set with each tool after cleaning the
// destination, each followed by sync(2), and prints MiB/s per run, the
// medians, the agent/rclone and agent/cp ratios, the agent's peak RSS
// (VmHWM) and a second agent backup of unchanged data (bytes uploaded and
// time relative to the first; timed without sync(2), as it writes
// nothing). Every upload is verified afterwards: the destination must
// hold exactly the source files, with equal sizes and SHA-256.
//
// # Concurrency
//
// The benchmark runs one upload at a time; the agent runs in a child
// process (this binary with SCYLLAOPS_BENCH_AGENT_CHILD set), so its peak
// RSS and CPU time are its own.
//
// # Errors
//
// Any failed upload, a failed integrity check, or an agent job that did
// not upload (or, the second time, skip) every byte ends the benchmark
// with exit status 1 and a message naming the run, target and tool.
package main
