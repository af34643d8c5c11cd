package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/scyllaops/scyllaops/internal/agentapi"
)

// configKeys are the Scylla /v2/config options node_info reads.
var configKeys = [...]string{
	"listen_address", "native_transport_port", "native_transport_port_ssl", "rpc_address", "rpc_port",
	"broadcast_address", "broadcast_rpc_address", "prometheus_address", "prometheus_port",
	"data_file_directories", "client_encryption_options", "authenticator", "alternator_port",
	"alternator_address", "alternator_https_port", "uuid_sstable_identifiers_enabled",
	"consistent_cluster_management", "enable_tablets", "alternator_enforce_authorization",
	"object_storage_endpoints",
}

func (a *Agent) serveNodeInfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeJSON(w, http.StatusMethodNotAllowed, agentapi.Unauthorized{Message: "method not allowed", Code: http.StatusMethodNotAllowed})
		return
	}
	ni, err := a.nodeInfo(r.Context())
	if err != nil {
		a.log.Warn("node_info failed", "err", err)
		writeJSON(w, http.StatusInternalServerError, agentapi.Unauthorized{Message: err.Error(), Code: http.StatusInternalServerError})
		return
	}
	writeJSON(w, http.StatusOK, ni)
}

// scyllaGet GETs path from the Scylla REST API. found is false on 400 (an
// option unknown to this Scylla version).
func (a *Agent) scyllaGet(ctx context.Context, path string) (raw json.RawMessage, found bool, err error) {
	u := *a.scyllaURL
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, false, fmt.Errorf("agent: scylla %s: %w", path, err)
	}
	resp, err := a.opts.ScyllaTransport.RoundTrip(req)
	if err != nil {
		return nil, false, fmt.Errorf("agent: scylla %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, false, fmt.Errorf("agent: scylla %s: %w", path, err)
	}
	switch {
	case resp.StatusCode == http.StatusBadRequest:
		return nil, false, nil
	case resp.StatusCode != http.StatusOK:
		return nil, false, fmt.Errorf("agent: scylla %s: status %d: %s", path, resp.StatusCode, bytes.TrimSpace(b))
	}
	return b, true, nil
}

func (a *Agent) nodeInfo(ctx context.Context) (*agentapi.NodeInfo, error) {
	vals := make([]json.RawMessage, len(configKeys))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i, k := range configKeys {
		g.Go(func() error {
			raw, found, err := a.scyllaGet(gctx, "/v2/config/"+k)
			if err != nil {
				return err
			}
			if found {
				vals[i] = raw
			}
			return nil
		})
	}
	var version json.RawMessage
	g.Go(func() error {
		raw, _, err := a.scyllaGet(gctx, "/storage_service/scylla_release_version")
		version = raw
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	get := func(k string) json.RawMessage {
		for i, ck := range configKeys {
			if ck == k {
				return vals[i]
			}
		}
		return nil
	}
	ni := &agentapi.NodeInfo{
		ListenAddress:                  rawString(get("listen_address")),
		NativeTransportPort:            rawString(get("native_transport_port")),
		NativeTransportPortSsl:         rawString(get("native_transport_port_ssl")),
		RPCAddress:                     rawString(get("rpc_address")),
		RPCPort:                        rawString(get("rpc_port")),
		BroadcastAddress:               rawString(get("broadcast_address")),
		BroadcastRPCAddress:            rawString(get("broadcast_rpc_address")),
		PrometheusAddress:              rawString(get("prometheus_address")),
		PrometheusPort:                 rawString(get("prometheus_port")),
		AlternatorPort:                 rawString(get("alternator_port")),
		AlternatorHTTPSPort:            rawString(get("alternator_https_port")),
		AlternatorAddress:              rawString(get("alternator_address")),
		CqlPasswordProtected:           rawString(get("authenticator")) == "PasswordAuthenticator" || strings.HasSuffix(rawString(get("authenticator")), ".PasswordAuthenticator"),
		SstableUUIDFormat:              rawBool(get("uuid_sstable_identifiers_enabled")),
		ConsistentClusterManagement:    rawBool(get("consistent_cluster_management")),
		EnableTablets:                  rawBool(get("enable_tablets")),
		AlternatorEnforceAuthorization: rawBool(get("alternator_enforce_authorization")),
		ScyllaVersion:                  rawString(version),
		AgentVersion:                   a.opts.Version,
		CPUCount:                       int64(runtime.NumCPU()),
		Uptime:                         int64(time.Since(a.started).Seconds()),
		MemoryTotal:                    memTotal(),
	}
	if u, err := url.Parse(a.opts.ScyllaAPI); err == nil {
		ni.APIAddress, ni.APIPort = u.Hostname(), u.Port()
	}
	var dirs []string
	if raw := get("data_file_directories"); raw != nil && json.Unmarshal(raw, &dirs) == nil && len(dirs) > 0 {
		ni.DataDirectory = dirs[0]
	}
	if ni.DataDirectory == "" {
		ni.DataDirectory = a.opts.DataDir
	}
	if st, err := a.diskUsage(a.opts.DataDir); err == nil {
		ni.StorageSize = uint64(st.Total)
	}
	if raw := get("client_encryption_options"); raw != nil {
		var m map[string]any
		if json.Unmarshal(raw, &m) == nil {
			ni.ClientEncryptionEnabled = truthy(m["enabled"])
			ni.ClientEncryptionRequireAuth = truthy(m["require_client_auth"])
		}
	}
	if raw := get("object_storage_endpoints"); raw != nil {
		ni.ObjectStorageEndpoints = parseEndpoints(raw)
	}
	ni.RcloneBackendConfig.S3.Endpoint = a.opts.Storage.S3.Endpoint
	ni.RcloneBackendConfig.S3.Region = a.opts.Storage.S3.Region
	ni.RcloneBackendConfig.GCS.Endpoint = a.opts.Storage.GCS.Endpoint
	return ni, nil
}

// rawString renders a JSON scalar as a string: strings unquoted, numbers
// and booleans as written, null/absent as "".
func rawString(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

func rawBool(raw json.RawMessage) bool {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return false
	}
	return truthy(v)
}

func truthy(v any) bool {
	switch t := v.(type) {
	case bool:
		return t
	case string:
		b, _ := strconv.ParseBool(t)
		return b
	case float64:
		return t != 0
	}
	return false
}

// parseEndpoints accepts Scylla's object_storage_endpoints in either form:
// a list of objects or a list of JSON strings encoding objects.
func parseEndpoints(raw json.RawMessage) map[string]agentapi.ObjectStorageEndpoint {
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return nil
	}
	out := make(map[string]agentapi.ObjectStorageEndpoint)
	for _, it := range items {
		var s string
		if json.Unmarshal(it, &s) == nil {
			it = json.RawMessage(s)
		}
		var ep agentapi.ObjectStorageEndpoint
		if json.Unmarshal(it, &ep) == nil && ep.Name != "" {
			out[ep.Name] = ep
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// diskUsage reports the filesystem holding dir: Options.DiskUsage, or
// statfs.
func (a *Agent) diskUsage(dir string) (agentapi.FileSystemDetails, error) {
	if a.opts.DiskUsage == nil {
		return diskUsage(dir)
	}
	total, free, used, err := a.opts.DiskUsage(dir)
	if err != nil {
		return agentapi.FileSystemDetails{}, err
	}
	return agentapi.FileSystemDetails{Total: total, Free: free, Used: used}, nil
}
