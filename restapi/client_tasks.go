package restapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// ListTasksOptions filters ListTasks.
type ListTasksOptions struct {
	// All includes disabled tasks.
	All bool
	// Type and Status filter by task type and last run status.
	Type   string
	Status string
	// Short skips the run summary.
	Short bool
	// TaskID selects one task.
	TaskID string
}

// ListTasks lists the tasks of a cluster.
func (c *Client) ListTasks(ctx context.Context, cluster string, o ListTasksOptions) ([]TaskListItem, error) {
	q := url.Values{}
	if o.All {
		q.Set("all", "true")
	}
	if o.Type != "" {
		q.Set("type", o.Type)
	}
	if o.Status != "" {
		q.Set("status", o.Status)
	}
	if o.Short {
		q.Set("short", "true")
	}
	if o.TaskID != "" {
		q.Set("task_id", o.TaskID)
	}
	var out []TaskListItem
	_, err := c.do(ctx, http.MethodGet, c.url(q, "cluster", cluster, "tasks"), nil, &out)
	return out, err
}

// CreateTask creates a task and returns its ID.
func (c *Client) CreateTask(ctx context.Context, cluster string, t TaskUpdate) (string, error) {
	h, err := c.do(ctx, http.MethodPost, c.url(nil, "cluster", cluster, "tasks"), t, nil)
	if err != nil {
		return "", err
	}
	return lastSegment(h), nil
}

// TaskTarget runs the dry run of a task (GET with a body) and decodes the
// target into out (e.g. *BackupTarget).
func (c *Client) TaskTarget(ctx context.Context, cluster string, t TaskUpdate, out any) error {
	_, err := c.do(ctx, http.MethodGet, c.url(nil, "cluster", cluster, "tasks", t.Type, "target"), t, out)
	return err
}

// GetTask returns a task.
func (c *Client) GetTask(ctx context.Context, cluster, taskType, taskID string) (Task, error) {
	var out Task
	_, err := c.do(ctx, http.MethodGet, c.url(nil, "cluster", cluster, "task", taskType, taskID), nil, &out)
	return out, err
}

// UpdateTask replaces a task and returns it.
func (c *Client) UpdateTask(ctx context.Context, cluster, taskType, taskID string, t TaskUpdate) (Task, error) {
	var out Task
	_, err := c.do(ctx, http.MethodPut, c.url(nil, "cluster", cluster, "task", taskType, taskID), t, &out)
	return out, err
}

// DeleteTask deletes a task.
func (c *Client) DeleteTask(ctx context.Context, cluster, taskType, taskID string) error {
	_, err := c.do(ctx, http.MethodDelete, c.url(nil, "cluster", cluster, "task", taskType, taskID), nil, nil)
	return err
}

// StartTask starts a task now; noContinue starts it from scratch.
func (c *Client) StartTask(ctx context.Context, cluster, taskType, taskID string, noContinue bool) error {
	q := url.Values{}
	if noContinue {
		q.Set("continue", "false")
	}
	_, err := c.do(ctx, http.MethodPut, c.url(q, "cluster", cluster, "task", taskType, taskID, "start"), nil, nil)
	return err
}

// StopTask stops a task's run; disable also disables the task.
func (c *Client) StopTask(ctx context.Context, cluster, taskType, taskID string, disable bool) error {
	q := url.Values{}
	if disable {
		q.Set("disable", "true")
	}
	_, err := c.do(ctx, http.MethodPut, c.url(q, "cluster", cluster, "task", taskType, taskID, "stop"), nil, nil)
	return err
}

// TaskHistory returns up to limit runs, newest first (limit <= 0: the
// server's default 10).
func (c *Client) TaskHistory(ctx context.Context, cluster, taskType, taskID string, limit int) ([]TaskRun, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out []TaskRun
	_, err := c.do(ctx, http.MethodGet, c.url(q, "cluster", cluster, "task", taskType, taskID, "history"), nil, &out)
	return out, err
}

// RunProgress returns a run and its progress; runID is a UUID, "latest"
// or "~N" (the Nth-last run).
func (c *Client) RunProgress(ctx context.Context, cluster, taskType, taskID, runID string) (TaskRunProgress, error) {
	var out TaskRunProgress
	_, err := c.do(ctx, http.MethodGet, c.url(nil, "cluster", cluster, "task", taskType, taskID, runID), nil, &out)
	return out, err
}

// Suspended reports whether the cluster is suspended.
func (c *Client) Suspended(ctx context.Context, cluster string) (bool, error) {
	var out bool
	_, err := c.do(ctx, http.MethodGet, c.url(nil, "cluster", cluster, "suspended"), nil, &out)
	return out, err
}

// SuspendDetails returns the suspend state with the allowed task type.
func (c *Client) SuspendDetails(ctx context.Context, cluster string) (SuspendDetails, error) {
	var out SuspendDetails
	_, err := c.do(ctx, http.MethodGet, c.url(nil, "cluster", cluster, "suspended", "details"), nil, &out)
	return out, err
}

// SuspendOptions tunes Suspend.
type SuspendOptions struct {
	// AllowTaskType is a task type that keeps running while suspended.
	AllowTaskType string
	// FailIfRunning makes the suspend fail (409) when tasks run, instead
	// of stopping them.
	FailIfRunning bool
	// NoContinue makes stopped tasks start from scratch on resume.
	NoContinue bool
}

// Suspend suspends the cluster's tasks.
func (c *Client) Suspend(ctx context.Context, cluster string, o SuspendOptions) error {
	q := url.Values{}
	if o.AllowTaskType != "" {
		q.Set("allow_task_type", o.AllowTaskType)
	}
	if o.FailIfRunning {
		q.Set("suspend_policy", "fail_if_running_tasks")
	}
	if o.NoContinue {
		q.Set("no_continue", "true")
	}
	_, err := c.do(ctx, http.MethodPut, c.url(q, "cluster", cluster, "suspended"), true, nil)
	return err
}

// ResumeOptions tunes Resume.
type ResumeOptions struct {
	// StartTasks starts the tasks the suspend stopped.
	StartTasks bool
	// StartTasksMissedActivation starts tasks whose activation fell in
	// the suspension.
	StartTasksMissedActivation bool
	// NoContinue starts them from scratch.
	NoContinue bool
}

// Resume resumes the cluster's tasks.
func (c *Client) Resume(ctx context.Context, cluster string, o ResumeOptions) error {
	q := url.Values{}
	q.Set("start_tasks", strconv.FormatBool(o.StartTasks))
	if o.StartTasksMissedActivation {
		q.Set("start_tasks_missed_activation", "true")
	}
	if o.NoContinue {
		q.Set("no_continue", "true")
	}
	_, err := c.do(ctx, http.MethodPut, c.url(q, "cluster", cluster, "suspended"), false, nil)
	return err
}
