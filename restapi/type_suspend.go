package restapi

// suspendType: a suspend task (sctool suspend --duration; properties
// duration, start_tasks, allow_task_type, ...) has no dry-run target and
// no progress: its run suspends the cluster, waits, and resumes it, which
// GET suspended/details shows. Its progress is {}.
func suspendType() taskType {
	return taskType{name: "suspend"}
}
