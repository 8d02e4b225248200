package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openreplicator/replicator/internal/testutil"
)

// get fetches url with an optional bearer token.
func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Finding #10: with REPLICATOR_METRICS_TOKEN, serve's /metrics answers only
// the bearer of the token; the series are there for it (non-zero after
// traffic).
func TestServeMetricsToken(t *testing.T) {
	addr := startServe(t, func(c *serveConfig) { c.metricsToken = "metrics-s3cret" })
	base := "http://" + addr
	if st, _ := get(t, base+"/readyz", ""); st != 200 {
		t.Fatalf("/readyz: %d", st)
	}
	for _, tok := range []string{"", "wrong", "metrics-s3cret-"} {
		if st, body := get(t, base+"/metrics", tok); st != http.StatusUnauthorized || strings.Contains(body, "replicator_") {
			t.Fatalf("/metrics with token %q: %d %.80s", tok, st, body)
		}
	}
	get(t, base+"/replication/v1/replicators", "") // unsigned: counted as refused
	st, body := get(t, base+"/metrics", "metrics-s3cret")
	if st != 200 || !strings.Contains(body, `replicator_api_requests_total{operation="ListReplicators",outcome="UnauthorizedException"} 1`) {
		t.Fatalf("/metrics with the token: %d %.200s", st, body)
	}
}

// Finding #10: with REPLICATOR_METRICS_LISTEN_ADDR, serve's /metrics moves
// to its own listener (which also answers the probes) and the API's
// listener no longer serves it.
func TestServeMetricsListener(t *testing.T) {
	mon := freeAddr(t)
	addr := startServe(t, func(c *serveConfig) { c.metricsListenAddr = mon })
	if st, body := get(t, "http://"+addr+"/metrics", ""); st == 200 || strings.Contains(body, "go_goroutines") {
		t.Fatalf("the API listener still serves /metrics: %d", st)
	}
	// Traffic on the API, counted on the metrics listener.
	get(t, "http://"+addr+"/replication/v1/replicators", "")
	st, body := get(t, "http://"+mon+"/metrics", "")
	if st != 200 || !strings.Contains(body, `replicator_api_requests_total{operation="ListReplicators",outcome="UnauthorizedException"} 1`) {
		t.Fatalf("metrics listener /metrics: %d %.300s", st, body)
	}
	for _, p := range []string{"/readyz", "/healthz"} {
		if st, _ := get(t, "http://"+mon+p, ""); st != 200 {
			t.Fatalf("metrics listener %s: %d", p, st)
		}
	}
}

// Finding #10, workers: the token guards the worker's /metrics too, and
// REPLICATOR_METRICS_LISTEN_ADDR moves it off the worker's health address.
func TestWorkerMetricsTokenAndListener(t *testing.T) {
	cp := startServe(t, nil)
	for _, separate := range []bool{false, true} {
		ctx, cancel := context.WithCancel(context.Background())
		health := freeAddr(t)
		c := workerConfig{controlPlaneURL: "http://" + cp, workerToken: testToken, workerID: "metrics-worker", listenAddr: health}
		c.dest.deniedDestinations = "none"
		c.dest.metricsToken = "worker-metrics-token"
		metricsAddr := health
		if separate {
			metricsAddr = freeAddr(t)
			c.dest.metricsListenAddr = metricsAddr
		}
		ready := make(chan string, 1)
		done := make(chan error, 1)
		go func() { done <- worker(ctx, c, slog.New(slog.DiscardHandler), ready) }()
		select {
		case <-ready:
		case err := <-done:
			t.Fatalf("worker: %v", err)
		case <-time.After(20 * time.Second):
			t.Fatal("worker did not start")
		}
		if separate {
			testutil.Eventually(t, 10*time.Second, "the metrics listener", func() error {
				_, err := http.Get("http://" + metricsAddr + "/healthz")
				return err
			})
			if st, _ := get(t, "http://"+health+"/metrics", "worker-metrics-token"); st != http.StatusNotFound {
				t.Errorf("the health address still serves /metrics: %d", st)
			}
		}
		if st, _ := get(t, "http://"+health+"/healthz", ""); st != 200 {
			t.Errorf("separate=%v: /healthz %d", separate, st)
		}
		if st, body := get(t, "http://"+metricsAddr+"/metrics", ""); st != http.StatusUnauthorized || strings.Contains(body, "replicator_") {
			t.Errorf("separate=%v: /metrics without the token: %d", separate, st)
		}
		testutil.Eventually(t, 20*time.Second, "worker series after its first acquire", func() error {
			st, body := get(t, "http://"+metricsAddr+"/metrics", "worker-metrics-token")
			if st != 200 || !strings.Contains(body, "go_goroutines") {
				return io.ErrUnexpectedEOF
			}
			return nil
		})
		cancel()
		<-done
	}
}
