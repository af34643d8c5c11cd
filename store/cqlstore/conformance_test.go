package cqlstore_test

import (
	"testing"
	"time"

	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/storetest"
)

// TestConformance runs the store conformance suite against the CQL server
// of SCYLLAOPS_CQL_HOSTS, each subtest on a fresh keyspace.
func TestConformance(t *testing.T) {
	testHosts(t)
	storetest.Harness{
		New: func(t *testing.T) store.Store {
			return openStore(t, testOptions(t))
		},
		// CQL TTLs have one-second resolution.
		ShortTTL:    time.Second,
		ExpiryGrace: 5 * time.Second,
	}.Run(t)
}
