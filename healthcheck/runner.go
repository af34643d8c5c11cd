package healthcheck

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
)

// TaskType is the scheduler task type of health checks.
const TaskType = "healthcheck"

// Properties are the properties of a healthcheck task.
type Properties struct {
	// Mode is the ping the task runs: "cql", "rest" or "alternator".
	Mode Mode `json:"mode"`
	// Continue is set by the scheduler on resumed or restarted runs; a
	// health check has nothing to continue, so it is accepted and ignored.
	Continue bool `json:"continue,omitempty"`
}

// ParseProperties decodes and validates a healthcheck task's properties.
// An unknown field, a missing or unknown mode is an error matching
// store.ErrInvalid that names the field.
func ParseProperties(properties json.RawMessage) (Properties, error) {
	var p Properties
	if len(bytes.TrimSpace(properties)) == 0 {
		return p, fmt.Errorf("healthcheck: %w", store.Invalid("properties.mode", `one of "cql", "rest", "alternator", e.g. {"mode":"cql"}`, ""))
	}
	dec := json.NewDecoder(bytes.NewReader(properties))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return p, fmt.Errorf("healthcheck: %w", store.Invalid("properties."+strings.Trim(f, `"`), `no such field; healthcheck properties are {"mode":"cql"|"rest"|"alternator"}`, ""))
		}
		if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && te.Field != "" {
			return p, fmt.Errorf("healthcheck: %w", store.Invalid("properties."+te.Field, `a string, one of "cql", "rest", "alternator"`, te.Value))
		}
		return p, fmt.Errorf("healthcheck: %w", store.Invalid("properties", `a JSON object, e.g. {"mode":"cql"}`, string(properties)))
	}
	if err := checkMode(p.Mode); err != nil {
		return p, err
	}
	return p, nil
}

// ValidateProperties checks a healthcheck task's properties at task
// creation (the scheduler's optional PropertiesValidator). The error is a
// *store.InvalidError naming the field.
func (s *Service) ValidateProperties(properties json.RawMessage) error {
	_, err := ParseProperties(properties)
	return err
}

// Run is the scheduler's Runner for healthcheck tasks: it runs the ping of
// the task's mode on every node of the cluster, spread over a window
// (Options.Spread) with bounded parallelism, sets the gauges, deletes
// those of nodes that are gone, and logs a warning that sums up the
// failed pings, if any. Failed pings are statuses, not a
// failed run; Run fails on bad properties, an unknown cluster, or when ctx
// ends (returning ctx's cause). taskID and runID only label the logs.
func (s *Service) Run(ctx context.Context, clusterID, taskID, runID uuid.UUID, properties json.RawMessage) error {
	p, err := ParseProperties(properties)
	if err != nil {
		return err
	}
	start := time.Now()
	nodes, err := s.check(ctx, clusterID, p.Mode, true)
	if err != nil {
		return err
	}
	s.metrics.set(clusterID, p.Mode, nodes)
	s.kept.sweep(time.Now())
	s.logRound(ctx, clusterID, taskID, runID, p.Mode, nodes, time.Since(start))
	return nil
}

// ForgetCluster deletes the gauges and cached node_info of a cluster (call
// it when the cluster is deleted).
func (s *Service) ForgetCluster(clusterID uuid.UUID) {
	s.metrics.forget(clusterID)
	s.cache.invalidate(clusterID)
	s.kept.forget(clusterID)
	s.alt.forget(clusterID)
}
