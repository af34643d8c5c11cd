package storetest

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
)

func testValidation(t *testing.T, h Harness) {
	f := h.fixture(t)
	s, ctx := f.s, f.ctx
	w := f.world("valid")
	c, tk, r := w.c, w.tasks[0], w.runs[0]
	lease, err := s.AcquireLease(ctx, "valid-lease", "owner-1", time.Hour)
	noErr(t, "AcquireLease", err)
	runIDs := []uuid.UUID{w.runs[0].ID, w.runs[1].ID, w.runs[2].ID, w.runs[3].ID}
	leases := []string{"valid-lease", "x"}
	before := f.snapshot(runIDs, leases)

	// cluster returns a valid copy of c changed by mod.
	cluster := func(mod func(*store.Cluster)) *store.Cluster {
		x := *c
		mod(&x)
		return &x
	}
	task := func(mod func(*store.Task)) *store.Task {
		x := *tk
		x.Name = "other-name"
		mod(&x)
		return &x
	}
	// run returns a new valid run of tk changed by mod; for updates the ID
	// is reset to r's.
	run := func(update bool, mod func(*store.Run)) *store.Run {
		x := f.newRun(tk, f.base.Add(time.Hour), store.StatusRunning, 1)
		if update {
			x.ID = r.ID
		}
		mod(x)
		return x
	}
	row := func(mod func(*store.Progress)) *store.Progress {
		x := f.newProgress(r, "new-key", 1)
		mod(x)
		return x
	}
	event := func(mod func(*store.Event)) *store.Event {
		x := f.newEvent(c.ID, nowMS())
		mod(x)
		return x
	}
	noop := func(*store.Progress) {}
	v4 := uuid.New()

	calls := []struct {
		name string
		call func() error
	}{
		{"CreateCluster(nil)", func() error { return s.CreateCluster(ctx, nil) }},
		{"CreateCluster(nil ID)", func() error {
			return s.CreateCluster(ctx, cluster(func(x *store.Cluster) { x.ID = uuid.Nil; x.Name = "n" }))
		}},
		{"CreateCluster(empty name)", func() error {
			return s.CreateCluster(ctx, cluster(func(x *store.Cluster) { x.ID = uuid.New(); x.Name = "" }))
		}},
		{"CreateCluster(UUID name)", func() error {
			return s.CreateCluster(ctx, cluster(func(x *store.Cluster) { x.ID = uuid.New(); x.Name = uuid.NewString() }))
		}},
		{"CreateCluster(port -1)", func() error {
			return s.CreateCluster(ctx, cluster(func(x *store.Cluster) { x.ID = uuid.New(); x.Name = "n"; x.Port = -1 }))
		}},
		{"CreateCluster(port 65536)", func() error {
			return s.CreateCluster(ctx, cluster(func(x *store.Cluster) { x.ID = uuid.New(); x.Name = "n"; x.Port = 65536 }))
		}},
		{"UpdateCluster(nil)", func() error { return s.UpdateCluster(ctx, nil) }},
		{"UpdateCluster(empty name)", func() error { return s.UpdateCluster(ctx, cluster(func(x *store.Cluster) { x.Name = "" })) }},
		{"UpdateCluster(UUID name)", func() error {
			return s.UpdateCluster(ctx, cluster(func(x *store.Cluster) { x.Name = uuid.NewString() }))
		}},
		{"UpdateCluster(port)", func() error { return s.UpdateCluster(ctx, cluster(func(x *store.Cluster) { x.Port = 70000 })) }},

		{"PutSecret(nil cluster)", func() error { return s.PutSecret(ctx, uuid.Nil, "k", []byte("v")) }},
		{"PutSecret(empty key)", func() error { return s.PutSecret(ctx, c.ID, "", []byte("v")) }},
		{"DeleteSecret(nil cluster)", func() error { return s.DeleteSecret(ctx, uuid.Nil, store.SecretAuthToken) }},
		{"DeleteSecret(empty key)", func() error { return s.DeleteSecret(ctx, c.ID, "") }},

		{"CreateTask(nil)", func() error { return s.CreateTask(ctx, nil) }},
		{"CreateTask(nil cluster)", func() error {
			return s.CreateTask(ctx, task(func(x *store.Task) { x.ID = uuid.New(); x.ClusterID = uuid.Nil }))
		}},
		{"CreateTask(nil ID)", func() error { return s.CreateTask(ctx, task(func(x *store.Task) { x.ID = uuid.Nil })) }},
		{"CreateTask(empty type)", func() error {
			return s.CreateTask(ctx, task(func(x *store.Task) { x.ID = uuid.New(); x.Type = "" }))
		}},
		{"UpdateTask(nil)", func() error { return s.UpdateTask(ctx, nil) }},
		{"UpdateTask(nil cluster)", func() error { return s.UpdateTask(ctx, task(func(x *store.Task) { x.ClusterID = uuid.Nil })) }},
		{"UpdateTask(empty type)", func() error { return s.UpdateTask(ctx, task(func(x *store.Task) { x.Type = "" })) }},

		{"CreateRun(nil)", func() error { return s.CreateRun(ctx, nil) }},
		{"CreateRun(nil cluster)", func() error { return s.CreateRun(ctx, run(false, func(x *store.Run) { x.ClusterID = uuid.Nil })) }},
		{"CreateRun(nil task)", func() error { return s.CreateRun(ctx, run(false, func(x *store.Run) { x.TaskID = uuid.Nil })) }},
		{"CreateRun(v4 ID)", func() error { return s.CreateRun(ctx, run(false, func(x *store.Run) { x.ID = v4 })) }},
		{"CreateRun(nil ID)", func() error { return s.CreateRun(ctx, run(false, func(x *store.Run) { x.ID = uuid.Nil })) }},
		{"CreateRun(bad status)", func() error { return s.CreateRun(ctx, run(false, func(x *store.Run) { x.Status = "running" })) }},
		{"CreateRun(empty status)", func() error { return s.CreateRun(ctx, run(false, func(x *store.Run) { x.Status = "" })) }},
		{"CreateRun(negative fence)", func() error { return s.CreateRun(ctx, run(false, func(x *store.Run) { x.Fence = -1 })) }},
		{"UpdateRun(nil)", func() error { return s.UpdateRun(ctx, nil) }},
		{"UpdateRun(bad status)", func() error { return s.UpdateRun(ctx, run(true, func(x *store.Run) { x.Status = "FINISHED" })) }},
		{"UpdateRun(negative fence)", func() error { return s.UpdateRun(ctx, run(true, func(x *store.Run) { x.Fence = -5 })) }},
		{"UpdateRun(nil cluster)", func() error { return s.UpdateRun(ctx, run(true, func(x *store.Run) { x.ClusterID = uuid.Nil })) }},

		{"PutProgress(nil)", func() error { return s.PutProgress(ctx, nil) }},
		{"PutProgress(nil run)", func() error { return s.PutProgress(ctx, row(func(x *store.Progress) { x.RunID = uuid.Nil })) }},
		{"PutProgress(nil task)", func() error { return s.PutProgress(ctx, row(func(x *store.Progress) { x.TaskID = uuid.Nil })) }},
		{"PutProgress(empty key)", func() error { return s.PutProgress(ctx, row(func(x *store.Progress) { x.Key = "" })) }},
		{"PutProgressBatch(nil row)", func() error { return store.PutProgressBatch(ctx, s, []*store.Progress{row(noop), nil}) }},
		{"PutProgressBatch(empty key)", func() error {
			return store.PutProgressBatch(ctx, s, []*store.Progress{row(noop), row(func(x *store.Progress) { x.Key = "" })})
		}},
		{"PutProgressBatch(two runs)", func() error {
			return store.PutProgressBatch(ctx, s, []*store.Progress{row(noop), f.newProgress(w.runs[1], "other-run", 1)})
		}},
		{"PutProgressBatch(two fences)", func() error {
			return store.PutProgressBatch(ctx, s, []*store.Progress{row(noop), row(func(x *store.Progress) { x.Key = "k2"; x.Fence = 2 })})
		}},
		{"PutProgressBatch(key twice)", func() error { return store.PutProgressBatch(ctx, s, []*store.Progress{row(noop), row(noop)}) }},

		{"AppendEvent(nil)", func() error { return s.AppendEvent(ctx, nil) }},
		{"AppendEvent(v4 ID)", func() error { return s.AppendEvent(ctx, event(func(x *store.Event) { x.ID = v4 })) }},
		{"AppendEvent(nil cluster)", func() error { return s.AppendEvent(ctx, event(func(x *store.Event) { x.ClusterID = uuid.Nil })) }},
		{"AppendEvent(zero time)", func() error { return s.AppendEvent(ctx, event(func(x *store.Event) { x.Time = time.Time{} })) }},
		{"AppendEvent(negative TTL)", func() error { return s.AppendEvent(ctx, event(func(x *store.Event) { x.TTL = -time.Second })) }},
		{"QueryEvents(nil cluster)", func() error {
			_, err := s.QueryEvents(ctx, store.EventQuery{TaskID: tk.ID})
			return err
		}},
		{"QueryEvents(negative limit)", func() error {
			_, err := s.QueryEvents(ctx, store.EventQuery{ClusterID: c.ID, Limit: -1})
			return err
		}},

		{"AcquireLease(empty name)", func() error { _, err := s.AcquireLease(ctx, "", "o", time.Minute); return err }},
		{"AcquireLease(empty owner)", func() error { _, err := s.AcquireLease(ctx, "x", "", time.Minute); return err }},
		{"AcquireLease(zero TTL)", func() error { _, err := s.AcquireLease(ctx, "x", "o", 0); return err }},
		{"AcquireLease(negative TTL)", func() error { _, err := s.AcquireLease(ctx, "x", "o", -time.Second); return err }},
		{"AcquireLease(held, zero TTL)", func() error { _, err := s.AcquireLease(ctx, "valid-lease", "owner-1", 0); return err }},
		{"RenewLease(zero TTL)", func() error { _, err := s.RenewLease(ctx, lease, 0); return err }},
		{"RenewLease(empty name)", func() error {
			l := lease
			l.Name = ""
			_, err := s.RenewLease(ctx, l, time.Minute)
			return err
		}},
		{"RenewLease(empty owner)", func() error {
			l := lease
			l.Owner = ""
			_, err := s.RenewLease(ctx, l, time.Minute)
			return err
		}},
		{"ReleaseLease(empty name)", func() error {
			l := lease
			l.Name = ""
			return s.ReleaseLease(ctx, l)
		}},
		{"ReleaseLease(empty owner)", func() error {
			l := lease
			l.Owner = ""
			return s.ReleaseLease(ctx, l)
		}},
		{"GetLease(empty name)", func() error { _, err := s.GetLease(ctx, ""); return err }},
	}
	for _, tc := range calls {
		err := tc.call()
		wantErr(t, tc.name, err, store.ErrInvalid)
		var ie *store.InvalidError
		if err != nil && !asInvalid(err, &ie) {
			t.Errorf("%s: error %v does not wrap a *store.InvalidError", tc.name, err)
		}
	}
	after := f.snapshot(runIDs, leases)
	if d := diff(before, after); d != "" {
		t.Errorf("refused calls changed the store (-before +after):\n%s", d)
	}
}
