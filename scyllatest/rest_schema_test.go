package scyllatest_test

import (
	"net/http"
	"testing"

	"github.com/scyllaops/scyllaops/internal/ring"
	"github.com/scyllaops/scyllaops/scyllatest"
)

// TestRESTResponsesMatchSchemas calls every endpoint the simulator serves,
// through the real agent, and validates each answer against our JSON
// Schema of that endpoint (testdata/schemas, written from Scylla's
// swagger).
func TestRESTResponsesMatchSchemas(t *testing.T) {
	schemas := loadSchemas(t)
	c := scyllatest.New(t, scyllatest.Options{
		Topology: []scyllatest.DC{
			{Name: "dc1", Racks: []scyllatest.Rack{{Name: "r1", Nodes: 2}, {Name: "r2", Nodes: 1}}},
			{Name: "dc2", Racks: []scyllatest.Rack{{Name: "r1", Nodes: 2}}},
		},
		TokensPerNode: 8,
		Keyspaces: []scyllatest.Keyspace{{
			Name:        "ks",
			Replication: ring.Replication{Strategy: ring.NetworkTopologyStrategy, DCRF: map[string]int{"dc1": 2, "dc2": 1}},
			Tables:      []scyllatest.Table{{Name: "t", SSTables: 2}},
		}},
		CQLUser: "cassandra", CQLPassword: "cassandra",
		Alternator: true,
	})
	host := c.ContactHost()
	other := c.Hosts()[3]

	// Set up state so that list answers are not empty.
	if code, body := rawCall(t, c, host, http.MethodPost, "/storage_service/snapshots?tag=sm_20260101000000UTC&kn=ks"); code != http.StatusOK {
		t.Fatalf("take snapshot: %d %s", code, body)
	}
	code, body := rawCall(t, c, host, http.MethodPost, "/storage_service/repair_async/ks?columnFamilies=t")
	if code != http.StatusOK {
		t.Fatalf("repair_async: %d %s", code, body)
	}
	if err := schemas.Validate("int32", body); err != nil {
		t.Fatalf("repair_async: %v", err)
	}

	cases := []struct {
		method, path, schema string
		status               int
	}{
		{"GET", "/storage_service/host_id", "mapper_list", 200},
		{"GET", "/storage_service/hostid/local", "string", 200},
		{"GET", "/gossiper/endpoint/live/", "string_list", 200},
		{"GET", "/gossiper/endpoint/down/", "string_list", 200},
		{"GET", "/failure_detector/simple_states", "mapper_list", 200},
		{"GET", "/storage_service/nodes/joining", "string_list", 200},
		{"GET", "/storage_service/nodes/leaving", "string_list", 200},
		{"GET", "/storage_service/nodes/moving", "string_list", 200},
		{"GET", "/snitch/datacenter", "string", 200},
		{"GET", "/snitch/datacenter?host=" + other, "string", 200},
		{"GET", "/snitch/rack?host=" + other, "string", 200},
		{"GET", "/snitch/rack?host=10.99.99.99", "error_model", 400},
		{"GET", "/storage_service/cluster_name", "string", 200},
		{"GET", "/storage_service/scylla_release_version", "string", 200},
		{"GET", "/storage_service/keyspaces", "string_list", 200},
		{"GET", "/storage_service/keyspaces?type=user&replication=vnodes", "string_list", 200},
		{"GET", "/storage_service/keyspaces?type=non_local_strategy", "string_list", 200},
		{"GET", "/storage_service/keyspaces?type=bogus", "error_model", 400},
		{"GET", "/column_family/name", "string_list", 200},
		{"GET", "/storage_service/tokens", "token_list", 200},
		{"GET", "/storage_service/tokens/" + other, "token_list", 200},
		{"GET", "/storage_service/describe_ring/ks", "describe_ring", 200},
		{"GET", "/storage_service/describe_ring/system_distributed", "describe_ring", 200},
		{"GET", "/storage_service/describe_ring/system_schema", "describe_ring", 200},
		{"GET", "/storage_service/describe_ring/nope", "error_model", 400},
		{"GET", "/column_family/metrics/total_disk_space_used/ks:t", "int64", 200},
		{"GET", "/column_family/metrics/total_disk_space_used/ks:nope", "error_model", 400},
		{"GET", "/storage_service/snapshots", "snapshots", 200},
		{"POST", "/storage_service/snapshots?tag=sm_20260101000000UTC&kn=ks", "error_model", 500},
		{"POST", "/storage_service/snapshots", "error_model", 400},
		{"GET", "/storage_service/repair_status?id=1", "repair_status", 200},
		{"GET", "/storage_service/repair_status?id=999", "error_model", 500},
		{"GET", "/storage_service/active_repair/", "int_list", 200},
		{"GET", "/column_family/autocompaction/ks:t", "boolean", 200},
		{"POST", "/storage_service/sstables/ks", "error_model", 400},
		{"POST", "/storage_service/repair_async/nope", "error_model", 400},
		{"GET", "/v2/config/listen_address", "string", 200},
		{"GET", "/v2/config/rpc_address", "string", 200},
		{"GET", "/v2/config/broadcast_address", "string", 200},
		{"GET", "/v2/config/broadcast_rpc_address", "string", 200},
		{"GET", "/v2/config/prometheus_address", "string", 200},
		{"GET", "/v2/config/alternator_address", "string", 200},
		{"GET", "/v2/config/api_address", "string", 200},
		{"GET", "/v2/config/cluster_name", "string", 200},
		{"GET", "/v2/config/authenticator", "string", 200},
		{"GET", "/v2/config/native_transport_port", "integer", 200},
		{"GET", "/v2/config/native_transport_port_ssl", "integer", 200},
		{"GET", "/v2/config/rpc_port", "integer", 200},
		{"GET", "/v2/config/prometheus_port", "integer", 200},
		{"GET", "/v2/config/api_port", "integer", 200},
		{"GET", "/v2/config/alternator_port", "integer", 200},
		{"GET", "/v2/config/alternator_https_port", "integer", 200},
		{"GET", "/v2/config/data_file_directories", "string_list", 200},
		{"GET", "/v2/config/client_encryption_options", "client_encryption_options", 200},
		{"GET", "/v2/config/uuid_sstable_identifiers_enabled", "boolean", 200},
		{"GET", "/v2/config/consistent_cluster_management", "boolean", 200},
		{"GET", "/v2/config/enable_tablets", "boolean", 200},
		{"GET", "/v2/config/alternator_enforce_authorization", "boolean", 200},
		{"GET", "/v2/config/object_storage_endpoints", "string_map", 200},
		{"GET", "/v2/config/no_such_option", "error_model", 400},
		{"GET", "/no/such/path", "error_model", 404},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			code, body := rawCall(t, c, host, tc.method, tc.path)
			if code != tc.status {
				t.Fatalf("status %d, want %d (body %s)", code, tc.status, body)
			}
			if err := schemas.Validate(tc.schema, body); err != nil {
				t.Fatal(err)
			}
		})
	}

	// Endpoints that answer 200 with an empty body.
	for _, p := range [][2]string{
		{"POST", "/storage_service/keyspace_flush/ks?cf=t"},
		{"POST", "/column_family/autocompaction/ks:t"},
		{"DELETE", "/column_family/autocompaction/ks:t"},
		{"POST", "/storage_service/sstables/ks?cf=t&load_and_stream=true"},
		{"POST", "/raft/read_barrier"},
		{"POST", "/storage_service/force_terminate_repair"},
		{"DELETE", "/storage_service/snapshots?tag=sm_20260101000000UTC"},
	} {
		if code, body := rawCall(t, c, host, p[0], p[1]); code != http.StatusOK || len(body) != 0 {
			t.Errorf("%s %s: %d %q, want 200 and no body", p[0], p[1], code, body)
		}
	}
	if code, body := rawCall(t, c, host, "GET", "/column_family/autocompaction/ks:t"); string(body) != "false" {
		t.Errorf("autocompaction after DELETE: %d %s, want false", code, body)
	}
}
