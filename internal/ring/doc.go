// Package ring holds the vnode token-ring math shared by the simulated
// cluster and the manager: token generation, range ownership and replica
// placement for SimpleStrategy and NetworkTopologyStrategy, following the
// algorithms ScyllaDB uses for vnode keyspaces.
//
// Tokens are Murmur3 partitioner tokens (int64). A ring is the sorted set
// of all tokens of all nodes; the range ending at token t (exclusive start,
// inclusive end) is owned by the node that holds t, and its replicas are
// found by walking the ring clockwise from t.
//
// # Concurrency
//
// All functions are pure; a Ring is immutable after New and safe for
// concurrent use.
//
// # Errors
//
// New and Replicas return errors prefixed "ring: " for bad input (duplicate
// tokens, unknown strategy, a replication factor below zero).
package ring
