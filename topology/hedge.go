package topology

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/scyllaops/scyllaops/agentclient"
)

// Defaults of HedgeOptions.
const (
	DefaultContactTimeout = 10 * time.Second
	DefaultMaxContacts    = 3
)

// HedgeOptions tune the hedged multi-contact calls (Hedge, DiscoverAny).
type HedgeOptions struct {
	// ContactTimeout bounds the calls to one contact host. Default:
	// DefaultContactTimeout.
	ContactTimeout time.Duration
	// HedgeAfter is how long a contact may stay silent before the next
	// one is asked too. Default: ContactTimeout/4.
	HedgeAfter time.Duration
	// MaxContacts is how many contacts are asked at most (< 0: all).
	// Default: DefaultMaxContacts.
	MaxContacts int
}

func (o HedgeOptions) withDefaults() HedgeOptions {
	if o.ContactTimeout <= 0 {
		o.ContactTimeout = DefaultContactTimeout
	}
	if o.HedgeAfter <= 0 {
		o.HedgeAfter = o.ContactTimeout / 4
	}
	if o.MaxContacts == 0 {
		o.MaxContacts = DefaultMaxContacts
	}
	return o
}

// ContactError is the error of a hedged call that no contact answered:
// every host tried, with its cause.
type ContactError struct {
	// Tried are the hosts asked, in order, with their errors.
	Tried []ContactFailure
}

// ContactFailure is one contact host that did not answer.
type ContactFailure struct {
	Host string
	Err  error
}

func (e *ContactError) Error() string {
	if len(e.Tried) == 0 {
		return "topology: no contact host to ask (the cluster has no known host)"
	}
	parts := make([]string, len(e.Tried))
	for i, f := range e.Tried {
		parts[i] = f.Host + ": " + f.Err.Error()
	}
	return fmt.Sprintf("topology: no contact host answered (tried %d): %s", len(e.Tried), strings.Join(parts, "; "))
}

// Unwrap returns the contacts' errors (errors.Is sees through them).
func (e *ContactError) Unwrap() []error {
	out := make([]error, len(e.Tried))
	for i, f := range e.Tried {
		out[i] = f.Err
	}
	return out
}

// Contacts returns hosts without empty and duplicate entries, in order.
func Contacts(hosts ...string) []string {
	out := make([]string, 0, len(hosts))
	for _, h := range hosts {
		if h != "" && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// Hedge calls fn on contacts (see Contacts), first the first one; when a
// contact fails, or has not answered after o.HedgeAfter, the next one is
// asked too, and the first answer wins: a hung contact costs HedgeAfter,
// not ContactTimeout. Each call gets a context bounded by
// o.ContactTimeout and by ctx until an answer wins; the calls still
// running then are left to finish in the background (at most
// o.ContactTimeout) rather than canceled: canceling an HTTP/1.1 request
// in flight closes its connection, so every contact hedged out would cost
// a new TCP and TLS handshake at the next call. Hedge returns the winning
// answer and its contact, or a *ContactError naming every host tried and
// its cause.
func Hedge[T any](ctx context.Context, contacts []string, o HedgeOptions, fn func(ctx context.Context, contact string) (T, error)) (T, string, error) {
	o = o.withDefaults()
	contacts = Contacts(contacts...)
	if o.MaxContacts > 0 && len(contacts) > o.MaxContacts {
		contacts = contacts[:o.MaxContacts]
	}
	type answer struct {
		i   int
		v   T
		err error
	}
	// The calls' context: canceled with ctx until an answer wins (or
	// Hedge fails), not after.
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, cancel)
	won := false
	defer func() {
		if !won || !stop() {
			cancel()
		}
	}()
	answers := make(chan answer, len(contacts)) // buffered: losers never block
	next, pending := 0, 0
	ask := func() {
		i := next
		next++
		pending++
		go func() {
			end := time.Now().Add(o.ContactTimeout)
			if d, ok := ctx.Deadline(); ok && d.Before(end) {
				end = d // the caller's deadline still bounds the call
			}
			cctx, ccancel := context.WithDeadline(hctx, end)
			defer ccancel()
			v, err := fn(cctx, contacts[i])
			answers <- answer{i, v, err}
		}()
	}
	hedge := time.NewTimer(o.HedgeAfter)
	defer hedge.Stop()
	failed := make([]error, len(contacts))
	if len(contacts) > 0 {
		ask()
	}
	for pending > 0 {
		select {
		case a := <-answers:
			pending--
			if a.err == nil {
				won = true
				return a.v, contacts[a.i], nil
			}
			failed[a.i] = a.err
			if next < len(contacts) && ctx.Err() == nil {
				ask()
				hedge.Reset(o.HedgeAfter)
			}
		case <-hedge.C:
			if next < len(contacts) {
				ask()
				hedge.Reset(o.HedgeAfter)
			}
		}
	}
	e := &ContactError{}
	for i := range next {
		e.Tried = append(e.Tried, ContactFailure{Host: contacts[i], Err: failed[i]})
	}
	var zero T
	return zero, "", e
}

// DiscoverAny is Discover hedged over contacts (see Hedge): the view of
// the first contact that answers. The per-node calls of a discovery
// (shard counts, node_info) are best effort within the contact's time.
func DiscoverAny(ctx context.Context, client *agentclient.Client, contacts []string, o HedgeOptions) (*Cluster, error) {
	c, _, err := Hedge(ctx, contacts, o, func(ctx context.Context, contact string) (*Cluster, error) {
		return Discover(ctx, client, contact)
	})
	if err != nil {
		var ce *ContactError
		if errors.As(err, &ce) {
			return nil, err
		}
		return nil, fmt.Errorf("topology: %w", err)
	}
	return c, nil
}

// FirstAnswering returns the first of contacts whose agent answers the
// host-ID map (hedged, see Hedge): a contact host for the calls that
// need one node.
func FirstAnswering(ctx context.Context, client *agentclient.Client, contacts []string, o HedgeOptions) (string, error) {
	_, c, err := Hedge(ctx, contacts, o, func(ctx context.Context, h string) (struct{}, error) {
		_, err := client.HostIDMap(ctx, h)
		return struct{}{}, err
	})
	return c, err
}
