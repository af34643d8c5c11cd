package scyllatest

import (
	"net/http"
	"slices"
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
	rec    int           // index into Cluster.repairJobs
}

// RepairFault makes a node misbehave as a repair coordinator or
// participant (SetRepairFault). The zero value is a healthy node.
type RepairFault struct {
	// Slow multiplies the time per range of jobs the node takes part in
	// (values <= 1 leave it unchanged).
	Slow float64
	// Hang makes jobs the node takes part in never finish until they are
	// aborted (force_terminate_repair on the coordinator) or the fault is
	// cleared.
	Hang bool
	// Fail makes jobs the node takes part in end FAILED at their first
	// range.
	Fail bool
}

// RepairJob records one repair_async command (RepairJobs).
type RepairJob struct {
	// ID is the command id on the coordinator.
	ID int
	// Coordinator is the node the call was sent to.
	Coordinator string
	Keyspace    string
	Tables      []string
	// Hosts is the hosts parameter (empty = all replicas).
	Hosts []string
	// Participants are the nodes the job holds: Hosts, or the union of
	// the replicas of its ranges.
	Participants []string
	// Ranges is the number of ranges of the call; SmallTable marks a
	// small_table_optimization call (whole table, no ranges list).
	Ranges     int
	SmallTable bool
	// Parallelism is ranges_parallelism (1 when not set).
	Parallelism int
	// Start and End bound the job (End zero while it runs).
	Start, End time.Time
	// Status is RUNNING, SUCCESSFUL or FAILED.
	Status string
}

// SetRepairFault sets node's repair fault (the zero RepairFault clears
// it). Clearing Hang lets hung jobs go on.
func (c *Cluster) SetRepairFault(node *Node, f RepairFault) {
	c.mu.Lock()
	defer c.mu.Unlock()
	node.repairFault = f
}

// SetPendingCompactions sets what node answers on
// compaction_manager/metrics/pending_tasks.
func (c *Cluster) SetPendingCompactions(node *Node, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	node.pendingCompactions = n
}

// RepairJobs returns every repair_async call so far, in start order.
func (c *Cluster) RepairJobs() []RepairJob {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]RepairJob, len(c.repairJobs))
	for i, j := range c.repairJobs {
		j.Tables = append([]string(nil), j.Tables...)
		j.Hosts = append([]string(nil), j.Hosts...)
		j.Participants = append([]string(nil), j.Participants...)
		out[i] = j
	}
	return out
}

func (n *Node) getPendingCompactions(w http.ResponseWriter, _ *http.Request) {
	n.c.mu.Lock()
	v := n.pendingCompactions
	n.c.mu.Unlock()
	writeJSON(w, v)
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
	// Replicas are the ring's replicas of the range.
	Replicas []string
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

	small := q.Get("small_table_optimization") == "true"
	par := 1
	if v := q.Get("ranges_parallelism"); v != "" {
		if par, err = strconv.Atoi(v); err != nil || par < 1 {
			writeError(w, http.StatusBadRequest, "Invalid parameter 'ranges_parallelism' (want a positive integer): %q", v)
			return
		}
	}

	// Ranges default to the ranges this node replicates (all of them for
	// a small-table repair).
	all, _, err := n.c.describeRing(ks, n.IP)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	if len(ranges) == 0 {
		for _, rg := range all {
			if small || slices.Contains(rg.Replicas, n.IP) {
				ranges = append(ranges, rg)
			}
		}
	}
	for i := range ranges {
		ranges[i].Replicas = ringReplicas(all, ranges[i])
	}
	participants := hosts
	if len(participants) == 0 {
		seen := map[string]bool{}
		for _, rg := range ranges {
			for _, h := range rg.Replicas {
				if !seen[h] {
					seen[h] = true
					participants = append(participants, h)
				}
			}
		}
		sort.Strings(participants)
	}
	perRange := n.c.opts.RepairRangeDelay
	if bps := n.c.opts.RepairBytesPerSec; bps > 0 && len(all) > 0 {
		var size int64
		n.c.mu.Lock()
		k := n.c.keyspaces[ks]
		var dirs []string
		for name, t := range k.tables {
			if len(tables) == 0 || slices.Contains(tables, name) {
				dirs = append(dirs, n.tableDir(t))
			}
		}
		n.c.mu.Unlock()
		for _, d := range dirs {
			if sz, err := dirSize(d); err == nil {
				size += sz
			}
		}
		perRange += time.Duration(float64(size) / float64(len(all)) / float64(bps) * float64(time.Second))
	}

	n.c.mu.Lock()
	if n.c.closing {
		n.c.mu.Unlock()
		writeError(w, http.StatusServiceUnavailable, "scyllatest: cluster closing")
		return
	}
	n.c.nextRepairID++
	job := &repairJob{id: n.c.nextRepairID, status: repairRunning, done: make(chan struct{}), abort: make(chan struct{}), rec: len(n.c.repairJobs)}
	n.c.repairJobs = append(n.c.repairJobs, RepairJob{ID: job.id, Coordinator: n.IP, Keyspace: ks, Tables: tables, Hosts: hosts,
		Participants: participants, Ranges: len(ranges), SmallTable: small, Parallelism: par, Start: time.Now(), Status: repairRunning})
	n.repairs[job.id] = job
	n.c.wg.Go(func() { n.runRepair(job, ks, tables, hosts, participants, ranges, perRange, par) })
	n.c.mu.Unlock()
	writeJSON(w, job.id)
}

// ringReplicas returns the replicas of rg: those of the ring range it is,
// or of the wrap-around range it is a piece of ((start, max] or
// (min, end], as repair splits the range that wraps).
func ringReplicas(all []ring.Range, rg ring.Range) []string {
	for _, x := range all {
		if x.Start == rg.Start && x.End == rg.End {
			return x.Replicas
		}
	}
	for _, x := range all {
		if x.Start < x.End {
			continue
		}
		if (rg.End == ring.MaxToken && rg.Start == x.Start) || (rg.Start == ring.MinToken && rg.End == x.End) {
			return x.Replicas
		}
	}
	return nil
}

// repairFaultsLocked combines the faults of the participants.
func (n *Node) repairFaultsLocked(participants []string) RepairFault {
	var f RepairFault
	for _, h := range append([]string{n.IP}, participants...) {
		if x := n.c.byIP[h]; x != nil {
			f.Slow = max(f.Slow, x.repairFault.Slow)
			f.Hang = f.Hang || x.repairFault.Hang
			f.Fail = f.Fail || x.repairFault.Fail
		}
	}
	return f
}

func (n *Node) runRepair(job *repairJob, ks string, tables, hosts, participants []string, ranges []ring.Range, delay time.Duration, par int) {
	status := repairSuccessful
	defer func() {
		n.c.mu.Lock()
		job.status = status
		n.c.repairJobs[job.rec].Status = status
		n.c.repairJobs[job.rec].End = time.Now()
		close(job.done)
		n.c.mu.Unlock()
	}()
	// Ranges go in waves of par (ranges_parallelism).
	for i := 0; i < len(ranges); i += par {
		wave := ranges[i:min(i+par, len(ranges))]
		n.c.mu.Lock()
		f := n.repairFaultsLocked(participants)
		n.c.mu.Unlock()
		for f.Hang {
			if !waitRange(10*time.Millisecond, job.abort, n.c.stop) {
				status = repairFailed
				return
			}
			n.c.mu.Lock()
			f = n.repairFaultsLocked(participants)
			n.c.mu.Unlock()
		}
		d := delay
		if f.Slow > 1 {
			d = time.Duration(float64(d) * f.Slow)
		}
		if !waitRange(d, job.abort, n.c.stop) || f.Fail {
			status = repairFailed
			return
		}
		n.c.mu.Lock()
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
			for _, rg := range wave {
				n.c.repaired = append(n.c.repaired, RepairedRange{
					Coordinator: n.IP, JobID: job.id, Keyspace: ks, Tables: tables,
					Start: rg.Start, End: rg.End, Hosts: hosts, Replicas: rg.Replicas,
				})
			}
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
