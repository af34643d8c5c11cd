// Package kit is the code the benchmark commands share: the seeded
// SSTable-like data set, the agent run in a child process (its CPU time
// and peak RSS), the local and S3 destinations with their integrity
// check, rclone and timing helpers, and medians.
package kit
