package restapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/backup"
	"github.com/scyllaops/scyllaops/internal/backupspec"
	"github.com/scyllaops/scyllaops/store"
)

func TestErrorStatus(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("scyllaops: x: %w", err) }
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"invalid", wrap(store.Invalid("f", "w", "g")), http.StatusBadRequest},
		{"not found", wrap(store.ErrNotFound), http.StatusNotFound},
		{"conflict", wrap(store.ErrConflict), http.StatusConflict},
		{"closed", wrap(scyllaops.ErrClosed), http.StatusServiceUnavailable},
		{"canceled", wrap(context.Canceled), http.StatusServiceUnavailable},
		{"database unavailable", wrap(fmt.Errorf("cqlstore: get task: %w", store.ErrUnavailable)), http.StatusServiceUnavailable},
		{"other", errors.New("disk on fire"), http.StatusInternalServerError},
		{"backupspec invalid", backupErr(wrap(&backupspec.InvalidError{Field: "location", Want: "w", Got: "g"})), http.StatusBadRequest},
		{"snapshot not found", backupErr(wrap(backup.ErrSnapshotNotFound)), http.StatusNotFound},
		{"backup other", backupErr(errors.New("agent down")), http.StatusInternalServerError},
		{"target finding", targetErr(errors.New("location s3:b is not usable from node 10.0.0.1")), http.StatusBadRequest},
		{"target unknown cluster", targetErr(wrap(store.ErrNotFound)), http.StatusNotFound},
		{"target closed", targetErr(wrap(scyllaops.ErrClosed)), http.StatusServiceUnavailable},
		{"not wired", errNotWired, http.StatusNotImplemented},
	} {
		if got := errStatus(tc.err); got != tc.want {
			t.Errorf("%s: errStatus(%v) = %d, want %d", tc.name, tc.err, got, tc.want)
		}
	}
}
