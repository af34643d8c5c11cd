package memstore

import (
	"encoding/json"
	"maps"
	"slices"

	"github.com/scyllaops/scyllaops/store"
)

// The clone functions deep-copy records so that neither the caller nor
// the store can see the other's later changes.

func cloneCluster(c *store.Cluster) *store.Cluster {
	out := *c
	out.Labels = maps.Clone(c.Labels)
	out.KnownHosts = slices.Clone(c.KnownHosts)
	return &out
}

func cloneTask(t *store.Task) *store.Task {
	out := *t
	out.Labels = maps.Clone(t.Labels)
	out.Schedule.Window = slices.Clone(t.Schedule.Window)
	out.Properties = cloneRaw(t.Properties)
	return &out
}

func cloneRun(r *store.Run) *store.Run {
	out := *r
	out.Properties = cloneRaw(r.Properties)
	return &out
}

func cloneProgress(p *store.Progress) *store.Progress {
	out := *p
	out.Data = cloneRaw(p.Data)
	return &out
}

func cloneEvent(e *store.Event) *store.Event {
	out := *e
	out.Attributes = maps.Clone(e.Attributes)
	return &out
}

func cloneRaw(m json.RawMessage) json.RawMessage {
	if m == nil {
		return nil
	}
	return slices.Clone(m)
}
