package backup

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/internal/backupspec"
	"github.com/scyllaops/scyllaops/store"
	"github.com/scyllaops/scyllaops/store/memstore"
)

// TestRetentionMap: the policy of every backup task of the cluster,
// disabled and deleted ones included; other types and clusters are left
// out, unparseable properties get the 30-day default.
func TestRetentionMap(t *testing.T) {
	cl, other := uuid.New(), uuid.New()
	id := func(n byte) uuid.UUID { return uuid.UUID{15: n} }
	task := func(n byte, typ string, enabled, deleted bool, props string) *store.Task {
		return &store.Task{ClusterID: cl, ID: id(n), Type: typ, Enabled: enabled, Deleted: deleted, Properties: json.RawMessage(props)}
	}
	tasks := []*store.Task{
		task(1, TaskType, true, false, `{"location":["s3:b"],"retention":1}`),
		task(2, TaskType, false, false, `{"location":["s3:b"],"retention":12}`),                    // disabled: as is
		task(3, TaskType, false, true, `{"location":["s3:b"],"retention":3}`),                      // deleted, count: 30 days
		task(4, TaskType, false, true, `{"location":["s3:b"],"retention":3,"retention_days":45}`),  // deleted: max(45, 30)
		task(5, TaskType, false, true, `{"location":["s3:b"],"retention_days":7}`),                 // deleted, time-based: as is
		task(6, TaskType, true, false, `{"location":["s3:b"]}`),                                    // default: 3
		task(7, TaskType, false, true, `{"location":["s3:b"]}`),                                    // deleted default: 30 days
		task(8, TaskType, true, false, `{"location":["s3:b"],"retention":"x"}`),                    // unparseable: 30 days
		task(9, TaskType, true, false, `{"retention":5}`),                                          // no location: 30 days
		task(10, TaskType, true, false, `{"location":["s3:b"],"retention":2,"retention_days":10}`), // both
		task(11, "repair", true, false, `{}`),
		task(12, ValidateTaskType, true, false, `{"location":["s3:b"]}`),
		{ClusterID: other, ID: id(13), Type: TaskType, Properties: json.RawMessage(`{"location":["s3:b"]}`)},
	}
	got := retentionMap(t.Context(), slog.New(slog.NewTextHandler(t.Output(), nil)), cl, tasks)
	want := map[uuid.UUID]backupspec.RetentionPolicy{
		id(1): {Retention: 1}, id(2): {Retention: 12}, id(3): {RetentionDays: 30}, id(4): {RetentionDays: 45},
		id(5): {RetentionDays: 7}, id(6): {Retention: 3}, id(7): {RetentionDays: 30}, id(8): {RetentionDays: 30},
		id(9): {RetentionDays: 30}, id(10): {Retention: 2, RetentionDays: 10},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("retention map (-want +got):\n%s", d)
	}
}

// recordingRunner records the properties of its runs.
type recordingRunner struct{ got json.RawMessage }

func (r *recordingRunner) Run(_ context.Context, _, _, _ uuid.UUID, p json.RawMessage) error {
	r.got = p
	return nil
}

type progressRunner struct{ recordingRunner }

func (progressRunner) Progress(context.Context, uuid.UUID, uuid.UUID, uuid.UUID) (json.RawMessage, error) {
	return json.RawMessage(`{"p":1}`), nil
}

// TestDecoratedRunner: the Runner gets the decorated properties, a
// decorate error fails the run before the Runner is called, the
// ProgressReader of the wrapped Runner stays visible, and reserved
// properties are refused before the wrapped validator is asked.
func TestDecoratedRunner(t *testing.T) {
	ctx := t.Context()
	fail := errors.New("boom")
	d := decoratedRunner{reserved: []string{"x"}, decorate: func(_ context.Context, _, _ uuid.UUID, p json.RawMessage) (json.RawMessage, error) {
		if string(p) == "fail" {
			return nil, fail
		}
		return json.RawMessage(`{"decorated":true}`), nil
	}}
	rec := &recordingRunner{}
	r := decorateRunner(rec, d)
	if err := r.Run(ctx, uuid.Nil, uuid.Nil, uuid.Nil, json.RawMessage(`{}`)); err != nil || string(rec.got) != `{"decorated":true}` {
		t.Errorf("Run: %v, runner got %s, want the decorated properties", err, rec.got)
	}
	rec.got = nil
	if err := r.Run(ctx, uuid.Nil, uuid.Nil, uuid.Nil, json.RawMessage("fail")); !errors.Is(err, fail) || rec.got != nil {
		t.Errorf("Run with a failing decorator: %v (runner got %s), want %v and no call", err, rec.got, fail)
	}
	if _, ok := r.(progressReader); ok {
		t.Error("decorated runner without Progress implements progressReader")
	}
	pr, ok := decorateRunner(&progressRunner{}, d).(progressReader)
	if !ok {
		t.Fatal("decorated runner with Progress does not implement progressReader")
	}
	if p, err := pr.Progress(ctx, uuid.Nil, uuid.Nil, uuid.Nil); err != nil || string(p) != `{"p":1}` {
		t.Errorf("Progress = %s, %v", p, err)
	}
	v := r.(propertiesValidator)
	var ie *store.InvalidError
	if err := v.ValidateProperties(json.RawMessage(`{"x":1}`)); !errors.As(err, &ie) || ie.Field != "properties.x" {
		t.Errorf("ValidateProperties with reserved x = %v, want an InvalidError naming properties.x", err)
	}
	if err := v.ValidateProperties(json.RawMessage(`{"y":1}`)); err != nil {
		t.Errorf("ValidateProperties without reserved keys = %v", err)
	}
}

// TestRetentionMapReplacesStored: a task stored with a retention_map
// (written to the store directly, past the validators) gets it replaced
// at run time by the map computed from the cluster's tasks.
func TestRetentionMapReplacesStored(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	c := &store.Cluster{ID: uuid.New(), Name: "p", Host: "10.0.0.1"}
	if err := st.CreateCluster(ctx, c); err != nil {
		t.Fatal(err)
	}
	const withMap = `{"location":["s3:b"],"retention_map":{"00000000-0000-0000-0000-000000000001":{"retention":0,"retention_days":1}}}`
	a := &store.Task{ClusterID: c.ID, ID: uuid.New(), Type: TaskType, Name: "a", Enabled: true,
		Schedule: store.Schedule{Cron: "0 3 * * *"}, Properties: json.RawMessage(`{"location":["s3:b"],"retention":1}`)}
	b := &store.Task{ClusterID: c.ID, ID: uuid.New(), Type: TaskType, Name: "b", Enabled: true,
		Schedule: store.Schedule{Cron: "0 3 * * *"}, Properties: json.RawMessage(withMap)}
	for _, tk := range []*store.Task{a, b} {
		if err := st.CreateTask(ctx, tk); err != nil {
			t.Fatal(err)
		}
	}
	api := &API{tasks: st, log: slog.New(slog.NewTextHandler(t.Output(), nil))}
	props, err := api.withRetentionMap(ctx, c.ID, b.Properties)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseProperties(props)
	if err != nil {
		t.Fatal(err)
	}
	want := map[uuid.UUID]backupspec.RetentionPolicy{a.ID: {Retention: 1}, b.ID: {Retention: DefaultRetention}}
	if d := cmp.Diff(want, p.RetentionMap); d != "" {
		t.Errorf("run properties' retention_map (-want +got):\n%s", d)
	}
	if len(p.Location) != 1 || p.Location[0] != "s3:b" {
		t.Errorf("run properties lost the location: %s", props)
	}
}

// locationGroups keeps at most one location per DC in a group, in order,
// and leaves unparsable locations to the service's error.
func TestLocationGroups(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want [][]string
	}{
		{nil, nil},
		{[]string{"s3:a"}, [][]string{{"s3:a"}}},
		{[]string{"s3:a", "dc1:s3:b", "dc2:gcs:c"}, [][]string{{"s3:a", "dc1:s3:b", "dc2:gcs:c"}}},
		{[]string{"s3:a", "s3:b", "dc1:s3:c", "dc1:s3:d", "s3:e"},
			[][]string{{"s3:a", "dc1:s3:c"}, {"s3:b", "dc1:s3:d"}, {"s3:e"}}},
		{[]string{"s3:a", "s3:b", "nope"}, [][]string{{"s3:a", "s3:b", "nope"}}},
	} {
		if got := locationGroups(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("locationGroups(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
