// Package webhook sends the end of each run to its cluster's webhook:
// when a run ends (DONE, STOPPED, WAITING, ERROR, ABORTED), the Sender
// POSTs a CloudEvents 1.0 event (Event) in structured JSON mode
// (Content-Type application/cloudevents+json) to the URL in the cluster's
// Label label, if set. A label rather than a Manager option makes the
// URL per cluster, settable through the cluster API (sctool's --label)
// and shared by every Manager of a store.
//
// Delivery never blocks the scheduler: events go to a bounded queue
// (QueueSize; when full, the event is dropped and logged) drained by one
// goroutine (Sender.Run) that Manager.Run owns. Each POST is retried with
// exponential backoff (go-retryablehttp: up to 5 retries, 1s to 30s) on
// connection errors and 5xx/429 answers. When Run's context ends, the
// events of the runs ended by the shutdown (ABORTED) are still
// delivered, for at most DrainTimeout after the scheduler stopped; what
// is left then is dropped and logged. Every Manager sends the events of
// the runs it executed, so each run end is sent once (at least once
// under retries: receivers deduplicate by the event "id").
package webhook
