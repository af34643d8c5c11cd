package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
)

func testEventTTL(t *testing.T, h Harness) {
	f := h.fixture(t)
	s, ctx := f.s, f.ctx
	cid := uuid.New() // events need no cluster record
	now := nowMS()

	old := f.newEvent(cid, now.Add(-2*time.Hour))
	old.TTL = time.Hour // expired an hour ago
	forever := f.newEvent(cid, now.Add(-2*time.Hour).Add(time.Millisecond))
	forever.TTL = 0
	fresh := f.newEvent(cid, now.Add(-time.Minute))
	fresh.TTL = time.Hour
	f.event(old)
	f.event(forever)
	f.event(fresh)
	evs, err := s.QueryEvents(ctx, store.EventQuery{ClusterID: cid})
	noErr(t, "QueryEvents", err)
	if d := diff([]*store.Event{forever, fresh}, evs); d != "" {
		t.Errorf("QueryEvents with an expired event (-want +got):\n%s", d)
	}

	// An event expires TTL after its Time, by the real clock.
	start := nowMS()
	short := f.newEvent(cid, start)
	short.TTL = h.ShortTTL
	f.event(short)
	eventually(t, start.Add(h.ShortTTL+h.ExpiryGrace), "event with TTL "+h.ShortTTL.String()+" expired", func() bool {
		evs, err := s.QueryEvents(ctx, store.EventQuery{ClusterID: cid})
		noErr(t, "QueryEvents", err)
		return !slices.ContainsFunc(evs, func(e *store.Event) bool { return e.ID == short.ID })
	})
	if time.Now().Before(start.Add(h.ShortTTL)) {
		t.Errorf("event with TTL %s disappeared before its TTL passed", h.ShortTTL)
	}
	evs, err = s.QueryEvents(ctx, store.EventQuery{ClusterID: cid})
	noErr(t, "QueryEvents", err)
	if d := diff([]*store.Event{forever, fresh}, evs); d != "" {
		t.Errorf("QueryEvents after expiry (-want +got):\n%s", d)
	}
}

func testEventQuery(t *testing.T, h Harness) {
	f := h.fixture(t)
	s, ctx := f.s, f.ctx
	c1, c2 := uuid.New(), uuid.New()
	t1, t2 := uuid.New(), uuid.New()
	r1, r2 := uuid.New(), uuid.New()
	start := nowMS().Add(-time.Hour)

	// 12 events a minute apart, appended out of order.
	var all []*store.Event
	for i := range 12 {
		e := f.newEvent(c1, start.Add(time.Duration(i)*time.Minute))
		e.TTL = 24 * time.Hour
		switch i % 4 {
		case 0:
			e.TaskID, e.RunID = t1, r1
		case 1:
			e.TaskID, e.RunID = t1, r2
		case 2:
			e.TaskID = t2
			e.Severity = "error"
		}
		all = append(all, e)
	}
	for _, e := range shuffled(all) {
		f.event(e)
	}
	f.event(f.newEvent(c2, start.Add(30*time.Second)))
	f.event(f.newEvent(c2, start.Add(5*time.Minute)))

	sel := func(keep func(i int, e *store.Event) bool) []*store.Event {
		var out []*store.Event
		for i, e := range all {
			if keep(i, e) {
				out = append(out, e)
			}
		}
		return out
	}
	at := func(i int) time.Time { return start.Add(time.Duration(i) * time.Minute) }
	tests := []struct {
		name string
		q    store.EventQuery
		want []*store.Event
	}{
		{"cluster", store.EventQuery{ClusterID: c1}, all},
		{"task", store.EventQuery{ClusterID: c1, TaskID: t1}, sel(func(i int, _ *store.Event) bool { return i%4 < 2 })},
		{"run", store.EventQuery{ClusterID: c1, RunID: r2}, sel(func(i int, _ *store.Event) bool { return i%4 == 1 })},
		{"task and run", store.EventQuery{ClusterID: c1, TaskID: t1, RunID: r1}, sel(func(i int, _ *store.Event) bool { return i%4 == 0 })},
		{"task and run of another task", store.EventQuery{ClusterID: c1, TaskID: t2, RunID: r1}, nil},
		{"since inclusive", store.EventQuery{ClusterID: c1, Since: at(5)}, all[5:]},
		{"until exclusive", store.EventQuery{ClusterID: c1, Until: at(5)}, all[:5]},
		{"since and until", store.EventQuery{ClusterID: c1, Since: at(3), Until: at(7)}, all[3:7]},
		{"between events", store.EventQuery{ClusterID: c1, Since: at(3).Add(time.Second), Until: at(4)}, nil},
		{"limit keeps the oldest", store.EventQuery{ClusterID: c1, Limit: 4}, all[:4]},
		{"limit after filters", store.EventQuery{ClusterID: c1, TaskID: t1, Since: at(2), Limit: 3},
			sel(func(i int, _ *store.Event) bool { return i%4 < 2 && i >= 2 })[:3]},
		{"limit above count", store.EventQuery{ClusterID: c1, RunID: r1, Limit: 100}, sel(func(i int, _ *store.Event) bool { return i%4 == 0 })},
		{"other cluster", store.EventQuery{ClusterID: c2, TaskID: t1}, nil},
		{"unknown task", store.EventQuery{ClusterID: c1, TaskID: uuid.New()}, nil},
	}
	for _, tc := range tests {
		got, err := s.QueryEvents(ctx, tc.q)
		if err != nil {
			t.Errorf("%s: QueryEvents: %v", tc.name, err)
			continue
		}
		if got == nil {
			t.Errorf("%s: QueryEvents returned a nil slice, want non-nil", tc.name)
		}
		if d := diff(tc.want, got); d != "" {
			t.Errorf("%s: QueryEvents(%+v) (-want +got):\n%s", tc.name, tc.q, d)
		}
	}
	got, err := s.QueryEvents(ctx, store.EventQuery{ClusterID: c2})
	noErr(t, "QueryEvents(c2)", err)
	if len(got) != 2 {
		t.Errorf("QueryEvents(c2) = %d events, want 2", len(got))
	}
}
