package workers

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/openreplicator/replicator/pkg/fleet"
)

// Client talks to the control plane's worker API. With several control
// plane URLs it fails over to the next one when a call cannot reach one.
type Client struct {
	urls  []string
	token string
	http  *http.Client
	cur   atomic.Int64
}

// ClientOption changes how a Client connects.
type ClientOption func(*http.Transport)

// WithRootCAs makes the client trust only the certificate authorities in
// pool when it talks to https:// control-plane URLs (REPLICATOR_TLS_CA_FILE
// of the worker); without it the system's roots are trusted.
func WithRootCAs(pool *x509.CertPool) ClientOption {
	return func(t *http.Transport) {
		t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	}
}

// NewClient returns a client for the comma-separated control-plane URLs
// (http:// or https://).
func NewClient(urls, token string, opts ...ClientOption) (*Client, error) {
	var list []string
	for _, u := range strings.Split(urls, ",") {
		if u = strings.TrimRight(strings.TrimSpace(u), "/"); u != "" {
			list = append(list, u)
		}
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("no control-plane URL")
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 4, IdleConnTimeout: 60 * time.Second, TLSHandshakeTimeout: 10 * time.Second}
	for _, o := range opts {
		o(tr)
	}
	return &Client{urls: list, token: token, http: &http.Client{Timeout: 10 * time.Second, Transport: tr}}, nil
}

// StatusError is an answer other than 2xx from the control plane.
type StatusError struct {
	Status int
	Type   string
	Msg    string
	// RetryAfter is the answer's Retry-After (0 if none): a shed acquire
	// (503) says when to ask again.
	RetryAfter time.Duration
}

func retryAfter(h http.Header) time.Duration {
	if n, err := strconv.Atoi(h.Get("Retry-After")); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	return 0
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("control plane answered %d %s: %s", e.Status, e.Type, e.Msg)
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	var lastErr error
	start := int(c.cur.Load())
	for i := range c.urls {
		idx := (start + i) % len(c.urls)
		req, err := http.NewRequestWithContext(ctx, method, c.urls[idx]+path, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+c.token)
		if in != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := c.http.Do(req)
		if err != nil {
			lastErr = err
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue // try the next replica
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			var e struct {
				Message string `json:"message"`
			}
			if json.Unmarshal(b, &e) != nil || e.Message == "" {
				e.Message = string(b)
			}
			lastErr = &StatusError{Status: resp.StatusCode, Type: resp.Header.Get("X-Amzn-ErrorType"), Msg: e.Message,
				RetryAfter: retryAfter(resp.Header)}
			continue // another replica may answer
		}
		c.cur.Store(int64(idx))
		if resp.StatusCode/100 != 2 {
			var e struct {
				Message string `json:"message"`
			}
			_ = json.Unmarshal(b, &e)
			return &StatusError{Status: resp.StatusCode, Type: resp.Header.Get("X-Amzn-ErrorType"), Msg: e.Message}
		}
		if out != nil {
			return json.Unmarshal(b, out)
		}
		return nil
	}
	return fmt.Errorf("no control plane could answer: %w", lastErr)
}

// Acquire asks for jobs.
func (c *Client) Acquire(ctx context.Context, req fleet.AcquireRequest) (fleet.AcquireResponse, error) {
	var out fleet.AcquireResponse
	return out, c.do(ctx, http.MethodPost, "/internal/v1/acquire", req, &out)
}

// Heartbeat renews leases and reports on jobs.
func (c *Client) Heartbeat(ctx context.Context, req fleet.HeartbeatRequest) (fleet.HeartbeatResponse, error) {
	var out fleet.HeartbeatResponse
	return out, c.do(ctx, http.MethodPost, "/internal/v1/heartbeat", req, &out)
}

// Release gives jobs back.
func (c *Client) Release(ctx context.Context, req fleet.ReleaseRequest) error {
	return c.do(ctx, http.MethodPost, "/internal/v1/release", req, nil)
}

// ReportTopology sends a metadata job's view of the source.
func (c *Client) ReportTopology(ctx context.Context, t fleet.Topology) (fleet.TopologyResponse, error) {
	var out fleet.TopologyResponse
	return out, c.do(ctx, http.MethodPost, "/internal/v1/topology", t, &out)
}

// Spec fetches a replicator's spec.
func (c *Client) Spec(ctx context.Context, replicatorID string) (*fleet.ReplicatorSpec, error) {
	var out fleet.ReplicatorSpec
	return &out, c.do(ctx, http.MethodGet, "/internal/v1/replicators/"+replicatorID, nil, &out)
}

// Mappings fetches a replicator's offset mapping points.
func (c *Client) Mappings(ctx context.Context, replicatorID string) ([]fleet.MappingPoint, error) {
	var out fleet.MappingsResponse
	return out.Points, c.do(ctx, http.MethodGet, "/internal/v1/replicators/"+replicatorID+"/mappings", nil, &out)
}
