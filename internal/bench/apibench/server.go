package apibench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/openreplicator/replicator/api"
	"github.com/openreplicator/replicator/internal/proc"
	"github.com/openreplicator/replicator/pkg/maintenance"
	"github.com/openreplicator/replicator/pkg/postgres"
	"github.com/openreplicator/replicator/pkg/sigv4"
)

// Server is the API under test: a `replicator serve` process or an
// in-process handler.
type Server interface {
	URL() string // http://127.0.0.1:PORT
	Stop() error
}

// ServeConfig configures the server under test.
type ServeConfig struct {
	DatabaseURL string
	Region      string
	AccessKeys  string    // AKID:SECRET:ACCOUNT
	Log         io.Writer // in-process: the handler's warnings
}

// ServeProcess is a running `replicator serve` (internal/proc), its output
// in a log file.
type ServeProcess struct {
	*proc.Proc
	url string
}

// StartServe runs bin serve on a free loopback port, its output in
// logDir/serve.log, and waits until /readyz answers 200.
func StartServe(bin, logDir string, c ServeConfig) (*ServeProcess, error) {
	addr, err := proc.FreeAddr()
	if err != nil {
		return nil, err
	}
	p, err := proc.Start("serve", logDir, bin, []string{"serve"}, proc.ChildEnv("DATABASE_URL="+c.DatabaseURL,
		"REPLICATOR_ACCESS_KEYS="+c.AccessKeys, "REPLICATOR_LISTEN_ADDR="+addr, "REPLICATOR_REGION="+c.Region, "REPLICATOR_LOG_LEVEL=warn"))
	if err != nil {
		return nil, err
	}
	sp := &ServeProcess{Proc: p, url: "http://" + addr}
	if err := p.WaitHTTP(sp.url+"/readyz", 30*time.Second); err != nil {
		p.Stop(15 * time.Second)
		return nil, fmt.Errorf("replicator serve did not become ready: %w", err)
	}
	return sp, nil
}

func (p *ServeProcess) URL() string { return p.url }

// Stop sends SIGTERM and kills the server if it has not stopped after 15 s.
func (p *ServeProcess) Stop() error {
	p.Proc.Stop(15 * time.Second)
	return nil
}

// LogLines is how many lines the server wrote.
func (p *ServeProcess) LogLines() int {
	b, _ := os.ReadFile(p.Log)
	return bytes.Count(b, []byte("\n"))
}

func waitReady(ctx context.Context, base string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := &http.Client{Timeout: 2 * time.Second}
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		resp, err := c.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("/readyz: HTTP %d", resp.StatusCode)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// InProcess is the API handler served from this process, built as
// cmd/replicator's serve builds it (same handler, auth, timeouts and
// scheduler; no cluster catalog or secrets file).
type InProcess struct {
	srv    *http.Server
	store  *postgres.Store
	addr   string
	cancel context.CancelFunc
	done   chan struct{}
}

// StartInProcess opens its own store (pool) and serves on a loopback port.
func StartInProcess(ctx context.Context, c ServeConfig) (*InProcess, error) {
	keys, err := sigv4.ParseKeys(c.AccessKeys)
	if err != nil {
		return nil, err
	}
	store, err := postgres.Open(ctx, c.DatabaseURL)
	if err != nil {
		return nil, err
	}
	logw := c.Log
	if logw == nil {
		logw = io.Discard
	}
	log := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	handler := api.NewServer(api.Config{
		Region:   c.Region,
		Store:    store,
		Auth:     api.SigV4(sigv4.NewVerifier(c.Region, "kafka", keys)),
		Logger:   log,
		Registry: prometheus.NewRegistry(),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		store.Close()
		return nil, err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p := &InProcess{srv: srv, store: store, addr: ln.Addr().String(), cancel: cancel, done: make(chan struct{})}
	go func() { _ = srv.Serve(ln) }()
	go func() {
		defer close(p.done)
		_ = maintenance.New(store, maintenance.Config{Logger: log}).Run(sctx)
	}()
	if err := waitReady(ctx, p.URL(), 10*time.Second); err != nil {
		_ = p.Stop()
		return nil, err
	}
	return p, nil
}

func (p *InProcess) URL() string { return "http://" + p.addr }

// Stop shuts the server down and closes its pool.
func (p *InProcess) Stop() error {
	p.cancel()
	<-p.done
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := p.srv.Shutdown(ctx)
	p.store.Close()
	return err
}
