package restapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops"
	"github.com/scyllaops/scyllaops/store"
)

// errNotWired answers endpoints whose Manager call is not available in
// this build.
var errNotWired = &httpError{status: http.StatusNotImplemented, message: "not implemented",
	err: errors.New("not available in this build of the manager yet")}

// managerBackend adapts *scyllaops.Manager to backend.
type managerBackend struct{ m *scyllaops.Manager }

var _ backend = managerBackend{}

func (b managerBackend) createTask(ctx context.Context, cluster string, t store.Task) (store.Task, error) {
	return store.Task{}, errNotWired
}
func (b managerBackend) getTask(ctx context.Context, cluster string, id uuid.UUID) (store.Task, error) {
	return store.Task{}, errNotWired
}
func (b managerBackend) updateTask(ctx context.Context, cluster string, t store.Task) (store.Task, error) {
	return store.Task{}, errNotWired
}
func (b managerBackend) deleteTask(ctx context.Context, cluster string, id uuid.UUID) error {
	return errNotWired
}
func (b managerBackend) listTasks(ctx context.Context, cluster string, f taskFilter) ([]taskSummary, error) {
	return nil, errNotWired
}
func (b managerBackend) startTask(ctx context.Context, cluster string, id uuid.UUID, cont bool) error {
	return errNotWired
}
func (b managerBackend) stopTask(ctx context.Context, cluster string, id uuid.UUID, disable bool) error {
	return errNotWired
}
func (b managerBackend) history(ctx context.Context, cluster string, id uuid.UUID, limit int) ([]store.Run, error) {
	return nil, errNotWired
}
func (b managerBackend) runProgress(ctx context.Context, cluster string, id uuid.UUID, ref string) (*store.Run, json.RawMessage, error) {
	return nil, nil, errNotWired
}
func (b managerBackend) suspended(ctx context.Context, cluster string) (bool, string, error) {
	return false, "", errNotWired
}
func (b managerBackend) suspend(ctx context.Context, cluster, allow string, failIfRunning, noContinue bool) error {
	return errNotWired
}
func (b managerBackend) resume(ctx context.Context, cluster string, start, missed, noContinue bool) error {
	return errNotWired
}
func (b managerBackend) target(ctx context.Context, cluster string, t store.Task) (any, error) {
	return nil, errNotWired
}
func (b managerBackend) listBackups(ctx context.Context, cluster string, q backupQuery) (any, error) {
	return nil, errNotWired
}
func (b managerBackend) backupFiles(ctx context.Context, cluster string, q backupQuery) (any, error) {
	return nil, errNotWired
}
func (b managerBackend) backupSchema(ctx context.Context, cluster string, q backupQuery) (any, error) {
	return nil, errNotWired
}
func (b managerBackend) deleteSnapshots(ctx context.Context, cluster string, locations, tags []string) error {
	return errNotWired
}
