package restapi

import (
	"encoding/json"
	"fmt"
)

// taskType is what the API knows about one task type beyond the generic
// task endpoints. A new task type with API specifics is one file
// type_<name>.go defining a constructor, plus its line in registry.
type taskType struct {
	// name is the task type string, e.g. "backup".
	name string
	// target tells whether GET tasks/<name>/target (the dry run) exists.
	target bool
	// emptyProgress is the progress of a run that has none yet: the
	// JSON the type's progress has when nothing happened ({} if empty).
	emptyProgress string
	// shape turns the runner's progress JSON into the API's form (for
	// example keeps only the swagger's fields); nil: passed through.
	shape func(json.RawMessage) (json.RawMessage, error)
}

// reshape decodes progress into T, the API's model of a type's progress,
// and encodes it again: fields the model lacks are dropped.
func reshape[T any](raw json.RawMessage) (json.RawMessage, error) {
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("restapi: progress: %w", err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("restapi: progress: %w", err)
	}
	return b, nil
}

func (t taskType) empty() json.RawMessage {
	if t.emptyProgress == "" {
		return json.RawMessage("{}")
	}
	return json.RawMessage(t.emptyProgress)
}

// registry lists the task types with API specifics. Types absent here
// still work through the generic endpoints, with {} as empty progress and
// no target endpoint.
func registry() map[string]taskType {
	out := make(map[string]taskType)
	for _, t := range []taskType{
		backupType(),
		repairType(),
		validateBackupType(),
		healthcheckType(),
		suspendType(),
		restoreType(),
	} {
		out[t.name] = t
	}
	return out
}
