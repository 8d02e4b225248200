package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/openreplicator/replicator/pkg/replicator"
)

// wrap translates *errp into a domain error (translate) and prefixes it
// with the operation that failed, as pkgsite's derrors.Wrap does. Every
// exported method of Store begins with
//
//	defer wrap(&err, "Op(%q)", arg)
//
// so that an error in the logs names the statement it comes from. What
// clients see does not change: errors.Is and errors.As see through the
// prefix, and the API shows a domain error's Message, never its Error().
// Arguments are identifiers (worker, replicator, ARN, account), never
// specs, tags or reports.
func wrap(errp *error, format string, args ...any) {
	if *errp == nil {
		return
	}
	*errp = fmt.Errorf("postgres: %s: %w", fmt.Sprintf(format, args...), translate(*errp))
}

// translate is the one place where driver errors become domain errors:
// PostgreSQL that cannot be reached or is going away becomes a
// replicator.KindUnavailable error (the API answers 503
// ServiceUnavailableException, which clients retry). A domain error
// (replicator.Error) passes as it is, and so does any other error: a
// failed statement is an internal error, whose text only the logs show.
//
// What a driver outcome means for one operation (no row: not found; a
// unique violation on a name: a conflict) is decided where the operation
// runs its statement, before translate.
func translate(err error) error {
	var de *replicator.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &de):
		return err
	case unavailable(err):
		return replicator.Unavailable(err, "the service is temporarily unavailable; retry")
	}
	return err
}

// unavailable reports whether err means PostgreSQL could not be reached or
// is going away (connection refused or lost, server shutting down or
// starting up), as opposed to a failed statement.
func unavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08: connection exception; 57P01-03: admin shutdown, crash
		// shutdown, cannot connect now; 53300: too many connections.
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03" || pe.Code == "53300"
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) {
		return true
	}
	return pgconn.SafeToRetry(err) || pgconn.Timeout(err) || strings.Contains(err.Error(), "conn closed")
}

// isUniqueViolation reports a unique-constraint failure (SQLSTATE 23505).
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}
