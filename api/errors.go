package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/openreplicator/replicator/pkg/replicator"
)

// awsErrors maps each domain error kind to its HTTP status and AWS exception
// type: the one table of the API's error model.
var awsErrors = map[replicator.Kind]struct {
	status int
	typ    string
}{
	replicator.KindInvalid:         {http.StatusBadRequest, "BadRequestException"},
	replicator.KindNotFound:        {http.StatusNotFound, "NotFoundException"},
	replicator.KindConflict:        {http.StatusConflict, "ConflictException"},
	replicator.KindUnauthorized:    {http.StatusUnauthorized, "UnauthorizedException"},
	replicator.KindForbidden:       {http.StatusForbidden, "ForbiddenException"},
	replicator.KindTooManyRequests: {http.StatusTooManyRequests, "TooManyRequestsException"},
	replicator.KindUnavailable:     {http.StatusServiceUnavailable, "ServiceUnavailableException"},
	replicator.KindInternal:        {http.StatusInternalServerError, "InternalServerErrorException"},
}

// writeError answers with the AWS error for err. Errors without a domain
// kind become a 500 with a generic message; their cause is logged with the
// request ID and never shown. The store has already translated its errors
// (a database that is down or restarting is KindUnavailable: a retryable
// 503, not a 500).
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var de *replicator.Error
	body := errorBody{Message: "internal error"}
	kind := replicator.KindInternal
	switch {
	case errors.As(err, &de):
		kind = de.Kind
		body.Message, body.InvalidParameter = de.Message, de.Param
		switch kind {
		case replicator.KindInternal:
			log.ErrorContext(r.Context(), "api: request failed", "request_id", requestID(r.Context()), "err", err)
		case replicator.KindUnavailable:
			// Only the store reports KindUnavailable today.
			log.WarnContext(r.Context(), "api: database unavailable", "request_id", requestID(r.Context()), "err", err)
		}
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		kind, body.Message = replicator.KindUnavailable, "request canceled"
	default:
		log.ErrorContext(r.Context(), "api: internal error", "request_id", requestID(r.Context()), "err", err)
	}
	e := awsErrors[kind]
	h := w.Header()
	h.Set("X-Amzn-ErrorType", e.typ)
	h.Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(body)
}

// errorType returns the AWS exception type that err maps to (for metrics
// and logs).
func errorType(err error) string {
	return awsErrors[replicator.KindOf(err)].typ
}
