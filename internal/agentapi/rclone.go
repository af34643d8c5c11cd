package agentapi

import (
	"encoding/json"
	"fmt"
	"time"
)

// Paths of the agent's own endpoints.
const (
	// PathPing answers 204 without authentication.
	PathPing = "/ping"
	// PathVersion answers VersionInfo without authentication.
	PathVersion = "/version"
	// PathNodeInfo answers NodeInfo.
	PathNodeInfo = "/agent/node_info"
	// PathCloudMetadata answers InstanceMetadata.
	PathCloudMetadata = "/agent/cloud/metadata"
	// PathFreeOSMemory returns freed memory to the OS.
	PathFreeOSMemory = "/agent/free_os_memory"
	// PathPinCPU gets (GET) or changes (POST, DELETE) CPU pinning.
	PathPinCPU = "/agent/pin_cpu"
	// PathTerminate asks the agent process to terminate (reload).
	PathTerminate = "/agent/terminate"
	// PathRclone is the prefix of the rclone-rc subset.
	PathRclone = "/agent/rclone/"
	// PathMetrics is proxied to the node's Prometheus endpoint.
	PathMetrics = "/metrics"
)

// Names of the rclone-rc calls the agent serves, relative to PathRclone.
const (
	CallCoreBwlimit                 = "core/bwlimit"
	CallCoreTransfers               = "core/transfers"
	CallCoreStatsReset              = "core/stats-reset"
	CallCoreStatsDelete             = "core/stats-delete"
	CallJobInfo                     = "job/info"
	CallJobProgress                 = "job/progress"
	CallJobStop                     = "job/stop"
	CallOperationsAbout             = "operations/about"
	CallOperationsFileInfo          = "operations/fileinfo"
	CallOperationsList              = "operations/list"
	CallOperationsCat               = "operations/cat"
	CallOperationsPut               = "operations/put"
	CallOperationsMoveFile          = "operations/movefile"
	CallOperationsCopyFile          = "operations/copyfile"
	CallOperationsDeleteFile        = "operations/deletefile"
	CallOperationsPurge             = "operations/purge"
	CallOperationsDeletePaths       = "operations/deletepaths"
	CallOperationsCheckPerms        = "operations/check-permissions"
	CallSyncCopyDir                 = "sync/copydir"
	CallSyncMoveDir                 = "sync/movedir"
	CallSyncCopyPaths               = "sync/copypaths"
	HeaderJobID                     = "X-Rclone-Jobid"
	ParamAsync                      = "_async"
	ParamGroup                      = "_group"
	ListChunkSize                   = 200
	MaxRCBodyBytes            int64 = 1 << 20
)

// Job progress statuses (JobProgress.Status).
const (
	JobSuccess  = "success"
	JobError    = "error"
	JobRunning  = "running"
	JobNotFound = "not_found"
)

// ErrorResponse is the body of every failed rclone call.
type ErrorResponse struct {
	Status  int            `json:"status"`
	Message string         `json:"message"`
	Input   map[string]any `json:"input,omitempty"`
	Path    string         `json:"path"`
}

// Unauthorized is the body of a 401 answer.
type Unauthorized struct {
	Message string `json:"message"`
	Code    int    `json:"code"`
}

// VersionInfo is the body of GET /version.
type VersionInfo struct {
	Version string `json:"version"`
}

// RemotePath names a file or directory: Fs is "<provider>:<bucket>" (or
// "data:"), Remote a path inside it.
type RemotePath struct {
	Fs     string `json:"fs"`
	Remote string `json:"remote"`
}

// JobID is the answer of an asynchronous call and the body of job/stop.
type JobID struct {
	JobID int64 `json:"jobid"`
}

// JobInfoParams is the body of job/info and job/progress. Wait, in
// seconds, enables long polling: the call returns when the job finishes or
// Wait elapses.
type JobInfoParams struct {
	JobID int64 `json:"jobid"`
	Wait  int64 `json:"wait,omitempty"`
}

// JobProgress is the answer of job/progress. Byte counts are totals over
// the job's files.
type JobProgress struct {
	Status      string     `json:"status"`
	StartedAt   *time.Time `json:"started_at,omitempty"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	Error       string     `json:"error"`
	Uploaded    int64      `json:"uploaded"`
	Skipped     int64      `json:"skipped"`
	Failed      int64      `json:"failed"`
}

// Job is the status of one job in JobInfo.
type Job struct {
	ID        int64     `json:"id"`
	Duration  float64   `json:"duration"`
	Finished  bool      `json:"finished"`
	Success   bool      `json:"success"`
	StartTime time.Time `json:"startTime"`
	EndTime   time.Time `json:"endTime,omitzero"`
	Error     string    `json:"error"`
	Output    any       `json:"output,omitempty"`
}

// Transferring is one file transfer in progress.
type Transferring struct {
	Name       string  `json:"name"`
	Size       int64   `json:"size"`
	Bytes      int64   `json:"bytes"`
	Percentage float64 `json:"percentage"`
	Speed      float64 `json:"speed"`
	SpeedAvg   float64 `json:"speedAvg"`
	ETA        float64 `json:"eta"`
}

// Stats are the transfer statistics of a job (rclone's stats group).
type Stats struct {
	Speed        float64        `json:"speed"`
	Bytes        int64          `json:"bytes"`
	Errors       int64          `json:"errors"`
	FatalError   bool           `json:"fatalError"`
	RetryError   bool           `json:"retryError"`
	Checks       int64          `json:"checks"`
	Transfers    int64          `json:"transfers"`
	Deletes      int64          `json:"deletes"`
	ElapsedTime  float64        `json:"elapsedTime"`
	LastError    string         `json:"lastError,omitempty"`
	Transferring []Transferring `json:"transferring,omitempty"`
	Checking     []string       `json:"checking,omitempty"`
}

// Transfer is one finished (or skipped) file of a job.
type Transfer struct {
	Name        string    `json:"name"`
	Size        int64     `json:"size"`
	Bytes       int64     `json:"bytes"`
	Checked     bool      `json:"checked"`
	StartedAt   time.Time `json:"started_at"`
	CompletedAt time.Time `json:"completed_at,omitzero"`
	Error       string    `json:"error,omitempty"`
}

// JobInfo is the answer of job/info.
type JobInfo struct {
	Job         Job        `json:"job"`
	Stats       Stats      `json:"stats"`
	Transferred []Transfer `json:"transferred"`
}

// Bandwidth is the body and answer of core/bwlimit. Rate is like "100M",
// "512k" or "off"; empty (omitted) in a request means "query": rclone
// refuses "rate":"" with 500 "bad bwlimit: empty string".
type Bandwidth struct {
	Rate string `json:"rate,omitempty"`
}

// Transfers is the body and answer of core/transfers.
type Transfers struct {
	Transfers int `json:"transfers"`
}

// StatsParams is the body of core/stats-reset and core/stats-delete; Group
// is like "job/42".
type StatsParams struct {
	Group string `json:"group"`
}

// FileSystemDetails is the answer of operations/about.
type FileSystemDetails struct {
	Free  int64 `json:"free"`
	Total int64 `json:"total"`
	Used  int64 `json:"used"`
}

// FileInfo is the answer of operations/fileinfo.
type FileInfo struct {
	ModTime        time.Time  `json:"modTime"`
	Size           int64      `json:"size"`
	RetentionMode  string     `json:"retentionMode,omitempty"`
	RetainUntil    *time.Time `json:"retainUntil,omitempty"`
	EventBasedHold bool       `json:"eventBasedHold,omitempty"`
}

// ListOpt are the listing flags of operations/list.
type ListOpt struct {
	Recurse            bool `json:"recurse,omitempty"`
	NoModTime          bool `json:"noModTime,omitempty"`
	NoMimeType         bool `json:"noMimeType,omitempty"`
	ShowHash           bool `json:"showHash,omitempty"`
	DirsOnly           bool `json:"dirsOnly,omitempty"`
	FilesOnly          bool `json:"filesOnly,omitempty"`
	ShowRetentionInfo  bool `json:"showRetentionInfo,omitempty"`
	ShowEventBasedHold bool `json:"showEventBasedHold,omitempty"`
}

// ListOptions is the body of operations/list. NewestOnly drops names
// carrying a snapshot-tag version suffix, VersionedOnly keeps only those.
type ListOptions struct {
	Fs            string   `json:"fs"`
	Remote        string   `json:"remote"`
	Opt           *ListOpt `json:"opt,omitempty"`
	NewestOnly    bool     `json:"newestOnly,omitempty"`
	VersionedOnly bool     `json:"versionedOnly,omitempty"`
}

// ListItem is one entry of an operations/list answer. Path is relative to
// fs (as rclone answers: it starts with a non-empty remote), Name is its
// last element. Rclone answers "ModTime":"" when asked for noModTime;
// UnmarshalJSON reads that as the zero time.
type ListItem struct {
	Path     string            `json:"Path"`
	Name     string            `json:"Name"`
	Size     int64             `json:"Size"`
	MimeType string            `json:"MimeType,omitempty"`
	ModTime  time.Time         `json:"ModTime,omitzero"`
	IsDir    bool              `json:"IsDir"`
	Hashes   map[string]string `json:"Hashes,omitempty"`
	ID       string            `json:"ID,omitempty"`
}

// UnmarshalJSON decodes an item, reading an empty ModTime string as the
// zero time.
func (it *ListItem) UnmarshalJSON(b []byte) error {
	type plain ListItem
	var v struct {
		plain
		ModTime json.RawMessage `json:"ModTime"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*it = ListItem(v.plain)
	it.ModTime = time.Time{}
	switch string(v.ModTime) {
	case "", "null", `""`:
		return nil
	}
	if err := json.Unmarshal(v.ModTime, &it.ModTime); err != nil {
		return fmt.Errorf("list item %q: ModTime: %w", v.Path, err)
	}
	return nil
}

// ListResponse is the (streamed) answer of operations/list.
type ListResponse struct {
	List []ListItem `json:"list"`
}

// MoveOrCopyFileOptions is the body of operations/movefile,
// operations/copyfile, sync/copydir and sync/movedir. Transfers -1 or 0
// means the agent's configured value; BandwidthRate like "100M", empty
// for the agent-wide limit.
type MoveOrCopyFileOptions struct {
	SrcFs         string `json:"srcFs"`
	SrcRemote     string `json:"srcRemote"`
	DstFs         string `json:"dstFs"`
	DstRemote     string `json:"dstRemote"`
	Suffix        string `json:"suffix,omitempty"`
	BandwidthRate string `json:"bandwidth_rate,omitempty"`
	Transfers     int    `json:"transfers,omitempty"`
}

// CopyPathsOptions is the body of sync/copypaths: each of Paths is copied
// from SrcFs:SrcRemote/<path> to DstFs:DstRemote/<path>.
type CopyPathsOptions struct {
	SrcFs         string   `json:"srcFs"`
	SrcRemote     string   `json:"srcRemote"`
	DstFs         string   `json:"dstFs"`
	DstRemote     string   `json:"dstRemote"`
	Paths         []string `json:"paths"`
	BandwidthRate string   `json:"bandwidth_rate,omitempty"`
	Transfers     int      `json:"transfers,omitempty"`
}

// DeletePathsOptions is the body of operations/deletepaths.
type DeletePathsOptions struct {
	Fs     string   `json:"fs"`
	Remote string   `json:"remote"`
	Paths  []string `json:"paths"`
}

// DeletePathsResponse is the answer of operations/deletepaths.
type DeletePathsResponse struct {
	Deletes int64 `json:"deletes"`
}

// CheckPermissionsOptions is the body of operations/check-permissions.
type CheckPermissionsOptions struct {
	Fs               string `json:"fs"`
	Remote           string `json:"remote"`
	RetentionMode    string `json:"retentionMode,omitempty"`
	OverrideUnlocked bool   `json:"overrideUnlocked,omitempty"`
	EventBasedHold   bool   `json:"eventBasedHold,omitempty"`
}
