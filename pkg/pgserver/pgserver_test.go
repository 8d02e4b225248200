package pgserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func requirePostgres(t *testing.T) {
	t.Helper()
	if _, err := BinDir(); errors.Is(err, ErrNotFound) {
		t.Skip(err)
	} else if err != nil {
		t.Fatal(err)
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// startServer starts a server and stops it at the end of the test.
func startServer(t *testing.T, opts Options) *Server {
	t.Helper()
	s, err := Start(testContext(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// baseDir makes a directory the server user can reach when we are root
// (t.TempDir is 0700 under a 0700 parent).
func baseDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "pgserver-test-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(testContext(t), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func queryString(t *testing.T, conn *pgx.Conn, sql string, args ...any) string {
	t.Helper()
	var s string
	if err := conn.QueryRow(testContext(t), sql, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

func portOpen(port int) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func exists(t *testing.T, p string) bool {
	t.Helper()
	_, err := os.Lstat(p)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

func TestStartStop(t *testing.T) {
	requirePostgres(t)
	t.Parallel()
	s, err := Start(testContext(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/replicator?sslmode=disable", s.Port())
	if s.URL() != want {
		t.Errorf("URL = %q, want %q", s.URL(), want)
	}
	if want := strings.Replace(want, "/replicator?", "/postgres?", 1); s.AdminURL() != want {
		t.Errorf("AdminURL = %q, want %q", s.AdminURL(), want)
	}

	conn := connect(t, s.URL())
	if got := queryString(t, conn, "SELECT current_database()"); got != "replicator" {
		t.Errorf("current_database() = %q", got)
	}
	t.Log(queryString(t, conn, "SELECT version()"))
	for setting, want := range map[string]string{
		"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
		"max_connections": "300", "shared_buffers": "128MB", "listen_addresses": "127.0.0.1",
		"server_encoding": "UTF8",
	} {
		if got := queryString(t, conn, "SELECT current_setting($1)", setting); got != want {
			t.Errorf("%s = %q, want %q", setting, got, want)
		}
	}
	if _, err := conn.Exec(testContext(t), "CREATE TABLE t (x int); INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(context.Background())

	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if portOpen(s.Port()) {
		t.Errorf("port %d still open after Stop", s.Port())
	}
	if exists(t, s.Dir()) {
		t.Errorf("%s still exists after Stop", s.Dir())
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestTwoServers(t *testing.T) {
	requirePostgres(t)
	t.Parallel()
	var (
		wg      sync.WaitGroup
		servers [2]*Server
		errs    [2]error
	)
	for i := range servers {
		wg.Go(func() { servers[i], errs[i] = Start(testContext(t), Options{}) })
	}
	wg.Wait()
	for i, s := range servers {
		if s != nil {
			t.Cleanup(func() { s.Stop() })
		}
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
	}
	a, b := servers[0], servers[1]
	if a.Port() == b.Port() || a.Dir() == b.Dir() {
		t.Fatalf("servers share port or dir: %d %s, %d %s", a.Port(), a.Dir(), b.Port(), b.Dir())
	}
	ca, cb := connect(t, a.URL()), connect(t, b.URL())
	if _, err := ca.Exec(testContext(t), "CREATE TABLE only_in_a (x int)"); err != nil {
		t.Fatal(err)
	}
	if got := queryString(t, cb, "SELECT coalesce(to_regclass('only_in_a')::text, 'none')"); got != "none" {
		t.Errorf("table created on server a is visible on server b: %q", got)
	}
	cb.Close(context.Background())
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	// a is unaffected by b stopping.
	if got := queryString(t, ca, "SELECT to_regclass('only_in_a')::text"); got != "only_in_a" {
		t.Errorf("got %q", got)
	}
}

// syncBuffer is a bytes.Buffer safe for the log goroutine and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestOptions(t *testing.T) {
	requirePostgres(t)
	t.Parallel()
	dir := baseDir(t)
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	var log syncBuffer
	opts := Options{
		Dir:         dir,
		Port:        port,
		Database:    `odd "name"`,
		Log:         &log,
		ExtraConfig: []string{"work_mem=8MB", `application_name=it's a \ test`},
	}
	s := startServer(t, opts)
	if s.Port() != port || s.Dir() != dir {
		t.Errorf("Port, Dir = %d, %s; want %d, %s", s.Port(), s.Dir(), port, dir)
	}
	conn := connect(t, s.URL())
	if got := queryString(t, conn, "SELECT current_database()"); got != opts.Database {
		t.Errorf("current_database() = %q", got)
	}
	if got := queryString(t, conn, "SELECT current_setting('work_mem')"); got != "8MB" {
		t.Errorf("work_mem = %q", got)
	}
	conn.Close(context.Background())
	if !exists(t, filepath.Join(dir, sockDirName, ".s.PGSQL."+strconv.Itoa(port))) {
		t.Errorf("no unix socket in %s", filepath.Join(dir, sockDirName))
	}

	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "database system is ready to accept connections") {
		t.Errorf("log lacks the ready message:\n%s", log.String())
	}
	if !strings.Contains(log.String(), "database system is shut down") {
		t.Errorf("log lacks the shutdown message:\n%s", log.String())
	}
	if !exists(t, dir) {
		t.Errorf("Stop removed the caller's existing Dir")
	}
	for _, name := range []string{dataDirName, sockDirName, markerName} {
		if exists(t, filepath.Join(dir, name)) {
			t.Errorf("%s left in Dir after Stop", name)
		}
	}

	// The same Dir can be used again, now logging to a file.
	opts.Log = nil
	s2 := startServer(t, opts)
	if err := s2.Stop(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, logFileName))
	if err != nil || !strings.Contains(string(b), "ready to accept connections") {
		t.Errorf("postgres.log: %v\n%s", err, b)
	}
}

func TestStartFailure(t *testing.T) {
	requirePostgres(t)
	t.Parallel()
	dir := baseDir(t)
	_, err := Start(testContext(t), Options{Dir: dir, ExtraConfig: []string{"shared_buffers=lots"}})
	if err == nil {
		t.Fatal("Start succeeded with a bad setting")
	}
	t.Log(err)
	if !strings.Contains(err.Error(), `invalid value for parameter "shared_buffers"`) {
		t.Errorf("error lacks the server log tail: %v", err)
	}
	for _, name := range []string{dataDirName, sockDirName, markerName} {
		if exists(t, filepath.Join(dir, name)) {
			t.Errorf("%s left in Dir after failed Start", name)
		}
	}

	// A data directory left in Dir is refused, not clobbered.
	if err := os.Mkdir(filepath.Join(dir, dataDirName), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Start(testContext(t), Options{Dir: dir}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("Start on a Dir with data/: %v", err)
	}
	if !exists(t, filepath.Join(dir, dataDirName)) {
		t.Errorf("failed Start removed a data directory it did not create")
	}
	if err := StopDir(dir); err == nil {
		t.Errorf("StopDir on a data directory without marker succeeded")
	}
}

func TestStopDir(t *testing.T) {
	requirePostgres(t)
	t.Parallel()
	dir := baseDir(t)
	if err := StopDir(dir); err != nil {
		t.Fatalf("StopDir on an empty dir: %v", err)
	}
	s, err := Start(testContext(t), Options{Dir: dir, Database: "postgres"})
	if err != nil {
		t.Fatal(err)
	}
	// As another process would: by directory only.
	if err := StopDir(dir); err != nil {
		t.Fatal(err)
	}
	if portOpen(s.Port()) {
		t.Errorf("port %d still open after StopDir", s.Port())
	}
	if exists(t, filepath.Join(dir, dataDirName)) {
		t.Errorf("data dir left after StopDir")
	}
	if !exists(t, filepath.Join(dir, logFileName)) {
		t.Errorf("StopDir removed the log")
	}
	if err := StopDir(dir); err != nil {
		t.Errorf("second StopDir: %v", err)
	}
}

func TestCancelledContext(t *testing.T) {
	requirePostgres(t)
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Start(ctx, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Start with a cancelled context: %v", err)
	}

	// Cancelled mid-start: whatever was started is cleaned up.
	dir := baseDir(t)
	ctx, cancel = context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if _, err := Start(ctx, Options{Dir: dir}); err == nil {
		t.Skip("server started within 300ms; nothing to test")
	} else if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Start: %v", err)
	}
	if exists(t, filepath.Join(dir, dataDirName)) {
		t.Errorf("data dir left after cancelled Start")
	}
}

func TestBinDir(t *testing.T) {
	requirePostgres(t)
	d, err := BinDir()
	if err != nil {
		t.Fatal(err)
	}
	t.Log(d)

	t.Setenv("PG_BINDIR", t.TempDir())
	if _, err := BinDir(); err == nil {
		t.Error("BinDir accepted an empty PG_BINDIR")
	}
	t.Setenv("PG_BINDIR", d)
	if got, err := BinDir(); err != nil || got != d {
		t.Errorf("BinDir with PG_BINDIR=%s: %q, %v", d, got, err)
	}
}

func TestFormatSettings(t *testing.T) {
	got, err := formatSettings([]string{"work_mem=4MB", " log_line_prefix =%m [%p] ", `x.y=a'b\c`})
	if err != nil {
		t.Fatal(err)
	}
	want := "work_mem = '4MB'\nlog_line_prefix = '%m [%p] '\nx.y = 'a''b\\\\c'\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	for _, bad := range []string{"novalue", "=x", "a b=c", "1x=2"} {
		if _, err := formatSettings([]string{bad}); err == nil {
			t.Errorf("formatSettings(%q) succeeded", bad)
		}
	}
}

func TestCompareVersions(t *testing.T) {
	for _, c := range []struct {
		a, b string
		sign int
	}{{"15", "9.6", 1}, {"9.6", "15", -1}, {"16", "16", 0}, {"10", "9", 1}} {
		got := compareVersions(c.a, c.b)
		if (got > 0) != (c.sign > 0) || (got < 0) != (c.sign < 0) {
			t.Errorf("compareVersions(%q, %q) = %d", c.a, c.b, got)
		}
	}
}

func TestLongDir(t *testing.T) {
	requirePostgres(t)
	t.Parallel()
	// Too long for a unix socket path: the server runs on TCP only.
	dir := filepath.Join(baseDir(t), strings.Repeat("d", 100))
	s := startServer(t, Options{Dir: dir})
	if exists(t, filepath.Join(dir, sockDirName)) {
		t.Errorf("socket dir created under a long Dir")
	}
	conn := connect(t, s.URL())
	if got := queryString(t, conn, "SELECT current_setting('unix_socket_directories')"); got != "" {
		t.Errorf("unix_socket_directories = %q", got)
	}
	conn.Close(context.Background())
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if exists(t, dir) {
		t.Errorf("Stop left %s, which Start created", dir)
	}
}

// TestInaccessibleDirAsRoot starts servers in places the server user cannot
// reach (under 0700 root directories, like a clone in `mktemp -d`): the data
// directory goes to a world-searchable temporary directory, and Stop and
// StopDir find and remove it.
func TestInaccessibleDirAsRoot(t *testing.T) {
	requirePostgres(t)
	if os.Geteuid() != 0 {
		t.Skip("only root runs the server as another user")
	}
	dir := filepath.Join(t.TempDir(), "pg") // under 0700 root directories
	s, err := Start(testContext(t), Options{Dir: dir})
	if err != nil {
		t.Fatalf("Start under a 0700 root dir: %v", err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	home := filepath.Dir(s.DataDir())
	if strings.HasPrefix(s.DataDir(), dir) || inaccessibleTo(s.DataDir(), s.run.uid, s.run.gid) != "" {
		t.Errorf("data directory %s: under %s, or not reachable by the server user", s.DataDir(), dir)
	}
	conn := connect(t, s.URL())
	if got := queryString(t, conn, "SELECT current_database()"); got != "replicator" {
		t.Errorf("current_database() = %q", got)
	}
	conn.Close(context.Background())
	// As another process would: by directory only.
	if err := StopDir(dir); err != nil {
		t.Fatal(err)
	}
	if portOpen(s.Port()) {
		t.Errorf("port %d still open after StopDir", s.Port())
	}
	if exists(t, home) || exists(t, filepath.Join(dir, markerName)) {
		t.Errorf("StopDir left %s or the marker in %s", home, dir)
	}
	if !exists(t, filepath.Join(dir, logFileName)) {
		t.Errorf("StopDir removed the log")
	}

	// The default base directory under a 0700 TMPDIR.
	t.Setenv("TMPDIR", t.TempDir())
	s2, err := Start(testContext(t), Options{})
	if err != nil {
		t.Fatalf("Start with a 0700 TMPDIR: %v", err)
	}
	home = filepath.Dir(s2.DataDir())
	if err := s2.Stop(); err != nil {
		t.Fatal(err)
	}
	if exists(t, home) || exists(t, s2.Dir()) {
		t.Errorf("Stop left %s or %s", home, s2.Dir())
	}
}

func TestHaltResume(t *testing.T) {
	requirePostgres(t)
	t.Parallel()
	s, err := Start(testContext(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	conn := connect(t, s.URL())
	if _, err := conn.Exec(testContext(t), "CREATE TABLE t (x int); INSERT INTO t VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(context.Background())
	if err := s.Halt("bogus"); err == nil {
		t.Error("Halt(bogus) succeeded")
	}
	if err := s.Halt("fast"); err != nil {
		t.Fatal(err)
	}
	if portOpen(s.Port()) {
		t.Errorf("port %d still open after Halt", s.Port())
	}
	if !exists(t, s.DataDir()) {
		t.Errorf("Halt removed %s", s.DataDir())
	}
	if err := s.Resume(testContext(t)); err != nil {
		t.Fatal(err)
	}
	conn = connect(t, s.URL())
	defer conn.Close(context.Background())
	if got := queryString(t, conn, "SELECT x::text FROM t"); got != "42" {
		t.Errorf("after Halt and Resume, t holds %q, want 42", got)
	}
}
