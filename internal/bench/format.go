// Package bench is what the benchmarks of cmd/bench (apibench, fleetbench,
// loadbench, replbench below it) share: the description of the machine, CPU
// accounting from /proc, a latency histogram, the signed-GET load pieces,
// the build of ./cmd/replicator and the report helpers. It is test tooling:
// nothing of the product imports it.
package bench

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// CommandLine renders how a benchmark was started, for its report: the
// program (`go run ./cmd/bench` when it runs from go run's temporary build),
// then args (the subcommand and its flags) quoted for a shell, with the
// password of a connection URL hidden.
func CommandLine(args []string) string {
	prog := os.Args[0]
	if strings.Contains(prog, "go-build") || strings.HasPrefix(prog, os.TempDir()) {
		prog = "go run ./cmd/bench"
	}
	parts := []string{prog}
	for _, a := range args {
		a = redact(a)
		if a == "" || strings.ContainsAny(a, " \t'\"$`\\") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// redact hides the password of a connection URL, alone or in -flag=URL.
func redact(arg string) string {
	prefix, raw := "", arg
	if i := strings.Index(arg, "="); i > 0 && strings.HasPrefix(arg, "-") {
		prefix, raw = arg[:i+1], arg[i+1:]
	}
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return arg
	}
	if _, ok := u.User.Password(); !ok {
		return arg
	}
	u.User = url.UserPassword(u.User.Username(), "xxxxx")
	return prefix + u.String()
}

// Thousands formats n with comma separators: 12,345.
func Thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Progress prints a benchmark's progress lines, "[  12.3s] message", to a
// writer (stderr). It is also an io.Writer, so that a child process's
// output can go through it line by line. Safe for concurrent use.
type Progress struct {
	w     io.Writer
	start time.Time
	mu    sync.Mutex
}

// NewProgress writes to w, timing lines from now.
func NewProgress(w io.Writer) *Progress { return &Progress{w: w, start: time.Now()} }

// Printf prints one line.
func (p *Progress) Printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "[%6.1fs] %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
}

// Write prints b, one progress line per line.
func (p *Progress) Write(b []byte) (int, error) {
	p.Printf("%s", strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
