package replicator

import (
	"errors"
	"fmt"
)

// Kind classifies an error for the caller. The API maps each kind to one AWS
// error type in a single table.
type Kind int

const (
	KindInternal Kind = iota
	KindInvalid
	KindNotFound
	KindConflict
	KindUnauthorized
	KindForbidden
	KindTooManyRequests
	KindUnavailable
)

// Error is a domain error with a user-safe message. Param names the request
// member that caused it (the AWS invalidParameter), when there is one.
type Error struct {
	Kind    Kind
	Param   string
	Message string
	Err     error // the cause, for logs only; never shown to users
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Invalid reports bad input in member param.
func Invalid(param, format string, args ...any) error {
	return &Error{Kind: KindInvalid, Param: param, Message: fmt.Sprintf(format, args...)}
}

// NotFound reports a resource the caller cannot see.
func NotFound(param, format string, args ...any) error {
	return &Error{Kind: KindNotFound, Param: param, Message: fmt.Sprintf(format, args...)}
}

// Conflict reports a resource that already exists.
func Conflict(param, format string, args ...any) error {
	return &Error{Kind: KindConflict, Param: param, Message: fmt.Sprintf(format, args...)}
}

// Unavailable reports a dependency that cannot be reached right now.
func Unavailable(cause error, format string, args ...any) error {
	return &Error{Kind: KindUnavailable, Message: fmt.Sprintf(format, args...), Err: cause}
}

// KindOf returns the kind of err, KindInternal for errors that carry none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// ErrNotFound is the plain not-found error stores return.
var ErrNotFound = &Error{Kind: KindNotFound, Param: "replicatorArn", Message: "replicator not found"}
