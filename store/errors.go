package store

import (
	"errors"
	"fmt"
)

// Sentinel errors. Drivers wrap them; test with errors.Is.
var (
	// ErrNotFound: the record does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a record with the same identity or unique name exists.
	ErrConflict = errors.New("store: conflict")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store: closed")
	// ErrLeaseHeld: another owner holds the lease.
	ErrLeaseHeld = errors.New("store: lease held by another owner")
	// ErrLeaseLost: the caller's lease (fencing token) is stale; its
	// write was refused.
	ErrLeaseLost = errors.New("store: lease lost (stale fencing token)")
	// ErrUnavailable: the store's database cannot be reached or did not
	// answer in time; retry later. A write that fails with it may or may
	// not have been applied.
	ErrUnavailable = errors.New("store: database unavailable")
	// ErrInvalid: an argument is malformed. The concrete error is an
	// *InvalidError naming the field.
	ErrInvalid = errors.New("invalid argument")
)

// InvalidError reports a bad argument: which field, and what is accepted.
// errors.Is(err, ErrInvalid) holds for it.
type InvalidError struct {
	// Field is the argument's name as the caller knows it, e.g.
	// "task.type" or "schedule.cron".
	Field string
	// Want describes the accepted form, with an example where useful.
	Want string
	// Got is the offending value, shown quoted; empty to omit it.
	Got string
}

func (e *InvalidError) Error() string {
	if e.Got != "" {
		return fmt.Sprintf("invalid %s %q: want %s", e.Field, e.Got, e.Want)
	}
	return fmt.Sprintf("invalid %s: want %s", e.Field, e.Want)
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// Invalid returns an *InvalidError.
func Invalid(field, want, got string) error {
	return &InvalidError{Field: field, Want: want, Got: got}
}
