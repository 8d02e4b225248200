package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/google/uuid"

	"github.com/openreplicator/replicator/pkg/replicator"
)

type ctxKey int

const requestIDKey ctxKey = iota

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// withRequestID gives every request an ID, shown to the client in
// X-Amzn-RequestId and used in every log line about it. A Date header helps
// clients correct clock skew.
func (s *server) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := uuid.NewString()
		w.Header().Set("X-Amzn-RequestId", id)
		w.Header().Set("Date", time.Now().UTC().Format(http.TimeFormat))
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey, id)))
	})
}

// recoverer turns a panic into a 500 with a generic message; the stack goes
// to the log with the request ID.
func (s *server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Logger.Error("api: panic", "request_id", requestID(r.Context()), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				writeError(w, r, s.Logger, &replicator.Error{Kind: replicator.KindInternal, Message: "internal error"})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// call is what an AWS operation handler gets besides the request: the
// authenticated account and the raw body.
type call struct {
	account string
	body    []byte
}

type awsHandler func(w http.ResponseWriter, r *http.Request, c *call) error

// aws adapts an operation handler: it reads the body (bounded),
// authenticates the caller, runs the handler, writes any error as the AWS
// error it maps to, and records one log line and metric per request.
func (s *server) aws(op string, h awsHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		c := &call{}
		err := func() error {
			body, err := readBody(w, r)
			if err != nil {
				return err
			}
			c.body = body
			if c.account, err = s.Auth.Authenticate(r, body); err != nil {
				return err
			}
			return h(w, r, c)
		}()
		outcome := "OK"
		if err != nil {
			outcome = errorType(err)
			writeError(w, r, s.Logger, err)
		}
		s.metrics.requests.WithLabelValues(op, outcome).Inc()
		s.metrics.duration.WithLabelValues(op).Observe(since(start))
		s.Logger.DebugContext(r.Context(), "api: request", "request_id", requestID(r.Context()), "operation", op,
			"method", r.Method, "outcome", outcome, "account", c.account, "duration_ms", float64(time.Since(start).Microseconds())/1000)
		if err != nil && outcome != "InternalServerErrorException" {
			s.Logger.InfoContext(r.Context(), "api: request refused", "request_id", requestID(r.Context()), "operation", op,
				"outcome", outcome, "account", c.account, "reason", err.Error())
		}
	})
}

// readBody reads a request body of at most maxBodyBytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, replicator.Invalid("body", "the request body is larger than %d bytes", maxBodyBytes)
		}
		return nil, replicator.Invalid("body", "the request body could not be read")
	}
	return body, nil
}

func (s *server) unknownOperation(w http.ResponseWriter, r *http.Request, c *call) error {
	return replicator.NotFound("", "no operation matches %s %s", r.Method, truncateForMessage(r.URL.EscapedPath()))
}

func (s *server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	encode(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.Store.Ping(ctx); err != nil {
		s.Logger.Warn("api: not ready", "err", err)
		encode(w, http.StatusServiceUnavailable, map[string]string{"status": "database unreachable"})
		return
	}
	encode(w, http.StatusOK, map[string]string{"status": "ready"})
}
