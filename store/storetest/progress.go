package storetest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scyllaops/scyllaops/store"
)

// testProgressBatch checks store.PutProgressBatch with the driver's
// ProgressBatcher and with the row-by-row fallback for stores without one.
func testProgressBatch(t *testing.T, h Harness) {
	t.Run("Batcher", func(t *testing.T) { progressBatch(t, h, false) })
	t.Run("RowByRow", func(t *testing.T) { progressBatch(t, h, true) })
}

// progressBatch checks PutProgressBatch: the rows are stored (new and
// replaced ones), nothing on a stale fence or an unknown run, bad input
// is refused before any write with the field named, and batches larger
// than a driver's transaction (hundreds of rows, rows of many KiB) are
// stored whole. rowByRow hides the driver's ProgressBatcher.
func progressBatch(t *testing.T, h Harness, rowByRow bool) {
	f := h.fixture(t)
	s, ctx := f.s, f.ctx
	var ps store.ProgressStore = s
	if rowByRow {
		ps = struct{ store.ProgressStore }{s} // hides the driver's ProgressBatcher
	}
	c := f.cluster("batch")
	tk := f.task(c.ID, "backup", "")
	r := f.run(tk, f.base, store.StatusRunning, 5)
	f.progress(r, "a", 5) // replaced by the first batch

	// rows returns rows of r under fence with the given keys and data.
	rows := func(run *store.Run, fence int64, data string, keys ...string) []*store.Progress {
		out := make([]*store.Progress, len(keys))
		for i, k := range keys {
			out[i] = f.newProgress(run, k, fence)
			if data != "" {
				out[i].Data = json.RawMessage(fmt.Sprintf(`{"key":%q,"v":%q}`, k, data))
			}
		}
		return out
	}
	list := func(what string, run *store.Run) []*store.Progress {
		t.Helper()
		got, err := s.ListProgress(ctx, run.ID)
		noErr(t, what+": ListProgress", err)
		return got
	}
	sorted := func(ps ...[]*store.Progress) []*store.Progress {
		var out []*store.Progress
		for _, p := range ps {
			out = append(out, p...)
		}
		slices.SortFunc(out, func(x, y *store.Progress) int { return cmp.Compare(x.Key, y.Key) })
		return out
	}

	noErr(t, "PutProgressBatch(nil)", store.PutProgressBatch(ctx, ps, nil))
	noErr(t, "PutProgressBatch(empty)", store.PutProgressBatch(ctx, ps, []*store.Progress{}))

	// New rows and a replaced one, in one call.
	first := rows(r, 5, "v1", "c", "a", "b")
	noErr(t, "PutProgressBatch(a b c)", store.PutProgressBatch(ctx, ps, first))
	if d := diff(sorted(first), list("after the first batch", r)); d != "" {
		t.Errorf("rows after PutProgressBatch(a b c) (-want +got):\n%s", d)
	}

	// A stale fence stores no row of the batch, new or existing.
	stale := rows(r, 4, "stale", "a", "d")
	wantErr(t, "PutProgressBatch(fence 4 < 5)", store.PutProgressBatch(ctx, ps, stale), store.ErrLeaseLost)
	if d := diff(sorted(first), list("after a stale batch", r)); d != "" {
		t.Errorf("a refused batch changed the rows (-want +got):\n%s", d)
	}

	// A higher fence (a new lease holder before its UpdateRun) passes, as
	// for PutProgress.
	newer := rows(r, 6, "v2", "b", "e")
	noErr(t, "PutProgressBatch(fence 6 > 5)", store.PutProgressBatch(ctx, ps, newer))
	want := sorted([]*store.Progress{first[1], first[0]}, newer)
	if d := diff(want, list("after a batch with a higher fence", r)); d != "" {
		t.Errorf("rows after PutProgressBatch(fence 6) (-want +got):\n%s", d)
	}

	// Unknown run: ErrNotFound, nothing stored.
	ghost := f.newRun(tk, f.base.Add(time.Hour), store.StatusRunning, 0)
	wantErr(t, "PutProgressBatch(unknown run)", store.PutProgressBatch(ctx, ps, rows(ghost, 0, "", "x", "y")), store.ErrNotFound)
	if got := list("unknown run", ghost); len(got) != 0 {
		t.Errorf("PutProgressBatch(unknown run) stored %d rows", len(got))
	}

	// Bad input: an *InvalidError naming the row and field; nothing stored.
	other := f.run(tk, f.base.Add(2*time.Hour), store.StatusRunning, 5)
	bad := []struct {
		name  string
		rows  []*store.Progress
		field string
	}{
		{"nil row", []*store.Progress{rows(r, 6, "", "x")[0], nil}, "progress[1]"},
		{"empty key", rows(r, 6, "", "x", "y", ""), "progress[2].key"},
		{"key twice", rows(r, 6, "", "x", "y", "x"), "progress[2].key"},
		{"two fences", append(rows(r, 6, "", "x"), rows(r, 7, "", "y")...), "progress[1].fence"},
		{"two runs", append(rows(r, 6, "", "x"), rows(other, 6, "", "y")...), "progress[1].run_id"},
	}
	for _, tc := range bad {
		err := store.PutProgressBatch(ctx, ps, tc.rows)
		wantErr(t, "PutProgressBatch("+tc.name+")", err, store.ErrInvalid)
		var ie *store.InvalidError
		if !asInvalid(err, &ie) {
			t.Errorf("PutProgressBatch(%s): error %v does not wrap a *store.InvalidError", tc.name, err)
		} else if ie.Field != tc.field {
			t.Errorf("PutProgressBatch(%s): error names field %q, want %q", tc.name, ie.Field, tc.field)
		}
	}
	if d := diff(want, list("after bad batches", r)); d != "" {
		t.Errorf("refused batches changed the rows (-want +got):\n%s", d)
	}
	if got := list("other run after bad batches", other); len(got) != 0 {
		t.Errorf("refused batches stored %d rows of another run", len(got))
	}

	// Large batches: many small rows, and rows of many KiB (one larger
	// than a cqlstore chunk's byte bound on its own), beyond what one
	// transaction of a driver holds.
	big := f.run(tk, f.base.Add(3*time.Hour), store.StatusRunning, 2)
	keys := make([]string, 300)
	for i := range keys {
		keys[i] = fmt.Sprintf("table/10.0.0.%d/ks/t%03d", i%3, i)
	}
	many := rows(big, 2, "x", keys...)
	// A stale fence is refused with nothing stored, however large.
	wantErr(t, "PutProgressBatch(300 rows, fence 1 < 2)", store.PutProgressBatch(ctx, ps, rows(big, 1, "x", keys...)), store.ErrLeaseLost)
	if got := list("large stale batch", big); len(got) != 0 {
		t.Errorf("a refused batch of 300 rows stored %d of them", len(got))
	}
	noErr(t, "PutProgressBatch(300 rows)", store.PutProgressBatch(ctx, ps, many))
	wide := rows(big, 2, strings.Repeat("w", 60<<10), "w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8", "w9", "w10")
	wide = append(wide, rows(big, 2, strings.Repeat("h", 300<<10), "huge")...)
	noErr(t, "PutProgressBatch(rows of 60 and 300 KiB)", store.PutProgressBatch(ctx, ps, wide))
	if d := diff(sorted(many, wide), list("after large batches", big)); d != "" {
		t.Errorf("rows after large batches (-want +got):\n%s", d)
	}
}
