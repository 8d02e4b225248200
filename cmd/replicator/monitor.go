package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/openreplicator/replicator/api"
)

// monitorMux is the monitoring surface: /metrics of g when g is not nil
// (behind the metrics token when there is one), /healthz, and /readyz when
// ping is given (serve: the database answers).
func monitorMux(g prometheus.Gatherer, token string, ping func(context.Context) error) *http.ServeMux {
	mux := http.NewServeMux()
	if g != nil {
		mux.Handle("GET /metrics", api.MetricsHandler(g, token))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status":"ok"}`)
	})
	if ping != nil {
		mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			w.Header().Set("Content-Type", "application/json")
			if err := ping(ctx); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprint(w, `{"status":"database unreachable"}`)
				return
			}
			fmt.Fprint(w, `{"status":"ready"}`)
		})
	}
	return mux
}

// startMonitor serves h on addr (plain HTTP) until the returned listener is
// closed; a serving error other than the close goes to errc.
func startMonitor(ctx context.Context, addr string, h http.Handler, errc chan<- error) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("REPLICATOR_METRICS_LISTEN_ADDR: listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			select {
			case errc <- err:
			default:
			}
		}
	}()
	return ln, nil
}
