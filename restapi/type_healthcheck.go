package restapi

// healthcheckType: health checks have no target and an empty progress.
func healthcheckType() taskType {
	return taskType{name: "healthcheck"}
}
