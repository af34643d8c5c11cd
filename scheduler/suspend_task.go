package scheduler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/scyllaops/scyllaops/store"
)

// SuspendTaskType is the task type of a timed suspension (sctool suspend
// --duration): a run suspends the cluster, waits the duration, then
// resumes it.
const SuspendTaskType = "suspend"

// suspendPollInterval is how often a suspend run checks, while it waits,
// that the suspension is still its own.
const suspendPollInterval = time.Second

// SuspendTaskProperties are the properties of a suspend task, with
// Scylla Manager's names.
type SuspendTaskProperties struct {
	// Duration is how long the cluster stays suspended, a duration string
	// like "90s", "1h30m" or "7d" (units d and w as sctool's); > 0.
	// Required unless Resume.
	Duration string `json:"duration,omitempty"`
	// StartTasks: on resume, start again the tasks the suspension stopped
	// (sctool's --on-resume-start-tasks).
	StartTasks bool `json:"start_tasks,omitempty"`
	// AllowTaskType keeps tasks of this type (or these comma-separated
	// types) running while suspended; health checks always run.
	AllowTaskType string `json:"allow_task_type,omitempty"`
	// SuspendPolicy is "stop_running_tasks" (default) or
	// "fail_if_running_tasks" (the run fails while other tasks run).
	SuspendPolicy string `json:"suspend_policy,omitempty"`
	// NoContinue: see SuspendOptions.NoContinue.
	NoContinue bool `json:"no_continue,omitempty"`
	// Resume makes the run resume the cluster (with StartTasks) instead
	// of suspending it: the form of Scylla Manager's own resume task.
	Resume bool `json:"resume,omitempty"`
}

// parseSuspendProperties decodes and checks suspend task properties
// ("continue", which the scheduler adds to runs, is ignored); d is the
// parsed Duration. Errors are *store.InvalidError naming the field.
func parseSuspendProperties(raw json.RawMessage) (p SuspendTaskProperties, d time.Duration, err error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = []byte("{}")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return p, 0, store.Invalid("properties", `a JSON object of suspend properties, e.g. {"duration":"1h"}`, string(raw))
	}
	delete(obj, "continue")
	b, _ := json.Marshal(obj) // re-encoding decoded JSON cannot fail
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			f = strings.Trim(f, `"`)
			return p, 0, store.Invalid("properties."+f, "a suspend property (duration, start_tasks, allow_task_type, suspend_policy, no_continue, resume)", f)
		}
		if te := (*json.UnmarshalTypeError)(nil); errors.As(err, &te) && te.Field != "" {
			return p, 0, store.Invalid(te.Field, "a JSON "+suspendFieldKind(te.Field), te.Value)
		}
		return p, 0, store.Invalid("properties", "a JSON object of suspend properties", err.Error())
	}
	switch p.SuspendPolicy {
	case "", "stop_running_tasks", "fail_if_running_tasks":
	default:
		return p, 0, store.Invalid("suspend_policy", "stop_running_tasks or fail_if_running_tasks", p.SuspendPolicy)
	}
	if p.Resume {
		return p, 0, nil
	}
	if p.Duration == "" {
		return p, 0, store.Invalid("duration", `a duration > 0 like "1h" or "30m" (how long the cluster stays suspended)`, "")
	}
	d, err = ParseDuration("duration", p.Duration)
	if err != nil {
		return p, 0, err
	}
	if d <= 0 {
		return p, 0, store.Invalid("duration", `a duration > 0 like "1h" or "30m"`, p.Duration)
	}
	return p, d, nil
}

func suspendFieldKind(field string) string {
	switch field {
	case "duration", "allow_task_type", "suspend_policy":
		return `string (e.g. "1h")`
	}
	return "boolean"
}

// SuspendTaskRunner returns the Runner of SuspendTaskType (timed
// suspensions: sctool suspend --duration) on s. The Manager registers it.
func (s *Scheduler) SuspendTaskRunner() Runner { return suspendRunner{s} }

// suspendRunner runs suspend tasks on s.
type suspendRunner struct{ s *Scheduler }

// ValidateProperties implements PropertiesValidator; the allowed task
// types must have runners.
func (r suspendRunner) ValidateProperties(properties json.RawMessage) error {
	p, _, err := parseSuspendProperties(properties)
	if err != nil {
		return err
	}
	return r.checkAllowed(p.AllowTaskType)
}

func (r suspendRunner) checkAllowed(allow string) error {
	if allow == "" {
		return nil
	}
	for typ := range strings.SplitSeq(allow, ",") {
		if _, ok := r.s.Runner(strings.TrimSpace(typ)); !ok {
			return store.Invalid("allow_task_type", "task types with a registered runner, comma-separated: "+strings.Join(r.s.Types(), ", "), allow)
		}
	}
	return nil
}

// suspended returns the cluster's suspension state (a zero state with
// Suspended false when it is not suspended).
func (r suspendRunner) suspended(ctx context.Context, clusterID uuid.UUID) (suspension, error) {
	st, err := r.s.Suspended(ctx, clusterID)
	if err != nil || st == nil {
		return suspension{}, err
	}
	return suspension{SuspendState: *st, Suspended: true}, nil
}

// suspension is a cluster's SuspendState and whether it is suspended.
type suspension struct {
	SuspendState
	Suspended bool
}

// Run implements Runner. It suspends the cluster with the suspend type
// allowed (so that the suspension does not stop this run), waits
// Duration, and resumes the cluster (with StartTasks). Details:
//   - a cluster already suspended with the suspend type allowed (by a run
//     of a suspend task that ended early: its Manager died, say) is not
//     suspended again (that would forget the tasks it stopped): the
//     duration counts from that suspension's start;
//   - if the cluster is resumed, or suspended anew, while the run waits,
//     the run ends DONE and leaves the cluster as it is;
//   - a stopped run (or a Manager closing) leaves the cluster suspended:
//     a resume (sctool resume) lifts it, or a new run of the task resumes
//     it when its time is up.
func (r suspendRunner) Run(ctx context.Context, clusterID, _, _ uuid.UUID, properties json.RawMessage) error {
	p, d, err := parseSuspendProperties(properties)
	if err != nil {
		return Permanent(err)
	}
	if p.Resume {
		return r.resume(ctx, clusterID, p.StartTasks)
	}
	cur, err := r.suspended(ctx, clusterID)
	if err != nil {
		return err
	}
	if !cur.Suspended || !allowsType(cur.AllowTaskType, SuspendTaskType) {
		allow := SuspendTaskType
		if p.AllowTaskType != "" {
			allow = p.AllowTaskType + "," + SuspendTaskType
		}
		if err := r.checkAllowed(p.AllowTaskType); err != nil {
			return Permanent(err)
		}
		o := SuspendOptions{AllowTaskType: allow, FailIfRunning: p.SuspendPolicy == "fail_if_running_tasks", NoContinue: p.NoContinue}
		if err := r.s.SuspendWithOptions(ctx, clusterID, o); err != nil {
			return fmt.Errorf("scheduler: suspend task: suspend cluster: %w", err)
		}
		if cur, err = r.suspended(ctx, clusterID); err != nil {
			return err
		}
		if !cur.Suspended {
			return nil // resumed at once by someone else
		}
	}
	end := cur.StartedAt.Add(d)
	r.s.log.InfoContext(ctx, "cluster suspended by a suspend task", "cluster", clusterID, "resume_at", end)
	for {
		wait := min(time.Until(end), suspendPollInterval)
		if wait <= 0 {
			break
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(wait):
		}
		now, err := r.suspended(ctx, clusterID)
		if err != nil {
			r.s.log.WarnContext(ctx, "suspend task: read the cluster's suspension", "cluster", clusterID, "err", err)
			continue
		}
		if !now.Suspended || !now.StartedAt.Equal(cur.StartedAt) {
			r.s.log.InfoContext(ctx, "suspend task: the cluster was resumed or suspended again meanwhile; leaving it as it is", "cluster", clusterID)
			return nil
		}
	}
	return r.resume(ctx, clusterID, p.StartTasks)
}

func (r suspendRunner) resume(ctx context.Context, clusterID uuid.UUID, startTasks bool) error {
	if _, err := r.s.st.GetCluster(ctx, clusterID); err != nil {
		return fmt.Errorf("scheduler: suspend task: cluster %s: %w", clusterID, err)
	}
	if err := r.s.ResumeWithOptions(ctx, clusterID, ResumeOptions{StartTasks: startTasks}); err != nil {
		return fmt.Errorf("scheduler: suspend task: resume cluster: %w", err)
	}
	return nil
}

// allowsType reports whether the comma-separated list allow holds typ.
func allowsType(allow, typ string) bool {
	for a := range strings.SplitSeq(allow, ",") {
		if strings.TrimSpace(a) == typ {
			return true
		}
	}
	return false
}
