package restapi

// restoreType: restore has a dry-run target (restore.Target, Scylla
// Manager's RestoreTarget plus source/target nodes and an estimated
// duration) and restore.Progress (RestoreProgress) as progress, both
// passed through.
func restoreType() taskType {
	return taskType{name: "restore", target: true,
		emptyProgress: `{"snapshot_tag":"","keyspaces":[],"hosts":[],"views":[],"stage":"","size":0,"restored":0,"downloaded":0,"failed":0}`}
}
