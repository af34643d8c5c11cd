package agentclient_test

import (
	"bytes"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/scyllaops/scyllaops/agentclient"
)

func TestPingVersionNodeInfo(t *testing.T) {
	forEachTransport(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		if err := e.c.Ping(ctx, e.host); err != nil {
			t.Fatalf("Ping: %v", err)
		}
		v, err := e.c.Version(ctx, e.host)
		if err != nil || v != "test-1.0" {
			t.Fatalf("Version = %q, %v; want test-1.0", v, err)
		}
		ni, err := e.c.NodeInfo(ctx, e.host)
		if err != nil {
			t.Fatalf("NodeInfo: %v", err)
		}
		want := map[string]any{
			"listen_address": ni.ListenAddress == "10.0.0.1", "native_transport_port": ni.NativeTransportPort == "9042",
			"broadcast_rpc_address": ni.BroadcastRPCAddress == "10.0.0.1", "cql_password_protected": ni.CqlPasswordProtected,
			"client_encryption_enabled": ni.ClientEncryptionEnabled, "sstable_uuid_format": ni.SstableUUIDFormat,
			"enable_tablets absent (400)": !ni.EnableTablets, "data_directory": ni.DataDirectory == "/var/lib/scylla/data",
			"scylla_version": ni.ScyllaVersion == "2025.1.0-0.20250101.abcdef", "agent_version": ni.AgentVersion == "test-1.0",
			"api_port": ni.APIPort == "10000", "object_storage_endpoints": ni.ObjectStorageEndpoints["s3.local"].Port == 9000,
			"cpu_count": ni.CPUCount > 0,
		}
		for k, ok := range want {
			if ok != true {
				t.Errorf("node info %s wrong: %+v", k, ni)
			}
		}
	})
}

func TestAuth(t *testing.T) {
	for _, k := range kinds {
		for _, tc := range []struct{ name, token string }{{"missing", ""}, {"wrong", "nope"}, {"prefix-of-real", testToken[:4]}} {
			t.Run(string(k)+"/"+tc.name, func(t *testing.T) {
				e := newEnv(t, k, tc.token)
				ctx := t.Context()
				if err := e.c.Ping(ctx, e.host); err != nil {
					t.Fatalf("Ping must not need auth: %v", err)
				}
				if _, err := e.c.Version(ctx, e.host); err != nil {
					t.Fatalf("Version must not need auth: %v", err)
				}
				_, err := e.c.ClusterName(ctx, e.host)
				if !errors.Is(err, agentclient.ErrUnauthorized) {
					t.Fatalf("ClusterName error = %v, want ErrUnauthorized", err)
				}
				var se *agentclient.StatusError
				if !errors.As(err, &se) || se.Code != http.StatusUnauthorized || !strings.Contains(se.Body, `"message":"unauthorized"`) || !strings.Contains(se.Body, `"code":401`) {
					t.Fatalf("401 body = %+v", se)
				}
				var he *agentclient.HostError
				if !errors.As(err, &he) || he.Host != e.host || he.Op != "cluster_name" {
					t.Fatalf("HostError = %+v", he)
				}
				err = e.c.List(ctx, e.host, agentclient.ListOptions{Fs: "data:"}, func(agentclient.ListItem) error { return nil })
				if !errors.Is(err, agentclient.ErrUnauthorized) {
					t.Fatalf("rclone list error = %v, want ErrUnauthorized", err)
				}
			})
		}
	}
}

func TestScyllaProxy(t *testing.T) {
	forEachTransport(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		ids, err := e.c.HostIDMap(ctx, e.host)
		if err != nil || ids["10.0.0.2"] != "22222222-2222-2222-2222-222222222222" || len(ids) != 2 {
			t.Fatalf("HostIDMap = %v, %v", ids, err)
		}
		live, err := e.c.LiveNodes(ctx, e.host)
		if err != nil || !slices.Equal(live, []string{"10.0.0.1", "10.0.0.2"}) {
			t.Fatalf("LiveNodes = %v, %v", live, err)
		}
		if j, err := e.c.JoiningNodes(ctx, e.host); err != nil || len(j) != 0 {
			t.Fatalf("JoiningNodes = %v, %v", j, err)
		}
		if dc, err := e.c.Datacenter(ctx, e.host, "10.0.0.2"); err != nil || dc != "dc-10.0.0.2" {
			t.Fatalf("Datacenter = %q, %v", dc, err)
		}
		if r, err := e.c.Rack(ctx, e.host, "10.0.0.2"); err != nil || r != "rack1" {
			t.Fatalf("Rack = %q, %v", r, err)
		}
		if v, err := e.c.ScyllaReleaseVersion(ctx, e.host); err != nil || !strings.HasPrefix(v, "2025.1") {
			t.Fatalf("ScyllaReleaseVersion = %q, %v", v, err)
		}
		if ks, err := e.c.Keyspaces(ctx, e.host, "user", ""); err != nil || !slices.Equal(ks, []string{"ks1"}) {
			t.Fatalf("Keyspaces = %v, %v", ks, err)
		}
		tables, err := e.c.TableNames(ctx, e.host)
		want := []agentclient.TableName{{Keyspace: "ks1", Table: "t1"}, {Keyspace: "ks1", Table: "idx:with:colons"}}
		if err != nil || !cmp.Equal(tables, want) {
			t.Fatalf("TableNames = %v, %v", tables, err)
		}
		toks, err := e.c.Tokens(ctx, e.host, "10.0.0.1")
		if err != nil || !slices.Equal(toks, []int64{-9000000000000000000, 42}) {
			t.Fatalf("Tokens = %v, %v", toks, err)
		}
		ring, err := e.c.DescribeRing(ctx, e.host, "ks1", "")
		if err != nil || len(ring) != 1 || ring[0].EndpointDetails[0].Datacenter != "dc1" || ring[0].EndToken != "42" {
			t.Fatalf("DescribeRing = %+v, %v", ring, err)
		}
		if n, err := e.c.TableDiskSize(ctx, e.host, "ks1", "t1"); err != nil || n != 12345 {
			t.Fatalf("TableDiskSize = %d, %v", n, err)
		}
		if err := e.c.TakeSnapshot(ctx, e.host, "sm_20250101000000UTC", "ks1", "t1"); err != nil {
			t.Fatalf("TakeSnapshot: %v", err)
		}
		if err := e.c.TakeSnapshot(ctx, e.host, "sm_20250101000000UTC", "ks1"); err != nil {
			t.Fatalf("TakeSnapshot again (already exists) must succeed: %v", err)
		}
		snaps, err := e.c.Snapshots(ctx, e.host)
		if err != nil || len(snaps) != 1 || snaps[0].Key != "sm_20250101000000UTC" || snaps[0].Value[0].Keyspace != "ks1" {
			t.Fatalf("Snapshots = %+v, %v", snaps, err)
		}
		if err := e.c.DeleteSnapshot(ctx, e.host, "sm_20250101000000UTC", ""); err != nil {
			t.Fatalf("DeleteSnapshot: %v", err)
		}
		if snaps, _ := e.c.Snapshots(ctx, e.host); len(snaps) != 0 {
			t.Fatalf("snapshot not deleted: %+v", snaps)
		}
		id, err := e.c.RepairAsync(ctx, e.host, "ks1", agentclient.RepairOptions{Tables: []string{"t1"}, Ranges: []string{"1:2"}, RangesParallelism: 1})
		if err != nil || id != 1 {
			t.Fatalf("RepairAsync = %d, %v", id, err)
		}
		if st, err := e.c.RepairStatus(ctx, e.host, id, 0); err != nil || st != agentclient.RepairSuccessful {
			t.Fatalf("RepairStatus = %q, %v", st, err)
		}
		if err := e.c.LoadSSTables(ctx, e.host, "ks1", "t1", agentclient.LoadSSTablesOptions{LoadAndStream: true}); err != nil {
			t.Fatalf("LoadSSTables: %v", err)
		}
		m, err := e.c.Metrics(ctx, e.host, "scylla_database_total_writes")
		wantM := "# HELP scylla_database_total_writes writes\n# TYPE scylla_database_total_writes counter\n" +
			"scylla_database_total_writes{shard=\"0\"} 1\nscylla_database_total_writes{shard=\"1\"} 2\n"
		if err != nil || string(m) != wantM {
			t.Fatalf("Metrics(name) = %q, %v; want %q", m, err, wantM)
		}
		if all, err := e.c.Metrics(ctx, e.host, ""); err != nil || !bytes.Contains(all, []byte("scylla_memory_total_memory 100")) {
			t.Fatalf("Metrics() = %q, %v", all, err)
		}
		_, err = e.c.Keyspaces(ctx, e.host, "", "")
		if err != nil {
			t.Fatal(err)
		}
		err = e.c.Raw(ctx, e.host, http.MethodGet, "/no/such/path", nil, nil, nil)
		if !errors.Is(err, agentclient.ErrNotFound) {
			t.Fatalf("unknown scylla path error = %v, want ErrNotFound", err)
		}
		if n := testutil.CollectAndCount(e.reg, "scylla_manager_agent_http_status_code"); n == 0 {
			t.Fatal("no http_status_code series")
		}
		probs, err := testutil.GatherAndLint(e.reg)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range probs {
			// The upstream name (kept for dashboards) lacks _total.
			if p.Metric == "scylla_manager_agent_http_status_code" && strings.Contains(p.Text, "_total") {
				continue
			}
			t.Errorf("metric lint: %+v", p)
		}
	})
}

func TestUnreachable(t *testing.T) {
	tr := agentclient.NewInProcessTransport()
	c, err := agentclient.New(tr, agentclient.Options{RetryMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ClusterName(t.Context(), "ghost")
	if !errors.Is(err, agentclient.ErrUnreachable) || !errors.Is(err, agentclient.ErrNoHandler) {
		t.Fatalf("error = %v, want ErrUnreachable wrapping ErrNoHandler", err)
	}
	var he *agentclient.HostError
	if !errors.As(err, &he) || he.Host != "ghost" {
		t.Fatalf("HostError = %+v", he)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, o := range []agentclient.Options{{Port: -1}, {Scheme: "ftp"}, {Timeout: -1}, {RetryWaitMin: 10, RetryWaitMax: 1}} {
		if _, err := agentclient.New(nil, o); err == nil {
			t.Errorf("New(%+v) accepted invalid options", o)
		}
	}
}
