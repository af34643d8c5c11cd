package scyllatest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/scyllaops/scyllaops/internal/ring"
)

// errorModel is Scylla's error body (swagger definition ErrorModel).
type errorModel struct {
	Message string `json:"message"`
	Code    int    `json:"code"`
}

// mapper is Scylla's key/value pair (swagger definition mapper).
type mapper struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type endpointDetail struct {
	Host       string `json:"host"`
	Datacenter string `json:"datacenter"`
	Rack       string `json:"rack"`
}

type tokenRange struct {
	StartToken      string           `json:"start_token"`
	EndToken        string           `json:"end_token"`
	Endpoints       []string         `json:"endpoints"`
	RPCEndpoints    []string         `json:"rpc_endpoints"`
	EndpointDetails []endpointDetail `json:"endpoint_details"`
}

// writeJSON answers v as Scylla does: compact JSON with no trailing
// newline (a real agent unquotes string answers such as
// scylla_release_version with strconv.Unquote, which fails on "...\n").
func writeJSON(w http.ResponseWriter, v any) {
	writeBody(w, http.StatusOK, v)
}

func writeError(w http.ResponseWriter, code int, format string, args ...any) {
	writeBody(w, code, errorModel{Message: fmt.Sprintf(format, args...), Code: code})
}

func writeBody(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, fmt.Appendf(nil, `{"message":%q,"code":500}`, err.Error())
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// newRESTHandler builds n's Scylla REST API.
func (n *Node) newRESTHandler() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET /storage_service/host_id", n.getHostIDs)
	m.HandleFunc("GET /storage_service/hostid/local", n.getLocalHostID)
	m.HandleFunc("GET /gossiper/endpoint/live/{$}", n.getGossip(true))
	m.HandleFunc("GET /gossiper/endpoint/down/{$}", n.getGossip(false))
	m.HandleFunc("GET /failure_detector/simple_states", n.getSimpleStates)
	m.HandleFunc("GET /storage_service/nodes/joining", n.getNodesIn(StateJoining))
	m.HandleFunc("GET /storage_service/nodes/leaving", n.getNodesIn(StateLeaving))
	m.HandleFunc("GET /storage_service/nodes/moving", n.getNodesIn(StateMoving))
	m.HandleFunc("GET /snitch/datacenter", n.getSnitch(func(x *Node) string { return x.DC }))
	m.HandleFunc("GET /snitch/rack", n.getSnitch(func(x *Node) string { return x.Rack }))
	m.HandleFunc("GET /storage_service/cluster_name", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, n.c.opts.ClusterName) })
	m.HandleFunc("GET /storage_service/scylla_release_version", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, n.c.opts.ScyllaVersion) })
	m.HandleFunc("GET /storage_service/keyspaces", n.getKeyspaces)
	m.HandleFunc("GET /column_family/name", n.getTableNames)
	m.HandleFunc("GET /storage_service/tokens/{endpoint}", n.getTokens)
	m.HandleFunc("GET /storage_service/tokens", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, formatTokens(n.Tokens)) })
	m.HandleFunc("GET /storage_service/describe_ring/{keyspace}", n.getDescribeRing)
	m.HandleFunc("GET /column_family/metrics/total_disk_space_used/{name}", n.getDiskSpaceUsed)
	m.HandleFunc("GET /storage_service/snapshots", n.getSnapshots)
	m.HandleFunc("POST /storage_service/snapshots", n.postSnapshot)
	m.HandleFunc("DELETE /storage_service/snapshots", n.deleteSnapshot)
	m.HandleFunc("POST /storage_service/repair_async/{keyspace}", n.postRepair)
	m.HandleFunc("GET /storage_service/repair_status", n.getRepairStatus)
	m.HandleFunc("GET /storage_service/active_repair/{$}", n.getActiveRepairs)
	m.HandleFunc("POST /storage_service/force_terminate_repair", n.postTerminateRepair)
	m.HandleFunc("GET /compaction_manager/metrics/pending_tasks", n.getPendingCompactions)
	m.HandleFunc("POST /storage_service/sstables/{keyspace}", n.postLoadSSTables)
	m.HandleFunc("GET /storage_service/view_build_statuses/{keyspace}/{view}", n.getViewBuildStatuses)
	m.HandleFunc("POST /storage_service/keyspace_flush/{keyspace}", n.postFlush)
	m.HandleFunc("GET /column_family/autocompaction/{name}", n.serveAutocompaction)
	m.HandleFunc("POST /column_family/autocompaction/{name}", n.serveAutocompaction)
	m.HandleFunc("DELETE /column_family/autocompaction/{name}", n.serveAutocompaction)
	m.HandleFunc("POST /raft/read_barrier", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	m.HandleFunc("POST /storage_service/tablets/balancing", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	m.HandleFunc("GET /v2/config/{name}", n.getConfig)
	m.HandleFunc("GET /metrics", n.getMetrics)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "Not found: %s %s", r.Method, r.URL.Path)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if code, ok := n.takeFailure(r); ok {
			writeError(w, code, "scyllatest: injected failure of %s %s", r.Method, r.URL.Path)
			return
		}
		if !n.Up() {
			writeError(w, http.StatusServiceUnavailable, "scyllatest: node %s is stopped", n.IP)
			return
		}
		m.ServeHTTP(w, r)
	})
}

// takeFailure pops the first FailNext rule matching r.
func (n *Node) takeFailure(r *http.Request) (int, bool) {
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	for i, f := range n.failRules {
		if (f.method == "" || strings.EqualFold(f.method, r.Method)) && strings.HasPrefix(r.URL.Path, f.prefix) {
			n.failRules = append(n.failRules[:i], n.failRules[i+1:]...)
			return f.status, true
		}
	}
	return 0, false
}

func (n *Node) getHostIDs(w http.ResponseWriter, _ *http.Request) {
	n.c.mu.Lock()
	out := make([]mapper, 0, len(n.c.nodes))
	for _, x := range n.c.nodes {
		out = append(out, mapper{Key: x.IP, Value: x.HostID.String()})
	}
	n.c.mu.Unlock()
	writeJSON(w, out)
}

func (n *Node) getLocalHostID(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, n.HostID.String())
}

func (n *Node) getGossip(live bool) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		n.c.mu.Lock()
		out := []string{}
		for _, x := range n.c.nodes {
			if n.seesLocked(x) == live {
				out = append(out, x.IP)
			}
		}
		n.c.mu.Unlock()
		writeJSON(w, out)
	}
}

func (n *Node) getSimpleStates(w http.ResponseWriter, _ *http.Request) {
	n.c.mu.Lock()
	out := make([]mapper, 0, len(n.c.nodes))
	for _, x := range n.c.nodes {
		st := "DOWN"
		if n.seesLocked(x) {
			st = "UP"
		}
		out = append(out, mapper{Key: "/" + x.IP, Value: st})
	}
	n.c.mu.Unlock()
	writeJSON(w, out)
}

func (n *Node) getNodesIn(s NodeState) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		n.c.mu.Lock()
		out := []string{}
		for _, x := range n.c.nodes {
			if x.state == s {
				out = append(out, x.IP)
			}
		}
		n.c.mu.Unlock()
		writeJSON(w, out)
	}
}

func (n *Node) getSnitch(field func(*Node) string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		host := r.URL.Query().Get("host")
		if host == "" {
			writeJSON(w, field(n))
			return
		}
		x := n.c.nodeByIP(host)
		if x == nil {
			writeError(w, http.StatusBadRequest, "Host %s not found in the cluster", host)
			return
		}
		writeJSON(w, field(x))
	}
}

func (n *Node) getKeyspaces(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	typ, repl := q.Get("type"), q.Get("replication")
	switch typ {
	case "", "all", "user", "non_local_strategy":
	default:
		writeError(w, http.StatusBadRequest, "Invalid value %q of parameter type: want all, user or non_local_strategy", typ)
		return
	}
	switch repl {
	case "", "all", "vnodes", "tablets":
	default:
		writeError(w, http.StatusBadRequest, "Invalid value %q of parameter replication: want all, vnodes or tablets", repl)
		return
	}
	n.c.mu.Lock()
	out := []string{}
	for _, k := range n.c.sortedKeyspacesLocked() {
		switch {
		case typ == "user" && isSystemKeyspace(k.name):
			continue
		case typ == "non_local_strategy" && k.repl.Strategy == ring.LocalStrategy:
			continue
		case repl == "tablets": // The simulator has vnode keyspaces only.
			continue
		}
		out = append(out, k.name)
	}
	n.c.mu.Unlock()
	writeJSON(w, out)
}

func (n *Node) getTableNames(w http.ResponseWriter, _ *http.Request) {
	n.c.mu.Lock()
	out := []string{}
	for _, k := range n.c.sortedKeyspacesLocked() {
		for _, t := range sortedTables(k) {
			out = append(out, k.name+":"+t.name)
		}
	}
	n.c.mu.Unlock()
	writeJSON(w, out)
}

func formatTokens(ts []int64) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = ring.FormatToken(t)
	}
	return out
}

func (n *Node) getTokens(w http.ResponseWriter, r *http.Request) {
	ep := r.PathValue("endpoint")
	x := n.c.nodeByIP(ep)
	if x == nil {
		writeError(w, http.StatusBadRequest, "Host %s not found in the cluster", ep)
		return
	}
	writeJSON(w, formatTokens(x.Tokens))
}

func (n *Node) getDescribeRing(w http.ResponseWriter, r *http.Request) {
	ks := r.PathValue("keyspace")
	ranges, byIP, err := n.c.describeRing(ks, n.IP)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	out := make([]tokenRange, len(ranges))
	for i, rg := range ranges {
		tr := tokenRange{
			StartToken: ring.FormatToken(rg.Start), EndToken: ring.FormatToken(rg.End),
			Endpoints: rg.Replicas, RPCEndpoints: rg.Replicas, EndpointDetails: []endpointDetail{},
		}
		for _, h := range rg.Replicas {
			x := byIP[h]
			tr.EndpointDetails = append(tr.EndpointDetails, endpointDetail{Host: h, Datacenter: x.DC, Rack: x.Rack})
		}
		out[i] = tr
	}
	writeJSON(w, out)
}

// describeRing returns the ranges of keyspace ks with replicas, as seen
// from node local, and the nodes by IP. Results are cached until the ring
// or the keyspace changes; callers must not modify them.
func (c *Cluster) describeRing(ks, local string) ([]ring.Range, map[string]*Node, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.keyspaces[ks]
	if !ok {
		return nil, nil, fmt.Errorf("Can't find a keyspace %s", ks) //nolint:staticcheck // Scylla's message
	}
	byIP := make(map[string]*Node, len(c.nodes))
	for _, x := range c.nodes {
		byIP[x.IP] = x
	}
	key := ks
	if k.repl.Strategy == ring.LocalStrategy {
		key += "@" + local
	}
	if out, ok := c.ringCache[key]; ok {
		return out, byIP, nil
	}
	if c.ring == nil {
		members := make([]ring.Node, 0, len(c.nodes))
		for _, x := range c.nodes {
			members = append(members, ring.Node{Host: x.IP, DC: x.DC, Rack: x.Rack, Tokens: x.Tokens})
		}
		rg, err := ring.New(members)
		if err != nil {
			return nil, nil, err
		}
		c.ring = rg
	}
	out, err := c.ring.Replicas(k.repl, local)
	if err != nil {
		return nil, nil, err
	}
	if c.ringCache == nil {
		c.ringCache = map[string][]ring.Range{}
	}
	c.ringCache[key] = out
	return out, byIP, nil
}

// invalidateRingLocked drops cached ring data after a topology or schema
// change.
func (c *Cluster) invalidateRingLocked(topologyChanged bool) {
	c.ringCache = nil
	if topologyChanged {
		c.ring = nil
	}
}

// splitName splits "ks:table" at the first colon.
func splitName(s string) (string, string, bool) {
	ks, t, ok := strings.Cut(s, ":")
	return ks, t, ok && ks != "" && t != ""
}

func (n *Node) getDiskSpaceUsed(w http.ResponseWriter, r *http.Request) {
	ks, tbl, ok := splitName(r.PathValue("name"))
	if !ok {
		writeError(w, http.StatusBadRequest, "Column family name %q: want keyspace:table", r.PathValue("name"))
		return
	}
	n.c.mu.Lock()
	t, err := n.c.tableLocked(ks, tbl)
	n.c.mu.Unlock()
	if err != nil {
		writeError(w, http.StatusBadRequest, "No such column family: %s:%s", ks, tbl)
		return
	}
	size, err := dirSize(n.tableDir(t))
	if err != nil {
		writeError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	writeJSON(w, size)
}

func (n *Node) postFlush(w http.ResponseWriter, r *http.Request) {
	ks := r.PathValue("keyspace")
	n.c.mu.Lock()
	k, ok := n.c.keyspaces[ks]
	var bad string
	if ok {
		for _, cf := range splitList(r.URL.Query().Get("cf")) {
			if _, ok := k.tables[cf]; !ok {
				bad = cf
			}
		}
	}
	n.c.mu.Unlock()
	switch {
	case !ok:
		writeError(w, http.StatusBadRequest, "Can't find a keyspace %s", ks)
	case bad != "":
		writeError(w, http.StatusBadRequest, "No such column family: %s:%s", ks, bad)
	default:
		w.WriteHeader(http.StatusOK)
	}
}

func (n *Node) serveAutocompaction(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	ks, tbl, ok := splitName(name)
	if !ok {
		writeError(w, http.StatusBadRequest, "Table name %q: want keyspace:table", name)
		return
	}
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	if _, err := n.c.tableLocked(ks, tbl); err != nil {
		writeError(w, http.StatusBadRequest, "No such column family: %s", name)
		return
	}
	switch r.Method {
	case http.MethodGet:
		enabled, set := n.autocompaction[name]
		writeJSON(w, enabled || !set)
	case http.MethodPost:
		n.autocompaction[name] = true
		w.WriteHeader(http.StatusOK)
	default:
		n.autocompaction[name] = false
		w.WriteHeader(http.StatusOK)
	}
}

// AutoCompaction reports whether auto-compaction of ks.table is enabled
// on node (the default is enabled).
func (c *Cluster) AutoCompaction(node *Node, ks, tbl string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	enabled, set := node.autocompaction[ks+":"+tbl]
	return enabled || !set
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// sleepCtx waits d or until done is closed; it reports whether d elapsed.
func sleepCtx(done <-chan struct{}, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	}
}
