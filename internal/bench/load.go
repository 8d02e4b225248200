package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/openreplicator/replicator/pkg/sigv4"
)

// NewClient returns a keep-alive HTTP client for clients concurrent
// workers against one host.
func NewClient(clients int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        2*clients + 16,
			MaxIdleConnsPerHost: 2*clients + 16,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
			ForceAttemptHTTP2:   false,
		},
	}
}

// Scenario is one kind of request. Path returns the escaped path and raw
// query of the next request; it is called from the worker's goroutine with
// the worker's own random source.
type Scenario struct {
	Name string
	Path func(r *rand.Rand) (escapedPath, rawQuery string)
}

// LoadConfig configures Run.
type LoadConfig struct {
	BaseURL  string // http://127.0.0.1:PORT
	Client   *http.Client
	Signer   *sigv4.Signer
	Clients  int
	Warmup   time.Duration
	Duration time.Duration
}

// Result is the outcome of one measured scenario.
type Result struct {
	Name     string
	Clients  int
	Elapsed  time.Duration // measured window: from the end of warm-up to the last response
	OK       uint64        // 200 responses in the window
	Errors   uint64        // anything else in the window (status or transport)
	ByError  map[string]uint64
	Sample   string // one error, for the report
	Hist     Histogram
	WarmupOK uint64
}

// Throughput is successes per second of the measured window.
func (r *Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// ErrorSummary lists the error kinds with counts, most frequent first.
func (r *Result) ErrorSummary() string {
	type kv struct {
		k string
		n uint64
	}
	var l []kv
	for k, n := range r.ByError {
		l = append(l, kv{k, n})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].n > l[j].n || l[i].n == l[j].n && l[i].k < l[j].k })
	var parts []string
	for _, e := range l {
		parts = append(parts, fmt.Sprintf("%s ×%d", e.k, e.n))
	}
	return strings.Join(parts, ", ")
}

type workerResult struct {
	hist     Histogram
	ok, errs uint64
	warmOK   uint64
	byErr    map[string]uint64
	sample   string
	lastDone time.Time
}

// Run drives sc with cfg.Clients closed-loop workers: each sends a request,
// waits for the whole response and sends the next. Requests started during
// the warm-up are not recorded; after warm-up plus duration no new request
// starts. Only successes (200) are recorded in the histogram.
func Run(ctx context.Context, cfg LoadConfig, sc Scenario) Result {
	start := time.Now()
	measureFrom := start.Add(cfg.Warmup)
	stopAt := measureFrom.Add(cfg.Duration)
	results := make([]workerResult, cfg.Clients)
	var wg sync.WaitGroup
	for w := range cfg.Clients {
		wg.Add(1)
		go func(res *workerResult, seed uint64) {
			defer wg.Done()
			res.byErr = map[string]uint64{}
			rng := rand.New(rand.NewPCG(seed, uint64(start.UnixNano())))
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(stopAt) {
					return
				}
				path, query := sc.Path(rng)
				status, errKind, detail := Send(ctx, cfg.Client, cfg.Signer, URL(cfg.BaseURL, path, query))
				t1 := time.Now()
				if ctx.Err() != nil {
					return
				}
				measured := !t0.Before(measureFrom)
				if !measured {
					if status == http.StatusOK {
						res.warmOK++
					}
					continue
				}
				res.lastDone = t1
				if status == http.StatusOK {
					res.ok++
					res.hist.Record(t1.Sub(t0))
					continue
				}
				res.errs++
				res.byErr[errKind]++
				if res.sample == "" {
					res.sample = detail
				}
			}
		}(&results[w], uint64(w)+1)
	}
	wg.Wait()

	out := Result{Name: sc.Name, Clients: cfg.Clients, ByError: map[string]uint64{}}
	last := measureFrom
	for i := range results {
		r := &results[i]
		out.Hist.Merge(&r.hist)
		out.OK += r.ok
		out.Errors += r.errs
		out.WarmupOK += r.warmOK
		for k, n := range r.byErr {
			out.ByError[k] += n
		}
		if out.Sample == "" {
			out.Sample = r.sample
		}
		if r.lastDone.After(last) {
			last = r.lastDone
		}
	}
	out.Elapsed = last.Sub(measureFrom)
	return out
}

// Send sends one signed GET of url and drains the response. It returns the
// status (0 on a transport error), and for anything but a 2xx an error kind
// for counting and a detail line.
func Send(ctx context.Context, cl *http.Client, signer *sigv4.Signer, url string) (status int, kind, detail string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "bad request", err.Error()
	}
	signer.Sign(req, time.Now())
	resp, err := cl.Do(req)
	if err != nil {
		return 0, "transport error", err.Error()
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return 0, "body read error", err.Error()
		}
		return resp.StatusCode, "", ""
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, resp.Body)
	kind = fmt.Sprintf("HTTP %d", resp.StatusCode)
	if t := resp.Header.Get("X-Amzn-ErrorType"); t != "" {
		kind += " " + t
	}
	return resp.StatusCode, kind, fmt.Sprintf("%s %s: %s", kind, req.URL.EscapedPath(), strings.TrimSpace(string(body)))
}

// Get sends one signed GET of url and returns the status and the body.
func Get(ctx context.Context, cl *http.Client, signer *sigv4.Signer, url string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	signer.Sign(req, time.Now())
	resp, err := cl.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// URL joins base, the escaped path and the raw query.
func URL(base, path, query string) string {
	if query != "" {
		return base + path + "?" + query
	}
	return base + path
}
