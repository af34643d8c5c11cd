package storetest

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
)

// Harness tells the suite how to get stores and how coarse the driver's
// clock is.
type Harness struct {
	// New returns a new, open and empty store. It may register cleanups
	// with t (closing a store twice is allowed). Required.
	New func(t *testing.T) store.Store
	// ShortTTL is the TTL of the leases and events whose expiry the suite
	// waits for. Default: 100ms. A driver whose TTLs have one-second
	// resolution sets 1s.
	ShortTTL time.Duration
	// ExpiryGrace is how long after its expiry time a lease or event may
	// still be visible before the suite fails. Default: 5s.
	ExpiryGrace time.Duration
}

// Run runs the conformance suite with a default Harness around
// newStore.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	Harness{New: newStore}.Run(t)
}

// Run runs the conformance suite: one named subtest per part of the
// contract, each on a fresh store.
func (h Harness) Run(t *testing.T) {
	t.Helper()
	if h.New == nil {
		t.Fatal("storetest: Harness.New is nil")
	}
	if h.ShortTTL <= 0 {
		h.ShortTTL = 100 * time.Millisecond
	}
	if h.ExpiryGrace <= 0 {
		h.ExpiryGrace = 5 * time.Second
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"NotFound", testNotFound},
		{"Conflict", testConflict},
		{"ListOrder", testListOrder},
		{"Validation", testValidation},
		{"EventTTL", testEventTTL},
		{"EventQuery", testEventQuery},
		{"LeaseAcquireRenewRelease", testLeaseAcquireRenewRelease},
		{"LeaseExpiryAndSteal", testLeaseExpiryAndSteal},
		{"StaleFenceRefused", testStaleFenceRefused},
		{"ProgressBatch", testProgressBatch},
		{"Cascade", testCascade},
		{"CopySemantics", testCopySemantics},
		{"ConcurrentWriters", testConcurrentWriters},
		{"CanceledContext", testCanceledContext},
		{"UseAfterClose", testUseAfterClose},
		{"Secrets", testSecrets},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

// fixture is a store under test with helpers that create records and fail
// the test on error.
type fixture struct {
	t   *testing.T
	s   store.Store
	ctx context.Context //nolint:containedctx // the subtest's t.Context(), shared by its helpers
	// base is a fixed instant the records' times derive from.
	base time.Time
}

func (h Harness) fixture(t *testing.T) *fixture {
	t.Helper()
	s := h.New(t)
	if s == nil {
		t.Fatal("storetest: Harness.New returned nil")
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &fixture{
		t:    t,
		s:    s,
		ctx:  t.Context(),
		base: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC),
	}
}

// cmpOpts: drivers need not tell a nil map or slice from an empty one;
// JSON payloads compare as bytes (go-cmp's element-wise walk takes
// seconds on rows of hundreds of KiB).
var cmpOpts = []cmp.Option{cmpopts.EquateEmpty(), cmp.Comparer(func(a, b json.RawMessage) bool { return bytes.Equal(a, b) })}

func diff(want, got any) string { return cmp.Diff(want, got, cmpOpts...) }

// timeUUID returns a version-1 UUID carrying the time at (100 ns
// resolution) and random clock sequence and node.
func timeUUID(at time.Time) uuid.UUID {
	var u uuid.UUID
	binary.BigEndian.PutUint64(u[8:], rand.Uint64())
	// 100-ns intervals since 1582-10-15, the UUID epoch.
	ts := uint64(at.UnixNano()/100) + 0x01B21DD213814000
	binary.BigEndian.PutUint32(u[0:], uint32(ts))
	binary.BigEndian.PutUint16(u[4:], uint16(ts>>32))
	binary.BigEndian.PutUint16(u[6:], uint16(ts>>48)&0x0fff|0x1000)
	u[8] = u[8]&0x3f | 0x80
	return u
}

func nowMS() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

func (f *fixture) newCluster(name string) *store.Cluster {
	return &store.Cluster{
		ID:         uuid.New(),
		Name:       name,
		Host:       "10.0.0.1",
		Port:       10001,
		Labels:     map[string]string{"env": "test"},
		KnownHosts: []string{"10.0.0.1", "10.0.0.2"},
		CreatedAt:  f.base,
		UpdatedAt:  f.base,
	}
}

func (f *fixture) cluster(name string) *store.Cluster {
	f.t.Helper()
	c := f.newCluster(name)
	if err := f.s.CreateCluster(f.ctx, c); err != nil {
		f.t.Fatalf("CreateCluster(%q): %v", name, err)
	}
	return c
}

func (f *fixture) newTask(clusterID uuid.UUID, typ, name string) *store.Task {
	return &store.Task{
		ClusterID: clusterID,
		ID:        uuid.New(),
		Type:      typ,
		Name:      name,
		Labels:    map[string]string{"team": "db"},
		Enabled:   true,
		Schedule: store.Schedule{
			Cron:       "0 3 * * *",
			Window:     []string{"Mon-01:00", "Mon-05:00"},
			Timezone:   "Europe/Warsaw",
			StartDate:  f.base,
			NumRetries: 3,
			RetryWait:  10 * time.Minute,
		},
		Properties: json.RawMessage(`{"location":["s3:bucket"],"retention":3}`),
		CreatedAt:  f.base,
		UpdatedAt:  f.base,
	}
}

func (f *fixture) task(clusterID uuid.UUID, typ, name string) *store.Task {
	f.t.Helper()
	tk := f.newTask(clusterID, typ, name)
	if err := f.s.CreateTask(f.ctx, tk); err != nil {
		f.t.Fatalf("CreateTask(%s %q): %v", typ, name, err)
	}
	return tk
}

func (f *fixture) newRun(tk *store.Task, at time.Time, st store.Status, fence int64) *store.Run {
	r := &store.Run{
		ClusterID:  tk.ClusterID,
		TaskID:     tk.ID,
		ID:         timeUUID(at),
		Type:       tk.Type,
		Status:     st,
		Owner:      "manager-1",
		Fence:      fence,
		Activation: at,
		Properties: json.RawMessage(`{"continue":true}`),
		StartTime:  at,
	}
	if st.Final() {
		r.EndTime = at.Add(time.Minute)
	}
	return r
}

func (f *fixture) run(tk *store.Task, at time.Time, st store.Status, fence int64) *store.Run {
	f.t.Helper()
	r := f.newRun(tk, at, st, fence)
	if err := f.s.CreateRun(f.ctx, r); err != nil {
		f.t.Fatalf("CreateRun(%s): %v", r.ID, err)
	}
	return r
}

func (f *fixture) newProgress(r *store.Run, key string, fence int64) *store.Progress {
	return &store.Progress{
		ClusterID: r.ClusterID,
		TaskID:    r.TaskID,
		RunID:     r.ID,
		Key:       key,
		Data:      json.RawMessage(fmt.Sprintf(`{"key":%q,"bytes":1024}`, key)),
		Fence:     fence,
		UpdatedAt: f.base,
	}
}

// newProgresses returns new rows of r, one per key.
func (f *fixture) newProgresses(r *store.Run, fence int64, keys ...string) []*store.Progress {
	out := make([]*store.Progress, len(keys))
	for i, k := range keys {
		out[i] = f.newProgress(r, k, fence)
	}
	return out
}

func (f *fixture) progress(r *store.Run, key string, fence int64) *store.Progress {
	f.t.Helper()
	p := f.newProgress(r, key, fence)
	if err := f.s.PutProgress(f.ctx, p); err != nil {
		f.t.Fatalf("PutProgress(%s %q): %v", r.ID, key, err)
	}
	return p
}

func (f *fixture) newEvent(clusterID uuid.UUID, at time.Time) *store.Event {
	return &store.Event{
		ID:         timeUUID(at),
		ClusterID:  clusterID,
		Time:       at,
		Kind:       "run_status",
		Severity:   "info",
		Message:    "run started",
		Attributes: map[string]string{"host": "10.0.0.1"},
	}
}

func (f *fixture) event(e *store.Event) *store.Event {
	f.t.Helper()
	if err := f.s.AppendEvent(f.ctx, e); err != nil {
		f.t.Fatalf("AppendEvent(%s): %v", e.ID, err)
	}
	return e
}

// wantErr fails the test unless errors.Is(err, target).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want %v", what, err, target)
	}
}

// noErr fails the test now if err is not nil.
func noErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eventually calls cond until it returns true or the deadline passes;
// the suite needs it because expiry follows the real clock.
func eventually(t *testing.T, deadline time.Time, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true by %s", what, deadline.Format(time.RFC3339Nano))
		}
		select {
		case <-tick.C:
		case <-t.Context().Done():
			t.Fatalf("%s: %v", what, t.Context().Err())
		}
	}
}

// snapshot is everything a store holds about the given clusters, tasks,
// runs and lease names, read through the public API.
type snapshot struct {
	Clusters   []*store.Cluster
	Tasks      []*store.Task
	Runs       map[uuid.UUID][]*store.Run
	Unfinished []*store.Run
	Progress   map[uuid.UUID][]*store.Progress
	Secrets    map[uuid.UUID][]string
	Events     map[uuid.UUID][]*store.Event
	Leases     map[string]string
}

// snapshot reads the state of the store, plus the runs, progress rows and
// leases of the given IDs and names (the API cannot list them all).
func (f *fixture) snapshot(runIDs []uuid.UUID, leases []string) snapshot {
	f.t.Helper()
	var sn snapshot
	var err error
	sn.Clusters, err = f.s.ListClusters(f.ctx)
	noErr(f.t, "ListClusters", err)
	sn.Tasks, err = f.s.ListTasks(f.ctx, uuid.Nil)
	noErr(f.t, "ListTasks", err)
	sn.Unfinished, err = f.s.ListUnfinishedRuns(f.ctx)
	noErr(f.t, "ListUnfinishedRuns", err)
	sn.Runs = map[uuid.UUID][]*store.Run{}
	for _, tk := range sn.Tasks {
		sn.Runs[tk.ID], err = f.s.ListRuns(f.ctx, tk.ID, 0)
		noErr(f.t, "ListRuns", err)
	}
	sn.Progress = map[uuid.UUID][]*store.Progress{}
	for _, id := range runIDs {
		sn.Progress[id], err = f.s.ListProgress(f.ctx, id)
		noErr(f.t, "ListProgress", err)
	}
	sn.Secrets = map[uuid.UUID][]string{}
	sn.Events = map[uuid.UUID][]*store.Event{}
	for _, c := range sn.Clusters {
		sn.Secrets[c.ID], err = f.s.ListSecretKeys(f.ctx, c.ID)
		noErr(f.t, "ListSecretKeys", err)
		sn.Events[c.ID], err = f.s.QueryEvents(f.ctx, store.EventQuery{ClusterID: c.ID})
		noErr(f.t, "QueryEvents", err)
	}
	sn.Leases = map[string]string{}
	for _, name := range leases {
		l, err := f.s.GetLease(f.ctx, name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			sn.Leases[name] = "-"
		case err != nil:
			f.t.Fatalf("GetLease(%q): %v", name, err)
		default:
			sn.Leases[name] = fmt.Sprintf("%s/%d/%s", l.Owner, l.Fence, l.Expires.UTC().Format(time.RFC3339Nano))
		}
	}
	return sn
}

func asInvalid(err error, target **store.InvalidError) bool { return errors.As(err, target) }
