package apibench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/openreplicator/replicator/internal/bench"
)

// PgConn is where pgbench connects.
type PgConn struct {
	Host, User, Password, Database string
	Port                           int
}

func (c PgConn) args() []string {
	return []string{"-h", c.Host, "-p", strconv.Itoa(c.Port), "-U", c.User}
}

func (c PgConn) env() []string {
	env := os.Environ()
	if c.Password != "" {
		env = append(env, "PGPASSWORD="+c.Password)
	}
	return append(env, "PGAPPNAME=apibench-pgbench", "PGSSLMODE=disable")
}

// FindPgbench returns the pgbench binary: $(pg_config --bindir)/pgbench,
// then pgbench on PATH.
func FindPgbench(binDir string) (string, error) {
	if binDir != "" {
		p := filepath.Join(binDir, "pgbench")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "pgbench")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("pgbench"); err == nil {
		return p, nil
	}
	return "", errors.New("pgbench not found (checked the PostgreSQL bin directory, pg_config --bindir and PATH)")
}

// PgbenchInit runs pgbench -i -s scale (quietly).
func PgbenchInit(ctx context.Context, bin string, c PgConn, scale int) error {
	args := append([]string{"-i", "-q", "-s", strconv.Itoa(scale)}, c.args()...)
	cmd := exec.CommandContext(ctx, bin, append(args, c.Database)...)
	cmd.Env = c.env()
	bench.SetChildAttrs(cmd)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgbench -i: %w\n%s", err, tail(out, 2000))
	}
	return nil
}

// PgbenchDrop removes pgbench's tables (pgbench -i -I d).
func PgbenchDrop(ctx context.Context, bin string, c PgConn) error {
	args := append([]string{"-i", "-I", "d"}, c.args()...)
	cmd := exec.CommandContext(ctx, bin, append(args, c.Database)...)
	cmd.Env = c.env()
	bench.SetChildAttrs(cmd)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgbench -i -I d: %w\n%s", err, tail(out, 2000))
	}
	return nil
}

// PgbenchResult is what one pgbench run reported.
type PgbenchResult struct {
	Clients, Threads int
	Duration         time.Duration
	TPS              float64       // without initial connection time
	LatencyAvg       time.Duration // as pgbench reports it
	Transactions     uint64
	Failed           uint64
	Hist             bench.Histogram // from the sampled per-transaction log
	Sampled          uint64
	Output           string
	Args             []string
}

// PgbenchSelect runs pgbench -S -M prepared -c clients -j threads -T
// seconds, logging a sample of per-transaction latencies (sampleRate, 0
// disables) into logDir for the percentiles.
func PgbenchSelect(ctx context.Context, bin string, c PgConn, clients, threads int, d time.Duration, sampleRate float64, logDir string) (PgbenchResult, error) {
	secs := int((d + time.Second - 1) / time.Second)
	secs = max(secs, 1)
	threads = max(1, min(threads, clients))
	args := []string{"-S", "-M", "prepared", "-c", strconv.Itoa(clients), "-j", strconv.Itoa(threads), "-T", strconv.Itoa(secs), "-n"}
	var prefix string
	if sampleRate > 0 && logDir != "" {
		if err := os.MkdirAll(logDir, 0o755); err != nil {
			return PgbenchResult{}, err
		}
		prefix = filepath.Join(logDir, "pgbench_log")
		args = append(args, "-l", "--sampling-rate", strconv.FormatFloat(sampleRate, 'f', -1, 64), "--log-prefix", prefix)
	}
	args = append(args, c.args()...)
	args = append(args, c.Database)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = c.env()
	bench.SetChildAttrs(cmd)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return PgbenchResult{}, fmt.Errorf("pgbench %s: %w\n%s", strings.Join(args, " "), err, tail(out.Bytes(), 2000))
	}
	res, err := ParsePgbench(out.String())
	if err != nil {
		return res, err
	}
	res.Clients, res.Threads, res.Duration, res.Args = clients, threads, time.Duration(secs)*time.Second, args
	if prefix != "" {
		files, _ := filepath.Glob(prefix + ".*")
		for _, f := range files {
			if err := readPgbenchLog(f, &res.Hist); err != nil {
				return res, err
			}
			_ = os.Remove(f)
		}
		res.Sampled = res.Hist.Count()
	}
	return res, nil
}

var (
	tpsRe     = regexp.MustCompile(`(?m)^tps = ([0-9.]+) \((without initial connection time|excluding connections establishing)\)`)
	tpsAnyRe  = regexp.MustCompile(`(?m)^tps = ([0-9.]+)`)
	latAvgRe  = regexp.MustCompile(`(?m)^latency average = ([0-9.]+) ms`)
	processed = regexp.MustCompile(`(?m)^number of transactions actually processed: ([0-9]+)`)
	failedRe  = regexp.MustCompile(`(?m)^number of failed transactions: ([0-9]+)`)
)

// ParsePgbench reads tps (without connection time), the average latency
// and the transaction counts from pgbench's report.
func ParsePgbench(out string) (PgbenchResult, error) {
	res := PgbenchResult{Output: out}
	m := tpsRe.FindStringSubmatch(out)
	if m == nil {
		m = tpsAnyRe.FindStringSubmatch(out)
	}
	if m == nil {
		return res, fmt.Errorf("pgbench: no tps line in its output:\n%s", tail([]byte(out), 2000))
	}
	res.TPS, _ = strconv.ParseFloat(m[1], 64)
	if m := latAvgRe.FindStringSubmatch(out); m != nil {
		ms, _ := strconv.ParseFloat(m[1], 64)
		res.LatencyAvg = time.Duration(ms * float64(time.Millisecond))
	}
	if m := processed.FindStringSubmatch(out); m != nil {
		res.Transactions, _ = strconv.ParseUint(m[1], 10, 64)
	}
	if m := failedRe.FindStringSubmatch(out); m != nil {
		res.Failed, _ = strconv.ParseUint(m[1], 10, 64)
	}
	return res, nil
}

// readPgbenchLog adds the latencies (third field, µs) of a per-transaction
// log: "client_id transaction_no time script_no time_epoch time_us ...".
func readPgbenchLog(path string, h *bench.Histogram) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 {
			continue
		}
		us, err := strconv.ParseInt(fields[2], 10, 64)
		if err != nil {
			continue // "failed"/"skipped" entries
		}
		h.Record(time.Duration(us) * time.Microsecond)
	}
	return sc.Err()
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}
