package restapi

import "encoding/json"

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
		validateBackupType(),
		healthcheckType(),
	} {
		out[t.name] = t
	}
	return out
}
