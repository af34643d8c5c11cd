package restapi

func backupType() taskType {
	return taskType{name: "backup", emptyProgress: func() any { return BackupProgress{} }}
}

func validateBackupType() taskType {
	return taskType{name: "validate_backup", emptyProgress: func() any { return []ValidateBackupProgress{} }}
}
