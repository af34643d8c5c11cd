package scyllatest

import (
	"fmt"
	"net/http"
	"strings"
)

// Ports every simulated node reports (and serves in Listen mode).
const (
	PortREST       = 10000
	PortAgent      = 10001
	PortCQL        = 9042
	PortCQLSSL     = 9142
	PortAlternator = 8000
	PortPrometheus = 9180
)

// config returns n's value of a /v2/config key and whether the key exists.
func (n *Node) config(name string) (any, bool) {
	o := n.c.opts
	auth := "AllowAllAuthenticator"
	if o.CQLUser != "" {
		auth = "PasswordAuthenticator"
	}
	alt := 0
	if o.Alternator {
		alt = PortAlternator
	}
	switch name {
	case "listen_address", "rpc_address", "broadcast_address", "broadcast_rpc_address",
		"prometheus_address", "api_address", "alternator_address":
		return n.IP, true
	case "native_transport_port":
		return PortCQL, true
	case "native_transport_port_ssl":
		return PortCQLSSL, true
	case "rpc_port":
		return 9160, true
	case "prometheus_port":
		return PortPrometheus, true
	case "api_port":
		return PortREST, true
	case "data_file_directories":
		return []string{n.DataDir}, true
	case "client_encryption_options":
		return map[string]string{"enabled": "false"}, true
	case "authenticator":
		return auth, true
	case "alternator_port":
		return alt, true
	case "alternator_https_port":
		return 0, true
	case "alternator_enforce_authorization":
		return o.AlternatorEnforceAuthorization, true
	case "uuid_sstable_identifiers_enabled":
		return o.UUIDSSTableIdentifiers, true
	case "consistent_cluster_management":
		return true, true
	case "enable_tablets":
		return false, true
	case "object_storage_endpoints":
		return map[string]string{}, true
	case "cluster_name":
		return o.ClusterName, true
	}
	return nil, false
}

func (n *Node) getConfig(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	v, ok := n.config(name)
	if !ok {
		writeError(w, http.StatusBadRequest, "No such config entry: %s", name)
		return
	}
	writeJSON(w, v)
}

// getMetrics serves Prometheus text: per-shard write counters and memory.
// ?name= keeps one metric family.
func (n *Node) getMetrics(w http.ResponseWriter, r *http.Request) {
	only := r.URL.Query().Get("name")
	n.c.mu.Lock()
	writes := append([]int64(nil), n.writes...)
	n.c.mu.Unlock()
	var b strings.Builder
	if only == "" || only == "scylla_database_total_writes" {
		b.WriteString("# HELP scylla_database_total_writes Counts write operations\n# TYPE scylla_database_total_writes counter\n")
		for i, v := range writes {
			fmt.Fprintf(&b, "scylla_database_total_writes{shard=\"%d\"} %d\n", i, v)
		}
	}
	if only == "" || only == "scylla_memory_total_memory" {
		b.WriteString("# HELP scylla_memory_total_memory Total memory size in bytes\n# TYPE scylla_memory_total_memory gauge\n")
		for i := range writes {
			fmt.Fprintf(&b, "scylla_memory_total_memory{shard=\"%d\"} %d\n", i, n.c.opts.Memory/int64(len(writes)))
		}
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	_, _ = w.Write([]byte(b.String()))
}
