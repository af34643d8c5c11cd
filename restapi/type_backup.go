package restapi

// backupType: backup has a dry-run target (BackupTarget) and a
// BackupProgress object as progress.
func backupType() taskType {
	return taskType{name: "backup", target: true, emptyProgress: `{"size":0,"uploaded":0,"skipped":0,"failed":0}`,
		shape: reshape[BackupProgress]}
}

// validateBackupType: validate_backup's progress is a list of per-host
// reports.
func validateBackupType() taskType {
	return taskType{name: "validate_backup", emptyProgress: `[]`, shape: reshape[[]ValidateBackupProgress]}
}
