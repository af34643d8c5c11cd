package scyllatest

import (
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/scyllaops/scyllaops/internal/ring"
)

// Repair job states (swagger repair_async_statusResponse).
const (
	repairRunning    = "RUNNING"
	repairSuccessful = "SUCCESSFUL"
	repairFailed     = "FAILED"
)

// repairJob is one repair_async command. status is guarded by Cluster.mu.
type repairJob struct {
	id     int
	status string
	done   chan struct{} // closed when status leaves RUNNING
	abort  chan struct{} // closed by force_terminate_repair
}

// RepairedRange is one token range a repair job finished.
type RepairedRange struct {
	// Coordinator is the node the repair_async call was sent to.
	Coordinator string
	// JobID is the repair command id.
	JobID int
	// Keyspace and Tables repaired (Tables empty = all of the keyspace).
	Keyspace string
	Tables   []string
	// Start and End bound the range (Start, End].
	Start, End int64
	// Hosts are the hosts parameter of the call (empty = all replicas).
	Hosts []string
}

// RepairedRanges returns every range repaired so far, in completion order.
func (c *Cluster) RepairedRanges() []RepairedRange {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]RepairedRange(nil), c.repaired...)
}

func (n *Node) postRepair(w http.ResponseWriter, r *http.Request) {
	ks := r.PathValue("keyspace")
	q := r.URL.Query()
	tables := splitList(q.Get("columnFamilies"))
	ranges, err := ring.ParseRanges(q.Get("ranges"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	hosts := splitList(q.Get("hosts"))
	n.c.mu.Lock()
	k, ok := n.c.keyspaces[ks]
	if !ok {
		n.c.mu.Unlock()
		writeError(w, http.StatusBadRequest, "Keyspace %s does not exist", ks)
		return
	}
	for _, t := range tables {
		if _, ok := k.tables[t]; !ok {
			n.c.mu.Unlock()
			writeError(w, http.StatusBadRequest, "Unknown table %s.%s", ks, t)
			return
		}
	}
	for _, h := range hosts {
		if n.c.byIP[h] == nil {
			n.c.mu.Unlock()
			writeError(w, http.StatusBadRequest, "Unknown host %s in hosts", h)
			return
		}
	}
	n.c.mu.Unlock()

	// Ranges default to the ranges this node replicates.
	all, _, err := n.c.describeRing(ks, n.IP)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	replicas := map[[2]int64][]string{}
	for _, rg := range all {
		replicas[[2]int64{rg.Start, rg.End}] = rg.Replicas
	}
	if len(ranges) == 0 {
		for _, rg := range all {
			for _, h := range rg.Replicas {
				if h == n.IP {
					ranges = append(ranges, rg)
					break
				}
			}
		}
	}
	for i := range ranges {
		ranges[i].Replicas = replicas[[2]int64{ranges[i].Start, ranges[i].End}]
	}

	n.c.mu.Lock()
	if n.c.closing {
		n.c.mu.Unlock()
		writeError(w, http.StatusServiceUnavailable, "scyllatest: cluster closing")
		return
	}
	n.c.nextRepairID++
	job := &repairJob{id: n.c.nextRepairID, status: repairRunning, done: make(chan struct{}), abort: make(chan struct{})}
	n.repairs[job.id] = job
	delay := n.c.opts.RepairRangeDelay
	n.c.wg.Go(func() { n.runRepair(job, ks, tables, hosts, ranges, delay) })
	n.c.mu.Unlock()
	writeJSON(w, job.id)
}

func (n *Node) runRepair(job *repairJob, ks string, tables, hosts []string, ranges []ring.Range, delay time.Duration) {
	status := repairSuccessful
	defer func() {
		n.c.mu.Lock()
		job.status = status
		close(job.done)
		n.c.mu.Unlock()
	}()
	for _, rg := range ranges {
		if !waitRange(delay, job.abort, n.c.stop) {
			status = repairFailed
			return
		}
		n.c.mu.Lock()
		participants := hosts
		if len(participants) == 0 {
			participants = rg.Replicas
		}
		ok := n.up
		for _, h := range participants {
			if x := n.c.byIP[h]; x == nil || !n.seesLocked(x) {
				ok = false
			}
		}
		select {
		case <-job.abort:
			ok = false
		default:
		}
		if ok {
			n.c.repaired = append(n.c.repaired, RepairedRange{
				Coordinator: n.IP, JobID: job.id, Keyspace: ks, Tables: tables,
				Start: rg.Start, End: rg.End, Hosts: hosts,
			})
		}
		n.c.mu.Unlock()
		if !ok {
			status = repairFailed
			return
		}
	}
}

func (n *Node) getRepairStatus(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id, err := strconv.Atoi(q.Get("id"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "Missing or invalid mandatory parameter 'id' (want an integer): %q", q.Get("id"))
		return
	}
	timeout := -1
	if s := q.Get("timeout"); s != "" {
		if timeout, err = strconv.Atoi(s); err != nil {
			writeError(w, http.StatusBadRequest, "Invalid parameter 'timeout' (want seconds): %q", s)
			return
		}
	}
	n.c.mu.Lock()
	job := n.repairs[id]
	n.c.mu.Unlock()
	if job == nil {
		writeError(w, http.StatusInternalServerError, "unknown repair id %d", id)
		return
	}
	var tc <-chan time.Time
	if timeout >= 0 {
		t := time.NewTimer(time.Duration(timeout) * time.Second)
		defer t.Stop()
		tc = t.C
	}
	select {
	case <-job.done:
	case <-tc:
	case <-r.Context().Done():
		return
	}
	n.c.mu.Lock()
	st := job.status
	n.c.mu.Unlock()
	writeJSON(w, st)
}

func (n *Node) getActiveRepairs(w http.ResponseWriter, _ *http.Request) {
	n.c.mu.Lock()
	out := []int{}
	for id, j := range n.repairs {
		if j.status == repairRunning {
			out = append(out, id)
		}
	}
	n.c.mu.Unlock()
	sort.Ints(out)
	writeJSON(w, out)
}

func (n *Node) postTerminateRepair(w http.ResponseWriter, _ *http.Request) {
	n.c.mu.Lock()
	for _, j := range n.repairs {
		if j.status == repairRunning {
			select {
			case <-j.abort:
			default:
				close(j.abort)
			}
		}
	}
	n.c.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// waitRange waits d; false if abort or stop is closed first.
func waitRange(d time.Duration, abort, stop <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-abort:
		return false
	case <-stop:
		return false
	}
}
