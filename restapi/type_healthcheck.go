package restapi

func healthcheckType() taskType {
	return taskType{name: "healthcheck", emptyProgress: func() any { return struct{}{} }}
}
