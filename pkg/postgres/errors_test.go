package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/openreplicator/replicator/pkg/replicator"
)

// TestTranslate: the one translation of driver errors. PostgreSQL going
// away becomes KindUnavailable (with the cause kept for the logs); a
// domain error, a failed statement and a canceled request pass as they
// are.
func TestTranslate(t *testing.T) {
	failed := &pgconn.PgError{Code: "42703", Message: "column does not exist"}
	for _, tc := range []struct {
		name string
		err  error
		kind replicator.Kind
		same bool // translate returns err itself
	}{
		{"nil", nil, replicator.KindInternal, true},
		{"domain error", replicator.ErrNotFound, replicator.KindNotFound, true},
		{"wrapped domain error", fmt.Errorf("x: %w", replicator.Conflict("replicatorName", "taken")), replicator.KindConflict, true},
		{"failed statement", failed, replicator.KindInternal, true},
		{"canceled", fmt.Errorf("query: %w", context.Canceled), replicator.KindInternal, true},
		{"server shutting down", &pgconn.PgError{Code: "57P01"}, replicator.KindUnavailable, false},
		{"connection refused", fmt.Errorf("dial: %w", syscall.ECONNREFUSED), replicator.KindUnavailable, false},
		{"too many connections", &pgconn.PgError{Code: "53300"}, replicator.KindUnavailable, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := translate(tc.err)
			if tc.same && got != tc.err {
				t.Fatalf("translate(%v) = %v, want it unchanged", tc.err, got)
			}
			if tc.err != nil && replicator.KindOf(got) != tc.kind {
				t.Fatalf("translate(%v) is of kind %v, want %v", tc.err, replicator.KindOf(got), tc.kind)
			}
			if tc.kind == replicator.KindUnavailable {
				var de *replicator.Error
				if !errors.As(got, &de) || de.Message != "the service is temporarily unavailable; retry" || !errors.Is(got, tc.err) {
					t.Fatalf("translate(%v) = %#v: want the 503's message and the cause kept", tc.err, got)
				}
			}
		})
	}
}

// TestWrapNamesTheOperation: wrap prefixes an error with its operation
// once, keeps what errors.Is and errors.As find and a domain error's
// message, and leaves nil alone.
func TestWrapNamesTheOperation(t *testing.T) {
	op := func(e error) (err error) {
		defer wrap(&err, "GetReplicator(%q)", "arn:x")
		return e
	}
	if err := op(nil); err != nil {
		t.Fatalf("wrap of nil: %v", err)
	}
	err := op(replicator.ErrNotFound)
	var de *replicator.Error
	if !errors.Is(err, replicator.ErrNotFound) || !errors.As(err, &de) || de.Message != "replicator not found" {
		t.Fatalf("wrapped domain error %v lost its identity or message", err)
	}
	if got, want := err.Error(), `postgres: GetReplicator("arn:x"): replicator not found`; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	err = op(&pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"})
	if replicator.KindOf(err) != replicator.KindUnavailable || !strings.HasPrefix(err.Error(), `postgres: GetReplicator("arn:x"): the service is temporarily unavailable`) {
		t.Fatalf("wrapped unavailable error %v", err)
	}
}
