//go:build integration

package cqlstore_test

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestIntegrationScylla runs the conformance suite against a real
// ScyllaDB: SCYLLAOPS_TEST_HOSTS (comma-separated host[:port]), with
// optional SCYLLAOPS_TEST_USER / SCYLLAOPS_TEST_PASSWORD. Unlike the
// Cassandra 2.1 tests it uses the driver's defaults: protocol
// negotiation and host discovery.
func TestIntegrationScylla(t *testing.T) {
	hosts := os.Getenv("SCYLLAOPS_TEST_HOSTS")
	if hosts == "" {
		t.Skip("SCYLLAOPS_TEST_HOSTS is not set")
	}
	o := newOptions(t, strings.Split(hosts, ","), os.Getenv("SCYLLAOPS_TEST_USER"), os.Getenv("SCYLLAOPS_TEST_PASSWORD"))
	o.Timeout = 10 * time.Second
	t.Cleanup(func() { dropKeyspace(t, o) })
	conformance(t, o)
}
