package boltstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/boltstore"
	"github.com/scyllaops/scyllaops/store/storetest"
)

// open opens a store in a new file under t.TempDir and closes it at the
// end of the test.
func open(t *testing.T, opts boltstore.Options) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(t.Context(), filepath.Join(t.TempDir(), "store.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, boltstore.Options{}) })
}

func TestReopenKeepsEverything(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := boltstore.Open(ctx, path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := &store.Cluster{ID: uuid.New(), Name: "prod", Labels: map[string]string{"a": "b"}, CreatedAt: time.Now()}
	tk := &store.Task{ClusterID: c.ID, ID: uuid.New(), Type: "backup", Name: "daily",
		Schedule:   store.Schedule{Cron: "@daily", Window: []string{"01:00", "05:00"}, RetryWait: time.Minute},
		Properties: json.RawMessage(`{"retention":3}`)}
	runID, _ := uuid.NewUUID()
	r := &store.Run{ClusterID: c.ID, TaskID: tk.ID, ID: runID, Type: "backup", Status: store.StatusRunning, Fence: 3,
		Properties: json.RawMessage(`{"continue":true}`), StartTime: time.Now()}
	p := &store.Progress{ClusterID: c.ID, TaskID: tk.ID, RunID: runID, Key: "h/ks/t", Data: json.RawMessage(`{"b":1}`), Fence: 3}
	evID, _ := uuid.NewUUID()
	ev := &store.Event{ID: evID, ClusterID: c.ID, Time: time.Now(), Kind: "k", Severity: "info", TTL: time.Hour}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreateCluster(ctx, c))
	must(s.PutSecret(ctx, c.ID, store.SecretAuthToken, []byte("tok")))
	must(s.CreateTask(ctx, tk))
	must(s.CreateRun(ctx, r))
	must(s.PutProgress(ctx, p))
	must(s.AppendEvent(ctx, ev))
	l, err := s.AcquireLease(ctx, "task/x", "me", time.Hour)
	must(err)
	must(s.Close())

	s, err = boltstore.Open(ctx, path, boltstore.Options{})
	must(err)
	defer s.Close()
	gotC, err := s.GetClusterByName(ctx, "prod")
	must(err)
	gotT, err := s.GetTask(ctx, c.ID, tk.ID)
	must(err)
	gotR, err := s.GetRun(ctx, tk.ID, runID)
	must(err)
	gotP, err := s.ListProgress(ctx, runID)
	must(err)
	gotE, err := s.QueryEvents(ctx, store.EventQuery{ClusterID: c.ID})
	must(err)
	gotS, err := s.GetSecret(ctx, c.ID, store.SecretAuthToken)
	must(err)
	gotL, err := s.GetLease(ctx, "task/x")
	must(err)
	un, err := s.ListUnfinishedRuns(ctx)
	must(err)
	for _, d := range []string{
		cmp.Diff(c, gotC), cmp.Diff(tk, gotT), cmp.Diff(r, gotR), cmp.Diff([]*store.Progress{p}, gotP),
		cmp.Diff([]*store.Event{ev}, gotE), cmp.Diff("tok", string(gotS)), cmp.Diff(l, gotL), cmp.Diff([]*store.Run{r}, un),
	} {
		if d != "" {
			t.Errorf("after reopen (-want +got):\n%s", d)
		}
	}
	// The fence of the lease name keeps growing across reopenings.
	must(s.ReleaseLease(ctx, gotL))
	l2, err := s.AcquireLease(ctx, "task/x", "other", time.Hour)
	must(err)
	if l2.Fence <= l.Fence {
		t.Errorf("fence after reopen and release = %d, want > %d", l2.Fence, l.Fence)
	}
}

func TestOpenLockedFileTimesOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := boltstore.Open(t.Context(), path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = boltstore.Open(t.Context(), path, boltstore.Options{Timeout: 100 * time.Millisecond})
	if !errors.Is(err, berrors.ErrTimeout) {
		t.Fatalf("second Open of a locked file = %v, want bbolt's timeout", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := boltstore.Open(t.Context(), path, boltstore.Options{Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open after the holder closed: %v", err)
	}
	_ = s2.Close()
}

func TestOpenRejects(t *testing.T) {
	dir := t.TempDir()
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := boltstore.Open(canceled, filepath.Join(dir, "a.db"), boltstore.Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Open(canceled ctx) = %v, want context.Canceled", err)
	}
	for name, opts := range map[string]boltstore.Options{
		"negative timeout": {Timeout: -time.Second},
		"file mode bits":   {FileMode: os.ModeDir | 0o600},
	} {
		if err := opts.Validate(); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: Validate = %v, want ErrInvalid", name, err)
		}
		if _, err := boltstore.Open(t.Context(), filepath.Join(dir, "b.db"), opts); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: Open = %v, want ErrInvalid", name, err)
		}
	}
	if err := (boltstore.Options{}).Validate(); err != nil {
		t.Errorf("zero Options: Validate = %v", err)
	}
	if _, err := boltstore.Open(t.Context(), "", boltstore.Options{}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Open(empty path) = %v, want ErrInvalid", err)
	}
	if _, err := boltstore.Open(t.Context(), filepath.Join(dir, "missing-dir", "c.db"), boltstore.Options{}); err == nil {
		t.Error("Open in a missing directory succeeded")
	}
	// A file of another schema version is refused, not reinterpreted.
	path := filepath.Join(dir, "future.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("meta"))
		if err != nil {
			return err
		}
		return b.Put([]byte("version"), []byte("99"))
	})
	_ = db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := boltstore.Open(t.Context(), path, boltstore.Options{}); err == nil || !strings.Contains(err.Error(), "schema version") {
		t.Errorf("Open(schema 99) = %v, want a schema version error", err)
	}
}

// BenchmarkPutProgress measures one durable progress write (one bbolt
// transaction with fsync).
func BenchmarkPutProgress(b *testing.B) {
	ctx := b.Context()
	s, err := boltstore.Open(ctx, filepath.Join(b.TempDir(), "store.db"), boltstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	c := &store.Cluster{ID: uuid.New(), Name: "bench"}
	tk := &store.Task{ClusterID: c.ID, ID: uuid.New(), Type: "backup"}
	runID, _ := uuid.NewUUID()
	r := &store.Run{ClusterID: c.ID, TaskID: tk.ID, ID: runID, Status: store.StatusRunning}
	if err := errors.Join(s.CreateCluster(ctx, c), s.CreateTask(ctx, tk), s.CreateRun(ctx, r)); err != nil {
		b.Fatal(err)
	}
	data := json.RawMessage(`{"uploaded":123456789,"size":987654321,"files":42}`)
	i := 0
	for b.Loop() {
		p := &store.Progress{TaskID: tk.ID, RunID: runID, Key: strconv.Itoa(i % 1000), Data: data}
		if err := s.PutProgress(ctx, p); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// TestExpiredEventsPurged checks that AppendEvent deletes expired events
// from the file (in batches), not only hides them.
func TestExpiredEventsPurged(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := boltstore.Open(ctx, path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cid := uuid.New()
	appendEvent := func(at time.Time, ttl time.Duration) {
		t.Helper()
		id, err := uuid.NewUUID()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.AppendEvent(ctx, &store.Event{ID: id, ClusterID: cid, Time: at, TTL: ttl}); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	for range 150 {
		appendEvent(old, time.Hour) // expired on arrival
	}
	for range 5 {
		appendEvent(time.Now(), time.Hour)
		appendEvent(time.Now(), 0)
	}
	evs, err := s.QueryEvents(ctx, store.EventQuery{ClusterID: cid})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 10 {
		t.Errorf("QueryEvents = %d events, want the 10 unexpired", len(evs))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		if n := tx.Bucket([]byte("events")).Stats().KeyN; n != 10 {
			t.Errorf("events bucket holds %d keys, want 10", n)
		}
		if n := tx.Bucket([]byte("event_expiry")).Stats().KeyN; n != 5 {
			t.Errorf("event_expiry bucket holds %d keys, want 5", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
