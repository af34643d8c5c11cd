package restapi

import (
	"encoding/json"
	"time"

	"github.com/scyllaops/scyllaops/healthcheck"
)

// Cluster is the JSON form of a managed cluster (swagger "Cluster").
// Secrets are write-only: a read shows "set" in their place, and the
// certificate bytes are never returned.
type Cluster struct {
	ID                        string            `json:"id,omitempty"`
	Name                      string            `json:"name,omitempty"`
	Host                      string            `json:"host,omitempty"`
	Port                      int64             `json:"port,omitempty"`
	AuthToken                 string            `json:"auth_token,omitempty"`
	Username                  string            `json:"username,omitempty"`
	Password                  string            `json:"password,omitempty"`
	AlternatorAccessKeyID     string            `json:"alternator_access_key_id,omitempty"`
	AlternatorSecretAccessKey string            `json:"alternator_secret_access_key,omitempty"`
	Labels                    map[string]string `json:"labels,omitempty"`
	SSLUserCertFile           []byte            `json:"ssl_user_cert_file,omitempty"`
	SSLUserKeyFile            []byte            `json:"ssl_user_key_file,omitempty"`
	WithoutRepair             bool              `json:"without_repair,omitempty"`
	ForceTLSDisabled          bool              `json:"force_tls_disabled,omitempty"`
	ForceNonSSLSessionPort    bool              `json:"force_non_ssl_session_port,omitempty"`
}

// NodeStatus is one node of a cluster status answer (an item of swagger
// "ClusterStatus"): the Manager's type, whose JSON is the wire shape.
type NodeStatus = healthcheck.ClusterStatusItem

// Schedule is the JSON form of a task schedule (swagger "Schedule"). On
// output Cron holds a JSON document {"spec","start_date"} as Scylla
// Manager writes it; on input it accepts that document or a plain spec.
type Schedule struct {
	Cron       string     `json:"cron,omitempty"`
	Window     []string   `json:"window,omitempty"`
	Timezone   string     `json:"timezone,omitempty"`
	StartDate  *time.Time `json:"start_date,omitempty"`
	Interval   string     `json:"interval,omitempty"`
	NumRetries int64      `json:"num_retries"`
	RetryWait  string     `json:"retry_wait,omitempty"`
}

// TaskUpdate is the body of task creation, update and dry run (swagger
// "TaskUpdate").
type TaskUpdate struct {
	Type       string            `json:"type"`
	Name       string            `json:"name,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	Tags       []string          `json:"tags,omitempty"`
	Enabled    bool              `json:"enabled"`
	Schedule   *Schedule         `json:"schedule,omitempty"`
	Properties json.RawMessage   `json:"properties,omitempty"`
}

// Task is a task as returned by the API (swagger "Task").
type Task struct {
	ClusterID  string            `json:"cluster_id"`
	Type       string            `json:"type"`
	ID         string            `json:"id"`
	Name       string            `json:"name,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	Tags       []string          `json:"tags,omitempty"`
	Enabled    bool              `json:"enabled"`
	Schedule   Schedule          `json:"schedule"`
	Properties json.RawMessage   `json:"properties,omitempty"`
}

// TaskListItem is a task with its run summary (swagger "TaskListItem").
type TaskListItem struct {
	Task
	Status         string     `json:"status,omitempty"`
	SuccessCount   int64      `json:"success_count"`
	ErrorCount     int64      `json:"error_count"`
	LastSuccess    *time.Time `json:"last_success,omitempty"`
	LastError      *time.Time `json:"last_error,omitempty"`
	Suspended      bool       `json:"suspended"`
	NextActivation *time.Time `json:"next_activation,omitempty"`
	Retry          int64      `json:"retry"`
}

// TaskRun is one run of a task (swagger "TaskRun").
type TaskRun struct {
	ClusterID string     `json:"cluster_id"`
	Type      string     `json:"type"`
	TaskID    string     `json:"task_id"`
	ID        string     `json:"id"`
	Status    string     `json:"status"`
	Cause     string     `json:"cause,omitempty"`
	Owner     string     `json:"owner,omitempty"`
	StartTime *time.Time `json:"start_time,omitempty"`
	EndTime   *time.Time `json:"end_time,omitempty"`
}

// TaskRunProgress is the answer of the run-progress endpoint: the run and
// its type-specific progress (BackupProgress, []ValidateBackupProgress, …)
// kept raw here; decode it with the type's struct.
type TaskRunProgress struct {
	Run      TaskRun         `json:"run"`
	Progress json.RawMessage `json:"progress"`
}

// ErrorResponse is the body of every error answer (swagger
// "ErrorResponse").
type ErrorResponse struct {
	Message string `json:"message"`
	Details string `json:"details,omitempty"`
	TraceID string `json:"trace_id"`
}

// SuspendDetails is the answer of GET suspended/details.
type SuspendDetails struct {
	Suspended     bool   `json:"suspended"`
	AllowTaskType string `json:"allow_task_type,omitempty"`
}

// Version is the answer of GET /version.
type Version struct {
	Version string `json:"version"`
}
