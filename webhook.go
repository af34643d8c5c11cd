package scyllaops

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

// Webhooks: when a run ends (DONE, STOPPED, WAITING, ERROR, ABORTED), the
// Manager POSTs a CloudEvents 1.0 event in structured JSON mode
// (Content-Type application/cloudevents+json) to the URL in the cluster's
// WebhookLabel label, if set. The choice of a label (rather than a Manager
// option) makes the URL per cluster, settable through the existing
// cluster API (sctool's --label) and shared by every Manager of a store.
//
// Delivery never blocks the scheduler: events go to a bounded queue
// (WebhookQueueSize; when full, the event is dropped and logged) drained
// by one goroutine that Manager.Run owns. Each POST is retried with
// exponential backoff (go-retryablehttp: up to 5 retries, 1s to 30s) on
// connection errors and 5xx/429 answers. When Run's context ends, the
// events of the runs ended by the shutdown (ABORTED) are still delivered,
// for at most WebhookDrainTimeout after the scheduler stopped; what is
// left then is dropped and logged. Every Manager sends the events of the runs it
// executed, so each run end is sent once (at least once under retries:
// receivers deduplicate by the event "id").
const (
	// WebhookLabel is the cluster label holding the webhook URL
	// (http or https).
	WebhookLabel = "scyllaops.io/webhook-url"
	// WebhookQueueSize bounds the events waiting for delivery.
	WebhookQueueSize = 1024
	// WebhookDrainTimeout bounds the delivery of queued events at
	// shutdown.
	WebhookDrainTimeout = 10 * time.Second
	// WebhookEventType is the CloudEvents "type" of a run end.
	WebhookEventType = "io.scyllaops.run.finished"
)

// WebhookEvent is the CloudEvents envelope the webhook receives.
type WebhookEvent struct {
	SpecVersion     string          `json:"specversion"`
	Type            string          `json:"type"`
	Source          string          `json:"source"`
	ID              string          `json:"id"`
	Time            time.Time       `json:"time"`
	Subject         string          `json:"subject"`
	DataContentType string          `json:"datacontenttype"`
	Data            WebhookRunEvent `json:"data"`
}

// WebhookRunEvent is the data of a WebhookEvent.
type WebhookRunEvent struct {
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

// webhooks queues run ends and delivers them.
type webhooks struct {
	st     store.ClusterStore
	log    *slog.Logger
	owner  string
	client *retryablehttp.Client
	queue  chan scheduler.RunEnd
}

func newWebhooks(st store.ClusterStore, log *slog.Logger, owner string) *webhooks {
	c := retryablehttp.NewClient()
	c.Logger = nil // it logs through w.log only
	c.RetryMax = 5
	c.RetryWaitMin = time.Second
	c.RetryWaitMax = 30 * time.Second
	c.HTTPClient.Timeout = 30 * time.Second
	return &webhooks{st: st, log: log.With("component", "webhook"), owner: owner, client: c, queue: make(chan scheduler.RunEnd, WebhookQueueSize)}
}

// enqueue is the scheduler's OnRunEnd: it never blocks.
func (w *webhooks) enqueue(e scheduler.RunEnd) {
	select {
	case w.queue <- e:
	default:
		w.log.Warn("webhook queue full, event dropped", "cluster", e.Run.ClusterID, "run", e.Run.ID, "status", e.Run.Status)
	}
}

// run delivers queued events until ctx is done or the scheduler stopped
// (schedDone closed), then what the scheduler queued until it stopped,
// within WebhookDrainTimeout.
func (w *webhooks) run(ctx context.Context, schedDone <-chan struct{}) {
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
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), WebhookDrainTimeout)
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

func (w *webhooks) deliver(ctx context.Context, e scheduler.RunEnd) {
	c, err := w.st.GetCluster(ctx, e.Run.ClusterID)
	if err != nil {
		return // deleted meanwhile, or the store is gone
	}
	target := c.Labels[WebhookLabel]
	if target == "" {
		return
	}
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		w.log.Warn("bad webhook URL label", "cluster", c.ID, "url", target)
		return
	}
	r := e.Run
	ev := WebhookEvent{
		SpecVersion: "1.0", Type: WebhookEventType,
		Source: "/scyllaops/clusters/" + c.ID.String(),
		// Unique per run, also for a reused run record (health checks):
		// the start time tells its runs apart; the same for redeliveries.
		ID:              fmt.Sprintf("%s/%s/%d/%d", r.ID, r.Status, r.Attempt, r.StartTime.UnixMilli()),
		Time:            r.EndTime.UTC(),
		Subject:         "tasks/" + r.Type + "/" + r.TaskID.String() + "/runs/" + r.ID.String(),
		DataContentType: "application/json",
		Data: WebhookRunEvent{ClusterID: c.ID, ClusterName: c.Name, TaskID: r.TaskID, TaskType: r.Type, TaskName: e.TaskName,
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
