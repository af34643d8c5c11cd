package agentclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/scyllaops/scyllaops/internal/agentapi"
)

// Wire types re-exported for callers (the internal package is not
// importable outside the module).
type (
	// NodeInfo is the answer of NodeInfo.
	NodeInfo = agentapi.NodeInfo
	// TokenRange is one entry of DescribeRing.
	TokenRange = agentapi.TokenRange
	// EndpointDetail is one replica of a TokenRange.
	EndpointDetail = agentapi.EndpointDetail
	// Snapshot is one snapshot tag and its tables.
	Snapshot = agentapi.Snapshot
	// SnapshotDetail is one table of a Snapshot.
	SnapshotDetail = agentapi.SnapshotDetail
	// ObjectStorageEndpoint is one Scylla object storage endpoint.
	ObjectStorageEndpoint = agentapi.ObjectStorageEndpoint
)

// Timeouts of long calls (reference: Scylla Manager's client).
const (
	DescribeRingTimeout = 5 * time.Minute
	SnapshotTimeout     = 30 * time.Minute
)

// Ping checks that the agent answers (GET /ping, unauthenticated).
func (c *Client) Ping(ctx context.Context, host string) error {
	return c.getJSON(ctx, host, call{op: "ping", method: http.MethodGet, path: agentapi.PathPing}, nil)
}

// Version returns the agent's version (GET /version).
func (c *Client) Version(ctx context.Context, host string) (string, error) {
	var v agentapi.VersionInfo
	err := c.getJSON(ctx, host, call{op: "version", method: http.MethodGet, path: agentapi.PathVersion}, &v)
	return v.Version, err
}

// NodeInfo returns the node's configuration as the agent reports it.
func (c *Client) NodeInfo(ctx context.Context, host string) (*NodeInfo, error) {
	var ni NodeInfo
	if err := c.getJSON(ctx, host, call{op: "node_info", method: http.MethodGet, path: agentapi.PathNodeInfo}, &ni); err != nil {
		return nil, err
	}
	return &ni, nil
}

// HostIDMap returns IP → host ID of every node the host knows.
func (c *Client) HostIDMap(ctx context.Context, host string) (map[string]string, error) {
	var kv []agentapi.KeyValue
	if err := c.getJSON(ctx, host, call{op: "host_id", method: http.MethodGet, path: "/storage_service/host_id"}, &kv); err != nil {
		return nil, err
	}
	m := make(map[string]string, len(kv))
	for _, e := range kv {
		m[e.Key] = e.Value
	}
	return m, nil
}

// ViewBuildStatuses returns, per node IP, the build status of a
// materialized view as host sees it: "UNKNOWN", "STARTED" or "SUCCESS".
func (c *Client) ViewBuildStatuses(ctx context.Context, host, keyspace, view string) (map[string]string, error) {
	var kv []agentapi.KeyValue
	p := "/storage_service/view_build_statuses/" + url.PathEscape(keyspace) + "/" + url.PathEscape(view)
	if err := c.getJSON(ctx, host, call{op: "view_build_statuses", method: http.MethodGet, path: p}, &kv); err != nil {
		return nil, err
	}
	m := make(map[string]string, len(kv))
	for _, e := range kv {
		m[e.Key] = e.Value
	}
	return m, nil
}

func (c *Client) strings(ctx context.Context, host, op, path string, q url.Values) ([]string, error) {
	var out []string
	err := c.getJSON(ctx, host, call{op: op, method: http.MethodGet, path: path, query: q}, &out)
	return out, err
}

func (c *Client) str(ctx context.Context, host, op, path string, q url.Values) (string, error) {
	var out string
	err := c.getJSON(ctx, host, call{op: op, method: http.MethodGet, path: path, query: q}, &out)
	return out, err
}

// LiveNodes returns the IPs the host's gossiper sees alive.
func (c *Client) LiveNodes(ctx context.Context, host string) ([]string, error) {
	return c.strings(ctx, host, "live_nodes", "/gossiper/endpoint/live/", nil)
}

// JoiningNodes returns the IPs of joining nodes.
func (c *Client) JoiningNodes(ctx context.Context, host string) ([]string, error) {
	return c.strings(ctx, host, "joining_nodes", "/storage_service/nodes/joining", nil)
}

// LeavingNodes returns the IPs of leaving nodes.
func (c *Client) LeavingNodes(ctx context.Context, host string) ([]string, error) {
	return c.strings(ctx, host, "leaving_nodes", "/storage_service/nodes/leaving", nil)
}

// Datacenter returns the DC of the node with address ip, as host's snitch
// sees it.
func (c *Client) Datacenter(ctx context.Context, host, ip string) (string, error) {
	return c.str(ctx, host, "datacenter", "/snitch/datacenter", url.Values{"host": {ip}})
}

// Rack returns the rack of the node with address ip.
func (c *Client) Rack(ctx context.Context, host, ip string) (string, error) {
	return c.str(ctx, host, "rack", "/snitch/rack", url.Values{"host": {ip}})
}

// ClusterName returns the cluster name.
func (c *Client) ClusterName(ctx context.Context, host string) (string, error) {
	return c.str(ctx, host, "cluster_name", "/storage_service/cluster_name", nil)
}

// ScyllaReleaseVersion returns Scylla's release version; it doubles as the
// REST health ping.
func (c *Client) ScyllaReleaseVersion(ctx context.Context, host string) (string, error) {
	return c.str(ctx, host, "scylla_release_version", "/storage_service/scylla_release_version", nil)
}

// Keyspaces returns keyspace names. typ is "all", "user",
// "non_local_strategy" or "" (all); replication is "all", "vnodes",
// "tablets" or "" (not sent; older Scylla fails when it is).
func (c *Client) Keyspaces(ctx context.Context, host, typ, replication string) ([]string, error) {
	q := url.Values{}
	if typ != "" {
		q.Set("type", typ)
	}
	if replication != "" {
		q.Set("replication", replication)
	}
	return c.strings(ctx, host, "keyspaces", "/storage_service/keyspaces", q)
}

// TableName is a keyspace and table.
type TableName struct {
	Keyspace string
	Table    string
}

// TableNames returns every table as keyspace/table (split on the first
// colon of Scylla's "ks:table").
func (c *Client) TableNames(ctx context.Context, host string) ([]TableName, error) {
	names, err := c.strings(ctx, host, "table_names", "/column_family/name", nil)
	if err != nil {
		return nil, err
	}
	out := make([]TableName, 0, len(names))
	for _, n := range names {
		ks, t, ok := strings.Cut(n, ":")
		if !ok {
			return nil, &HostError{Host: host, Op: "table_names", Err: fmt.Errorf("malformed table name %q: want ks:table", n)}
		}
		out = append(out, TableName{Keyspace: ks, Table: t})
	}
	return out, nil
}

// Tokens returns the tokens owned by the node with address endpoint.
func (c *Client) Tokens(ctx context.Context, host, endpoint string) ([]int64, error) {
	s, err := c.strings(ctx, host, "tokens", "/storage_service/tokens/"+url.PathEscape(endpoint), nil)
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(s))
	for i, v := range s {
		out[i], err = strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, &HostError{Host: host, Op: "tokens", Err: fmt.Errorf("token %q: %w", v, err)}
		}
	}
	return out, nil
}

// DescribeRing returns the token ranges and replicas of keyspace; table is
// required for tablet keyspaces and may be empty otherwise.
func (c *Client) DescribeRing(ctx context.Context, host, keyspace, table string) ([]TokenRange, error) {
	q := url.Values{}
	if table != "" {
		q.Set("table", table)
	}
	var out []TokenRange
	err := c.getJSON(ctx, host, call{op: "describe_ring", method: http.MethodGet,
		path: "/storage_service/describe_ring/" + url.PathEscape(keyspace), query: q,
		timeout: max(DescribeRingTimeout, c.opts.Timeout)}, &out)
	return out, err
}

// TableDiskSize returns the bytes the table uses on host's disk.
func (c *Client) TableDiskSize(ctx context.Context, host, keyspace, table string) (int64, error) {
	var n int64
	err := c.getJSON(ctx, host, call{op: "table_disk_size", method: http.MethodGet,
		path: "/column_family/metrics/total_disk_space_used/" + url.PathEscape(keyspace+":"+table)}, &n)
	return n, err
}

// Snapshots returns the snapshots on host.
func (c *Client) Snapshots(ctx context.Context, host string) ([]Snapshot, error) {
	var out []Snapshot
	err := c.getJSON(ctx, host, call{op: "snapshots", method: http.MethodGet, path: "/storage_service/snapshots", timeout: SnapshotTimeout}, &out)
	return out, err
}

// TakeSnapshot snapshots the tables (none = all) of keyspace under tag.
// "already exists" answers count as success.
func (c *Client) TakeSnapshot(ctx context.Context, host, tag, keyspace string, tables ...string) error {
	q := url.Values{"tag": {tag}, "kn": {keyspace}}
	if len(tables) > 0 {
		q.Set("cf", strings.Join(tables, ","))
	}
	err := c.getJSON(ctx, host, call{op: "snapshot", method: http.MethodPost, path: "/storage_service/snapshots", query: q, timeout: SnapshotTimeout,
		final: []string{"already exists"}}, nil)
	if err != nil && strings.Contains(strings.ToLower(err.Error()), "already exists") {
		return nil
	}
	return err
}

// DeleteSnapshot deletes snapshot tag, restricted to keyspace ("" = all)
// and tables (none = all).
func (c *Client) DeleteSnapshot(ctx context.Context, host, tag, keyspace string, tables ...string) error {
	q := url.Values{"tag": {tag}}
	if keyspace != "" {
		q.Set("kn", keyspace)
	}
	if len(tables) > 0 {
		q.Set("cf", strings.Join(tables, ","))
	}
	return c.getJSON(ctx, host, call{op: "delete_snapshot", method: http.MethodDelete, path: "/storage_service/snapshots", query: q, timeout: SnapshotTimeout}, nil)
}

// RepairOptions select what RepairAsync repairs.
type RepairOptions struct {
	// Tables to repair (columnFamilies); none = all.
	Tables []string
	// Ranges as "start:end" token pairs.
	Ranges []string
	// Hosts restrict the replicas (only with more than one).
	Hosts []string
	// RangesParallelism > 0 sets ranges_parallelism.
	RangesParallelism int
	// SmallTableOptimization sets small_table_optimization=true (instead of
	// RangesParallelism).
	SmallTableOptimization bool
}

// RepairAsync starts a repair of keyspace on host and returns its command
// id.
func (c *Client) RepairAsync(ctx context.Context, host, keyspace string, o RepairOptions) (int, error) {
	q := url.Values{}
	if len(o.Tables) > 0 {
		q.Set("columnFamilies", strings.Join(o.Tables, ","))
	}
	if len(o.Ranges) > 0 {
		q.Set("ranges", strings.Join(o.Ranges, ","))
	}
	if len(o.Hosts) > 1 {
		q.Set("hosts", strings.Join(o.Hosts, ","))
	}
	if o.SmallTableOptimization {
		q.Set("small_table_optimization", "true")
	} else if o.RangesParallelism > 0 {
		q.Set("ranges_parallelism", strconv.Itoa(o.RangesParallelism))
	}
	var id int
	err := c.getJSON(ctx, host, call{op: "repair_async", method: http.MethodPost, path: "/storage_service/repair_async/" + url.PathEscape(keyspace), query: q}, &id)
	return id, err
}

// Repair statuses returned by RepairStatus.
const (
	RepairRunning    = "RUNNING"
	RepairSuccessful = "SUCCESSFUL"
	RepairFailed     = "FAILED"
)

// RepairStatus blocks until repair id finishes (or wait elapses, when
// > 0) and returns RepairRunning, RepairSuccessful or RepairFailed. It has
// no client-side timeout: ctx bounds it.
func (c *Client) RepairStatus(ctx context.Context, host string, id int, wait time.Duration) (string, error) {
	q := url.Values{"id": {strconv.Itoa(id)}}
	if wait > 0 {
		q.Set("timeout", strconv.Itoa(int(wait.Seconds())))
	}
	var s string
	err := c.getJSON(ctx, host, call{op: "repair_status", method: http.MethodGet, path: "/storage_service/repair_status", query: q, noTimeout: true,
		final: []string{"unknown repair id"}}, &s)
	return s, err
}

// LoadSSTablesOptions tune LoadSSTables.
type LoadSSTablesOptions struct {
	LoadAndStream      bool
	PrimaryReplicaOnly bool
	SkipCleanup        bool
	SkipReshape        bool
	// Scope is "all", "dc", "rack" or "node"; empty = not sent.
	Scope string
	// PollInterval is the wait before calling again while Scylla answers
	// "Already loading SSTables" (a load started earlier, e.g. by a
	// timed-out call, is still running). Default: 10s.
	PollInterval time.Duration
}

// LoadSSTables loads the sstables in the table's upload/ directory and
// returns when loading has finished. Each call is sent once, without
// timeout; while Scylla answers "Already loading SSTables" it calls again
// every o.PollInterval until the earlier load is done or ctx ends.
func (c *Client) LoadSSTables(ctx context.Context, host, keyspace, table string, o LoadSSTablesOptions) error {
	q := url.Values{"cf": {table}}
	set := func(k string, v bool) {
		if v {
			q.Set(k, "true")
		}
	}
	set("load_and_stream", o.LoadAndStream)
	set("primary_replica_only", o.PrimaryReplicaOnly)
	set("skip_cleanup", o.SkipCleanup)
	set("skip_reshape", o.SkipReshape)
	if o.Scope != "" {
		q.Set("scope", o.Scope)
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 10 * time.Second
	}
	for {
		err := c.getJSON(ctx, host, call{op: "load_sstables", method: http.MethodPost, path: "/storage_service/sstables/" + url.PathEscape(keyspace), query: q, noTimeout: true, noRetry: true}, nil)
		if err == nil || !strings.Contains(strings.ToLower(err.Error()), "already loading sstables") {
			return err
		}
		t := time.NewTimer(o.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return &HostError{Host: host, Op: "load_sstables", Err: fmt.Errorf("waiting for an earlier load: %w", context.Cause(ctx))}
		case <-t.C:
		}
	}
}

// Metrics returns the node's Prometheus metrics (text format), only the
// family name when not empty.
func (c *Client) Metrics(ctx context.Context, host, name string) ([]byte, error) {
	q := url.Values{}
	if name != "" {
		q.Set("name", name)
	}
	resp, err := c.do(ctx, host, call{op: "metrics", method: http.MethodGet, path: agentapi.PathMetrics, query: q})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, &HostError{Host: host, Op: "metrics", Err: err}
	}
	return b, nil
}

// Raw performs an arbitrary call through the agent proxy and decodes the
// JSON answer into out (nil to discard); for Scylla endpoints without a
// typed method.
func (c *Client) Raw(ctx context.Context, host, method, path string, query url.Values, body, out any) error {
	if body != nil {
		if _, ok := body.(io.Reader); !ok {
			b, err := json.Marshal(body)
			if err != nil {
				return &HostError{Host: host, Op: path, Err: err}
			}
			body = json.RawMessage(b)
		}
	}
	return c.getJSON(ctx, host, call{op: strings.TrimPrefix(path, "/"), method: method, path: path, query: query, body: body}, out)
}
