package apibench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/openreplicator/replicator/api"
	"github.com/openreplicator/replicator/internal/bench"
	"github.com/openreplicator/replicator/pkg/postgres"
	"github.com/openreplicator/replicator/pkg/scheduler"
	"github.com/openreplicator/replicator/pkg/sigv4"
)

// Server is the API under test: a `replicator serve` process or an
// in-process handler.
type Server interface {
	URL() string // http://127.0.0.1:PORT
	Stop() error
}

// ModuleRoot returns the directory of the main module (go env GOMOD).
func ModuleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the module: run from the repository")
	}
	return filepath.Dir(mod), nil
}

// BuildReplicator runs go build -o out ./cmd/replicator in moduleDir.
func BuildReplicator(ctx context.Context, moduleDir, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/replicator")
	cmd.Dir = moduleDir
	bench.SetChildAttrs(cmd)
	b, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build ./cmd/replicator: %w\n%s", err, tail(b, 4000))
	}
	return nil
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ServeConfig configures the server under test.
type ServeConfig struct {
	DatabaseURL string
	Region      string
	AccessKeys  string // AKID:SECRET:ACCOUNT
	Log         io.Writer
}

// ServeProcess is a running `replicator serve`.
type ServeProcess struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}
	err  error // of Wait, once done is closed
	logs *lineSink

	stopOnce sync.Once
	stopErr  error
}

// StartServe runs bin serve on 127.0.0.1:PORT and waits until /readyz
// answers 200.
func StartServe(ctx context.Context, bin string, c ServeConfig) (*ServeProcess, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin, "serve")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REPLICATOR_") && !strings.HasPrefix(kv, "DATABASE_URL=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env,
		"DATABASE_URL="+c.DatabaseURL,
		"REPLICATOR_ACCESS_KEYS="+c.AccessKeys,
		"REPLICATOR_LISTEN_ADDR="+addr,
		"REPLICATOR_REGION="+c.Region,
		"REPLICATOR_LOG_LEVEL=warn",
	)
	p := &ServeProcess{cmd: cmd, addr: addr, done: make(chan struct{}), logs: newLineSink(c.Log, "serve: ", 20)}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	bench.SetChildAttrs(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s serve: %w", bin, err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	if err := waitReady(ctx, p.URL(), p.done, 30*time.Second); err != nil {
		_ = p.Stop()
		return nil, fmt.Errorf("replicator serve did not become ready: %w\n%s", err, p.logs.tail())
	}
	return p, nil
}

func (p *ServeProcess) URL() string { return "http://" + p.addr }

// Pid is the process id of the server.
func (p *ServeProcess) Pid() int { return p.cmd.Process.Pid }

// Stop sends SIGTERM, waits up to 15 s, then kills.
func (p *ServeProcess) Stop() error {
	p.stopOnce.Do(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(15 * time.Second):
				_ = p.cmd.Process.Kill()
				<-p.done
				p.stopErr = errors.New("replicator serve did not stop within 15s of SIGTERM; killed")
			}
		}
		p.logs.flush()
	})
	return p.stopErr
}

// Exited reports whether the process is gone, with its error.
func (p *ServeProcess) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// LogTail returns the last lines the server wrote.
func (p *ServeProcess) LogTail() string { return p.logs.tail() }

// LogLines is how many lines the server wrote.
func (p *ServeProcess) LogLines() int { return p.logs.count() }

func waitReady(ctx context.Context, base string, exited <-chan struct{}, timeout time.Duration) error {
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
		case <-exited:
			return errors.New("the process exited")
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
		_ = scheduler.New(store, scheduler.Config{Logger: log}).Run(sctx)
	}()
	if err := waitReady(ctx, p.URL(), make(chan struct{}), 10*time.Second); err != nil {
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

// lineSink forwards the first limit lines to w with a prefix and keeps the
// last 64 KiB for error reports.
type lineSink struct {
	mu      sync.Mutex
	w       io.Writer
	prefix  string
	limit   int
	lines   int
	partial bytes.Buffer
	ring    []byte
}

func newLineSink(w io.Writer, prefix string, limit int) *lineSink {
	return &lineSink{w: w, prefix: prefix, limit: limit}
}

func (s *lineSink) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ring = append(s.ring, b...)
	if len(s.ring) > 64<<10 {
		s.ring = append([]byte(nil), s.ring[len(s.ring)-(64<<10):]...)
	}
	s.partial.Write(b)
	for {
		line, err := s.partial.ReadString('\n')
		if err != nil {
			s.partial.Reset()
			s.partial.WriteString(line)
			break
		}
		s.emit(strings.TrimRight(line, "\n"))
	}
	return len(b), nil
}

func (s *lineSink) emit(line string) {
	s.lines++
	if s.w == nil {
		return
	}
	switch {
	case s.lines <= s.limit:
		fmt.Fprintln(s.w, s.prefix+line)
	case s.lines == s.limit+1:
		fmt.Fprintln(s.w, s.prefix+"(further server output suppressed; counted in the report)")
	}
}

func (s *lineSink) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.partial.Len() > 0 {
		s.emit(s.partial.String())
		s.partial.Reset()
	}
}

func (s *lineSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lines
}

func (s *lineSink) tail() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(s.ring))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return strings.Join(lines, "\n")
}
