// Command fleet measures the health check at fleet scale: one Manager
// (the library with boltstore, its health-check tasks created with each
// cluster as the server creates them: cql, rest and alternator every
// minute) watching simulated clusters served over TCP by another process
// (scyllatest in Listen mode: every node on its own 127.x.y.z address,
// the agent over HTTPS), every node up.
//
// Usage (see the README, "Health checks at fleet scale"):
//
//	go run ./bench/fleet [-nodes 500,1000,2000] [-rounds 3] [-per-cluster 250]
//
// For every size it starts the clusters in a child process (at most 250
// nodes per cluster, the Listen mode limit), then the Manager in a second
// child process, waits for the first round of health checks after the
// clusters are added and then -rounds more (one round per minute, so a
// size takes about -rounds+2 minutes), and prints: the false "down"
// results of the first round and the median of the later rounds per mode
// (every node is up, so every failed ping is false; goal 0), the
// Manager's RSS at the end and its peak (VmHWM), and its CPU time per
// node per minute over the later rounds. The Manager counts the failures
// from its own "health check done" log records (nodes, failed), which
// both the old and the new code write.
//
// # Concurrency
//
// One size at a time; the simulator and the Manager each run in their own
// process (this binary with SCYLLAOPS_BENCH_FLEET_ROLE set), so the
// Manager's RSS and CPU time are its own.
//
// # Errors
//
// A child that fails to start, a cluster that cannot be added, or a round
// that does not end within two minutes ends the benchmark with exit status
// 1 and a message naming the size and the step.
package main
