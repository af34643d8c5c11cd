package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/scyllaops/scyllaops/store"
)

func testLeaseAcquireRenewRelease(t *testing.T, h Harness) {
	f := h.fixture(t)
	s, ctx := f.s, f.ctx
	const name = "task/backup-1"

	before := time.Now()
	a, err := s.AcquireLease(ctx, name, "manager-a", time.Hour)
	noErr(t, "AcquireLease", err)
	if a.Name != name || a.Owner != "manager-a" || a.Fence <= 0 {
		t.Errorf("AcquireLease = %+v, want name %q, owner manager-a, fence > 0", a, name)
	}
	if a.Expires.Before(before.Add(time.Hour-time.Second)) || a.Expires.After(time.Now().Add(time.Hour+time.Second)) {
		t.Errorf("AcquireLease: Expires %s is not about an hour from now", a.Expires)
	}
	got, err := s.GetLease(ctx, name)
	noErr(t, "GetLease", err)
	if got.Owner != a.Owner || got.Fence != a.Fence || !got.Expires.Equal(a.Expires) {
		t.Errorf("GetLease = %+v, want %+v", got, a)
	}

	// Another owner cannot take it.
	_, err = s.AcquireLease(ctx, name, "manager-b", time.Hour)
	wantErr(t, "AcquireLease(held by another)", err, store.ErrLeaseHeld)
	// Leases of other names are independent.
	o, err := s.AcquireLease(ctx, "task/other", "manager-b", time.Hour)
	noErr(t, "AcquireLease(other name)", err)

	// The holder may acquire again: extended, same fence.
	a2, err := s.AcquireLease(ctx, name, "manager-a", 2*time.Hour)
	noErr(t, "AcquireLease(again by holder)", err)
	if a2.Fence != a.Fence || !a2.Expires.After(a.Expires) {
		t.Errorf("AcquireLease(again by holder) = %+v, want fence %d and a later expiry than %s", a2, a.Fence, a.Expires)
	}

	// Renew extends and keeps the fence.
	r, err := s.RenewLease(ctx, a2, 3*time.Hour)
	noErr(t, "RenewLease", err)
	if r.Fence != a.Fence || r.Owner != a.Owner || r.Name != name || !r.Expires.After(a2.Expires) {
		t.Errorf("RenewLease = %+v, want fence %d and a later expiry than %s", r, a.Fence, a2.Expires)
	}
	// Renewing with a wrong owner or fence fails.
	bad := r
	bad.Owner = "manager-b"
	_, err = s.RenewLease(ctx, bad, time.Hour)
	wantErr(t, "RenewLease(wrong owner)", err, store.ErrLeaseLost)
	bad = r
	bad.Fence = r.Fence + 1
	_, err = s.RenewLease(ctx, bad, time.Hour)
	wantErr(t, "RenewLease(wrong fence)", err, store.ErrLeaseLost)
	wantErr(t, "ReleaseLease(wrong owner)", s.ReleaseLease(ctx, store.Lease{Name: name, Owner: "manager-b", Fence: r.Fence}), store.ErrLeaseLost)
	_, err = s.RenewLease(ctx, store.Lease{Name: "never", Owner: "manager-a", Fence: 1}, time.Hour)
	wantErr(t, "RenewLease(never taken)", err, store.ErrLeaseLost)
	wantErr(t, "ReleaseLease(never taken)", s.ReleaseLease(ctx, store.Lease{Name: "never", Owner: "manager-a", Fence: 1}), store.ErrLeaseLost)
	got, err = s.GetLease(ctx, name)
	noErr(t, "GetLease", err)
	if got.Owner != "manager-a" || got.Fence != a.Fence {
		t.Errorf("refused renewals changed the lease: %+v", got)
	}

	// Release frees it; releasing twice or renewing fails.
	noErr(t, "ReleaseLease", s.ReleaseLease(ctx, r))
	_, err = s.GetLease(ctx, name)
	wantErr(t, "GetLease(released)", err, store.ErrNotFound)
	wantErr(t, "ReleaseLease(twice)", s.ReleaseLease(ctx, r), store.ErrLeaseLost)
	_, err = s.RenewLease(ctx, r, time.Hour)
	wantErr(t, "RenewLease(released)", err, store.ErrLeaseLost)

	// Every acquisition after a release gets a larger fence, whoever
	// the new holder is.
	b, err := s.AcquireLease(ctx, name, "manager-b", time.Hour)
	noErr(t, "AcquireLease(after release)", err)
	if b.Fence <= a.Fence {
		t.Errorf("fence after release = %d, want > %d", b.Fence, a.Fence)
	}
	noErr(t, "ReleaseLease(b)", s.ReleaseLease(ctx, b))
	a3, err := s.AcquireLease(ctx, name, "manager-a", time.Hour)
	noErr(t, "AcquireLease(a after release)", err)
	if a3.Fence <= b.Fence {
		t.Errorf("fence of a re-acquisition by a former holder = %d, want > %d", a3.Fence, b.Fence)
	}

	// The other name was untouched.
	got, err = s.GetLease(ctx, "task/other")
	noErr(t, "GetLease(other)", err)
	if got.Owner != o.Owner || got.Fence != o.Fence {
		t.Errorf("GetLease(other) = %+v, want %+v", got, o)
	}
}

func testLeaseExpiryAndSteal(t *testing.T, h Harness) {
	f := h.fixture(t)
	s, ctx := f.s, f.ctx
	const name = "task/steal"
	c := f.cluster("steal")
	tk := f.task(c.ID, "repair", "")

	a, err := s.AcquireLease(ctx, name, "manager-a", time.Hour)
	noErr(t, "AcquireLease(a)", err)
	run := f.run(tk, f.base, store.StatusRunning, a.Fence)
	f.progress(run, "k", a.Fence)

	// Shorten a's lease and let it expire.
	start := time.Now()
	a, err = s.RenewLease(ctx, a, h.ShortTTL)
	noErr(t, "RenewLease(short)", err)
	var b store.Lease
	eventually(t, start.Add(h.ShortTTL+h.ExpiryGrace), "lease expired and taken by b", func() bool {
		var err error
		b, err = s.AcquireLease(ctx, name, "manager-b", time.Hour)
		if errors.Is(err, store.ErrLeaseHeld) {
			return false
		}
		noErr(t, "AcquireLease(b)", err)
		return true
	})
	if time.Now().Before(start.Add(h.ShortTTL)) {
		t.Errorf("lease with TTL %s was taken before it expired", h.ShortTTL)
	}
	if b.Fence <= a.Fence || b.Owner != "manager-b" {
		t.Errorf("stolen lease = %+v, want owner manager-b and fence > %d", b, a.Fence)
	}
	got, err := s.GetLease(ctx, name)
	noErr(t, "GetLease", err)
	if got.Owner != "manager-b" || got.Fence != b.Fence {
		t.Errorf("GetLease = %+v, want %+v", got, b)
	}

	// The old holder lost it for good.
	_, err = s.RenewLease(ctx, a, time.Hour)
	wantErr(t, "RenewLease(a after steal)", err, store.ErrLeaseLost)
	wantErr(t, "ReleaseLease(a after steal)", s.ReleaseLease(ctx, a), store.ErrLeaseLost)
	_, err = s.AcquireLease(ctx, name, "manager-a", time.Hour)
	wantErr(t, "AcquireLease(a after steal)", err, store.ErrLeaseHeld)

	// The new holder takes the run over; the old one's writes are refused.
	took := *run
	took.Owner = "manager-b"
	took.Fence = b.Fence
	noErr(t, "UpdateRun(b)", s.UpdateRun(ctx, &took))
	stale := *run
	stale.Status = store.StatusDone
	wantErr(t, "UpdateRun(a, stale fence)", s.UpdateRun(ctx, &stale), store.ErrLeaseLost)
	wantErr(t, "PutProgress(a, stale fence)", s.PutProgress(ctx, f.newProgress(run, "k", a.Fence)), store.ErrLeaseLost)
	f.progress(&took, "k", b.Fence)
	gotRun, err := s.GetRun(ctx, tk.ID, run.ID)
	noErr(t, "GetRun", err)
	if d := diff(&took, gotRun); d != "" {
		t.Errorf("run after a stale write (-want +got):\n%s", d)
	}

	// Fences keep growing across holders: b releases, c takes, c's lease
	// expires, a takes.
	noErr(t, "ReleaseLease(b)", s.ReleaseLease(ctx, b))
	start = time.Now()
	cl, err := s.AcquireLease(ctx, name, "manager-c", h.ShortTTL)
	noErr(t, "AcquireLease(c)", err)
	if cl.Fence <= b.Fence {
		t.Errorf("fence of c = %d, want > %d", cl.Fence, b.Fence)
	}
	var a2 store.Lease
	eventually(t, start.Add(h.ShortTTL+h.ExpiryGrace), "lease of c expired and taken by a", func() bool {
		var err error
		a2, err = s.AcquireLease(ctx, name, "manager-a", time.Hour)
		if errors.Is(err, store.ErrLeaseHeld) {
			return false
		}
		noErr(t, "AcquireLease(a)", err)
		return true
	})
	if a2.Fence <= cl.Fence {
		t.Errorf("fence of a after c expired = %d, want > %d", a2.Fence, cl.Fence)
	}
}

func testStaleFenceRefused(t *testing.T, h Harness) {
	f := h.fixture(t)
	s, ctx := f.s, f.ctx
	c := f.cluster("fence")
	tk := f.task(c.ID, "backup", "")
	r := f.run(tk, f.base, store.StatusRunning, 5)
	row := f.progress(r, "a", 5)

	stale := *r
	stale.Fence = 4
	stale.Status = store.StatusDone
	wantErr(t, "UpdateRun(fence 4 < 5)", s.UpdateRun(ctx, &stale), store.ErrLeaseLost)
	stale.Fence = 0
	wantErr(t, "UpdateRun(fence 0 < 5)", s.UpdateRun(ctx, &stale), store.ErrLeaseLost)
	staleRow := *row
	staleRow.Fence = 4
	staleRow.Data = []byte(`{"stale":true}`)
	wantErr(t, "PutProgress(fence 4 < 5)", s.PutProgress(ctx, &staleRow), store.ErrLeaseLost)
	staleRow.Key = "new-key"
	wantErr(t, "PutProgress(new key, fence 4 < 5)", s.PutProgress(ctx, &staleRow), store.ErrLeaseLost)

	got, err := s.GetRun(ctx, tk.ID, r.ID)
	noErr(t, "GetRun", err)
	if d := diff(r, got); d != "" {
		t.Errorf("a refused UpdateRun changed the run (-want +got):\n%s", d)
	}
	rows, err := s.ListProgress(ctx, r.ID)
	noErr(t, "ListProgress", err)
	if d := diff([]*store.Progress{row}, rows); d != "" {
		t.Errorf("a refused PutProgress changed the rows (-want +got):\n%s", d)
	}

	// Equal fences pass; a higher fence raises the bar.
	same := *r
	same.Status = store.StatusStopping
	noErr(t, "UpdateRun(fence 5 = 5)", s.UpdateRun(ctx, &same))
	f.progress(r, "b", 5)
	up := same
	up.Fence = 9
	up.Status = store.StatusRunning
	noErr(t, "UpdateRun(fence 9 > 5)", s.UpdateRun(ctx, &up))
	wantErr(t, "UpdateRun(fence 5 < 9)", s.UpdateRun(ctx, &same), store.ErrLeaseLost)
	wantErr(t, "PutProgress(fence 5 < 9)", s.PutProgress(ctx, f.newProgress(r, "a", 5)), store.ErrLeaseLost)
	f.progress(&up, "a", 10)
	got, err = s.GetRun(ctx, tk.ID, r.ID)
	noErr(t, "GetRun", err)
	if d := diff(&up, got); d != "" {
		t.Errorf("run (-want +got):\n%s", d)
	}
	rows, err = s.ListProgress(ctx, r.ID)
	noErr(t, "ListProgress", err)
	if len(rows) != 2 || rows[0].Fence != 10 || rows[1].Fence != 5 {
		t.Errorf("progress rows = %+v, want a (fence 10) and b (fence 5)", rows)
	}
}
