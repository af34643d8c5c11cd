package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/go-retryablehttp"

	"github.com/scyllaops/scyllaops/scheduler"
	"github.com/scyllaops/scyllaops/store"
)

const (
	// Label is the cluster label holding the webhook URL
	// (http or https).
	Label = "scyllaops.io/webhook-url"
	// QueueSize bounds the events waiting for delivery.
	QueueSize = 1024
	// DrainTimeout bounds the delivery of queued events at
	// shutdown.
	DrainTimeout = 10 * time.Second
	// EventType is the CloudEvents "type" of a run end.
	EventType = "io.scyllaops.run.finished"
)

// Event is the CloudEvents envelope the webhook receives.
type Event struct {
	SpecVersion     string    `json:"specversion"`
	Type            string    `json:"type"`
	Source          string    `json:"source"`
	ID              string    `json:"id"`
	Time            time.Time `json:"time"`
	Subject         string    `json:"subject"`
	DataContentType string    `json:"datacontenttype"`
	Data            RunEvent  `json:"data"`
}

// RunEvent is the data of a Event.
type RunEvent struct {
	ClusterID   uuid.UUID    `json:"cluster_id"`
	ClusterName string       `json:"cluster_name"`
	TaskID      uuid.UUID    `json:"task_id"`
	TaskType    string       `json:"task_type"`
	TaskName    string       `json:"task_name,omitempty"`
	RunID       uuid.UUID    `json:"run_id"`
	Status      store.Status `json:"status"`
	Cause       string       `json:"cause,omitempty"`
	Attempt     int          `json:"attempt"`
	// Final is false when a retry is scheduled or the run will
	// continue (WAITING, ABORTED).
	Final     bool      `json:"final"`
	StartTime time.Time `json:"start_time"`
	EndTime   time.Time `json:"end_time"`
	Owner     string    `json:"owner"`
}

// Sender queues run ends and delivers them to their cluster's webhook.
// Create it with New; Enqueue is the scheduler's OnRunEnd and Run the
// delivery loop.
type Sender struct {
	st     store.ClusterStore
	log    *slog.Logger
	owner  string
	client *retryablehttp.Client
	queue  chan scheduler.RunEnd
}

// New returns a Sender reading each cluster's webhook URL from st; owner
// is the Manager's owner ID, log its logger.
func New(st store.ClusterStore, log *slog.Logger, owner string) *Sender {
	c := retryablehttp.NewClient()
	c.Logger = nil // it logs through w.log only
	c.RetryMax = 5
	c.RetryWaitMin = time.Second
	c.RetryWaitMax = 30 * time.Second
	c.HTTPClient.Timeout = 30 * time.Second
	return &Sender{st: st, log: log.With("component", "webhook"), owner: owner, client: c, queue: make(chan scheduler.RunEnd, QueueSize)}
}

// Enqueue is the scheduler's OnRunEnd: it never blocks (a full queue
// drops the event and logs it).
func (w *Sender) Enqueue(e scheduler.RunEnd) {
	select {
	case w.queue <- e:
	default:
		w.log.Warn("webhook queue full, event dropped", "cluster", e.Run.ClusterID, "run", e.Run.ID, "status", e.Run.Status)
	}
}

// Run delivers queued events until ctx is done or the scheduler stopped
// (schedDone closed), then what the scheduler queued until it stopped,
// within DrainTimeout.
func (w *Sender) Run(ctx context.Context, schedDone <-chan struct{}) {
	for {
		select {
		case e := <-w.queue:
			w.deliver(ctx, e)
			continue
		case <-ctx.Done():
		case <-schedDone:
		}
		break
	}
	<-schedDone // its last run ends are queued
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DrainTimeout)
	defer cancel()
	for {
		select {
		case e := <-w.queue:
			if dctx.Err() != nil {
				w.log.Warn("shutting down: webhook events not delivered", "count", len(w.queue)+1)
				return
			}
			w.deliver(dctx, e)
		default:
			return
		}
	}
}

// CloseIdleConnections closes the idle connections to the webhooks.
func (w *Sender) CloseIdleConnections() { w.client.HTTPClient.CloseIdleConnections() }

func (w *Sender) deliver(ctx context.Context, e scheduler.RunEnd) {
	c, err := w.st.GetCluster(ctx, e.Run.ClusterID)
	if err != nil {
		return // deleted meanwhile, or the store is gone
	}
	target := c.Labels[Label]
	if target == "" {
		return
	}
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		w.log.Warn("bad webhook URL label", "cluster", c.ID, "url", target)
		return
	}
	r := e.Run
	ev := Event{
		SpecVersion: "1.0", Type: EventType,
		Source: "/scyllaops/clusters/" + c.ID.String(),
		// Unique per run, also for a reused run record (health checks):
		// the start time tells its runs apart; the same for redeliveries.
		ID:              fmt.Sprintf("%s/%s/%d/%d", r.ID, r.Status, r.Attempt, r.StartTime.UnixMilli()),
		Time:            r.EndTime.UTC(),
		Subject:         "tasks/" + r.Type + "/" + r.TaskID.String() + "/runs/" + r.ID.String(),
		DataContentType: "application/json",
		Data: RunEvent{ClusterID: c.ID, ClusterName: c.Name, TaskID: r.TaskID, TaskType: r.Type, TaskName: e.TaskName,
			RunID: r.ID, Status: r.Status, Cause: r.Cause, Attempt: r.Attempt, Final: e.Final,
			StartTime: r.StartTime.UTC(), EndTime: r.EndTime.UTC(), Owner: r.Owner},
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/cloudevents+json")
	resp, err := w.client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("webhook delivery failed", "cluster", c.ID, "run", r.ID, "err", err)
		}
		return
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		w.log.Warn("webhook refused", "cluster", c.ID, "run", r.ID, "status", resp.StatusCode)
	}
}
