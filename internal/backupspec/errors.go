package backupspec

import (
	"errors"
	"fmt"
)

// ErrInvalid is matched (errors.Is) by every *InvalidError.
var ErrInvalid = errors.New("backupspec: invalid argument")

// InvalidError reports a malformed value: which field, what is accepted.
type InvalidError struct {
	// Field names the value as the caller knows it, e.g. "location".
	Field string
	// Want describes the accepted form, with an example.
	Want string
	// Got is the offending value.
	Got string
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("backupspec: invalid %s %q: want %s", e.Field, e.Got, e.Want)
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, want, got string) error {
	return &InvalidError{Field: field, Want: want, Got: got}
}
