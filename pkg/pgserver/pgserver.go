// Package pgserver starts and stops throwaway PostgreSQL servers from the
// binaries installed on this machine (see BinDir). It backs `replicator dev`
// when no DATABASE_URL is given, the test harness when TEST_DATABASE_URL is
// unset, and internal/tools/pgtmp, which shares one server across `make test`.
//
// A server lives in a base directory laid out as:
//
//	DIR/data          the data directory (initdb)
//	DIR/sock          the unix socket directory (omitted if DIR is too long)
//	DIR/postgres.log  server output, unless Options.Log is set
//	DIR/.pgserver     marks DIR/data as ours, for StopDir
//
// (data/ and sock/ live in a directory of their own under /tmp when the
// server user cannot reach DIR; see Options.Dir.)
//
// The server listens on 127.0.0.1 only, trusts every connection, and runs
// with fsync, synchronous_commit and full_page_writes off: it is fast and
// loses data on a crash, which is the point. When the current process is
// root the binaries run as the "postgres" user (through runuser), because
// PostgreSQL refuses to run as root.
//
// The server is a daemon (pg_ctl start): it survives the process that
// started it unless Stop or StopDir is called.
package pgserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	dataDirName = "data"
	sockDirName = "sock"
	logFileName = "postgres.log"
	markerName  = ".pgserver"

	superuser       = "postgres"
	defaultDatabase = "replicator"

	startTimeoutSeconds = 120 // pg_ctl start -t
	portAttempts        = 5   // tries when picking a free port
	readyTimeout        = 15 * time.Second
	logDrainTimeout     = 5 * time.Second

	// maxSockDirLen keeps DIR/sock/.s.PGSQL.NNNNN well below the 107 bytes
	// a unix socket path may have.
	maxSockDirLen = 80
)

// Options configures Start. The zero value works.
type Options struct {
	// Dir is the base directory. "" creates one with os.MkdirTemp. If Start
	// creates Dir, Stop removes it; if Dir already existed, Stop removes
	// only what Start put in it, keeping postgres.log. It must not already
	// hold a data directory. When running as root and the postgres user
	// cannot search Dir or one of its parents (a clone in `mktemp -d`), the
	// data and socket directories go to a world-searchable temporary
	// directory instead, which Stop removes; Dir keeps the log and the
	// marker that leads StopDir there.
	Dir string
	// Port is the TCP port on 127.0.0.1; 0 picks a free one.
	Port int
	// Database is created after start; "" means "replicator".
	Database string
	// Log receives the output of initdb, pg_ctl and the server, written from
	// a separate goroutine until the server stops. nil writes it to
	// Dir/postgres.log.
	Log io.Writer
	// ExtraConfig holds extra server settings, each "key=value" as with
	// postgres -c. They override the defaults.
	ExtraConfig []string
}

// Server is a running throwaway PostgreSQL server. Its methods are safe for
// concurrent use.
type Server struct {
	run      *runner
	dir      string
	ownsDir  bool   // dir was created by Start: Stop removes it all
	home     string // "", or where data/ and sock/ are when the server user cannot reach dir; Stop removes it
	dataDir  string // "" until Start created it
	sockDir  string // "" = no unix socket
	marker   bool   // Start wrote dir/.pgserver
	port     int
	database string
	sink     *logSink

	mu      sync.Mutex
	stopped bool
	stopErr error
}

// Start initializes a data directory, starts a server on it, waits until it
// accepts connections and creates Options.Database. On failure it stops and
// removes what it started and returns an error that includes the tail of the
// server output. If PostgreSQL is not installed the error wraps ErrNotFound.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("pgserver: %w", err)
	}
	database := opts.Database
	if database == "" {
		database = defaultDatabase
	}
	if opts.Port < 0 || opts.Port > 65535 {
		return nil, fmt.Errorf("pgserver: invalid port %d", opts.Port)
	}
	extra, err := formatSettings(opts.ExtraConfig)
	if err != nil {
		return nil, err
	}
	r, err := newRunner()
	if err != nil {
		return nil, err
	}

	s := &Server{run: r, port: opts.Port, database: database}
	if err := s.makeDirs(opts.Dir); err != nil {
		return nil, s.abort(err)
	}

	if opts.Log != nil {
		s.sink, err = newPipeSink(opts.Log)
	} else {
		s.sink, err = newFileSink(filepath.Join(s.dir, logFileName))
	}
	if err != nil {
		return nil, s.abort(err)
	}

	initdb := r.command(ctx, "initdb", "-D", s.dataDir, "-U", superuser, "--auth=trust",
		"--no-locale", "--encoding=UTF8", "--no-sync")
	initdb.Stdout, initdb.Stderr = s.sink.w, s.sink.w
	if err := initdb.Run(); err != nil {
		return nil, s.abort(fmt.Errorf("initdb: %w", withCtx(ctx, err)))
	}
	if err := s.writeConfig(extra); err != nil {
		return nil, s.abort(err)
	}
	if err := s.startServer(ctx, opts.Port == 0); err != nil {
		return nil, s.abort(err)
	}
	if err := s.createDatabase(ctx); err != nil {
		return nil, s.abort(err)
	}
	// The server holds its own copy of the log file or pipe.
	s.sink.closeWriter()
	return s, nil
}

// makeDirs creates the base, data and socket directories, owned by the
// server user where it must write.
func (s *Server) makeDirs(dir string) error {
	r := s.run
	if dir == "" {
		d, err := os.MkdirTemp("", "pgserver-")
		if err != nil {
			return err
		}
		s.dir, s.ownsDir = d, true
		if r.asRoot() {
			// MkdirTemp makes it 0700 root; the server user must reach data/.
			if err := os.Chmod(d, 0o755); err != nil {
				return err
			}
		}
	} else {
		d, err := filepath.Abs(dir)
		if err != nil {
			return err
		}
		if _, err := os.Stat(d); errors.Is(err, fs.ErrNotExist) {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
			s.dir, s.ownsDir = d, true
			if err := os.Chmod(d, 0o755); err != nil { // despite the umask
				return err
			}
		} else if err != nil {
			return err
		}
		s.dir = d
	}

	if _, err := os.Lstat(filepath.Join(s.dir, markerName)); err == nil {
		return fmt.Errorf("%s holds a server already (left over from an earlier run? stop it with pgserver.StopDir "+
			"or `go run ./internal/tools/pgtmp stop --dir %s`)", s.dir, s.dir)
	}
	if _, err := os.Lstat(filepath.Join(s.dir, dataDirName)); err == nil {
		return fmt.Errorf("%s already exists (left over from an earlier server? stop it with pgserver.StopDir "+
			"or `go run ./internal/tools/pgtmp stop --dir %s`, or remove it)", filepath.Join(s.dir, dataDirName), s.dir)
	}
	home := s.dir
	if r.asRoot() && inaccessibleTo(s.dir, r.uid, r.gid) != "" {
		// The server user cannot reach Dir (a clone in `mktemp -d`, a 0700
		// TMPDIR): the data and socket directories go to a world-searchable
		// temporary directory instead, which Stop removes; the marker in Dir
		// leads StopDir there.
		h, err := searchableTempDir(r, s.dir)
		if err != nil {
			return err
		}
		s.home, home = h, h
	}
	marker := "created by pgserver; " + dataDirName + "/ is a throwaway PostgreSQL data directory\n"
	if s.home != "" {
		if err := os.WriteFile(filepath.Join(s.home, markerName), []byte(marker), 0o644); err != nil {
			return err
		}
		marker += homePrefix + s.home + "\n"
	}
	if err := os.WriteFile(filepath.Join(s.dir, markerName), []byte(marker), 0o644); err != nil {
		return err
	}
	s.marker = true
	dataDir := filepath.Join(home, dataDirName)
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		return err
	}
	s.dataDir = dataDir
	if err := r.chown(dataDir); err != nil {
		return err
	}

	if sock := filepath.Join(home, sockDirName); len(sock) <= maxSockDirLen {
		if err := os.MkdirAll(sock, 0o700); err != nil {
			return err
		}
		s.sockDir = sock
		if err := r.chown(sock); err != nil {
			return err
		}
	}
	return nil
}

// homePrefix starts the marker's line naming the directory that holds the
// data directory when it is not the base directory.
const homePrefix = "home: "

// searchableTempDir creates a directory for the data and socket directories
// under the first of the temporary directories whose path the server user
// can search.
func searchableTempDir(r *runner, dir string) (string, error) {
	for _, base := range []string{os.TempDir(), "/tmp", "/var/tmp", "/dev/shm"} {
		if fi, err := os.Stat(base); err != nil || !fi.IsDir() || inaccessibleTo(base, r.uid, r.gid) != "" {
			continue
		}
		d, err := os.MkdirTemp(base, "pgserver-")
		if err != nil {
			continue
		}
		if err := os.Chmod(d, 0o755); err != nil { // MkdirTemp makes it 0700
			os.Remove(d)
			return "", err
		}
		return d, nil
	}
	p := inaccessibleTo(dir, r.uid, r.gid)
	return "", fmt.Errorf("%s is not searchable by the %q user, which the server runs as because "+
		"PostgreSQL refuses to run as root, and neither is any temporary directory: chmod o+x %s", p, serverUser, p)
}

// writeConfig appends our settings to postgresql.conf. Appending keeps the
// file's owner; later settings override earlier ones.
func (s *Server) writeConfig(extra string) error {
	var b strings.Builder
	b.WriteString("\n# Added by pgserver: a throwaway server, durability traded for speed.\n")
	fmt.Fprintf(&b, "listen_addresses = '127.0.0.1'\n")
	fmt.Fprintf(&b, "unix_socket_directories = %s\n", quoteSetting(s.sockDir))
	b.WriteString("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
	b.WriteString("max_connections = 300\nshared_buffers = '128MB'\n")
	b.WriteString(extra)

	f, err := os.OpenFile(filepath.Join(s.dataDir, "postgresql.conf"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// startServer runs pg_ctl start, retrying with another port if pickPort and
// the chosen port was taken in the meantime.
func (s *Server) startServer(ctx context.Context, pickPort bool) error {
	for attempt := 1; ; attempt++ {
		if pickPort {
			p, err := freePort()
			if err != nil {
				return fmt.Errorf("pick a free port: %w", err)
			}
			s.port = p
		}
		mark := s.sink.mark()
		cmd := s.run.command(ctx, "pg_ctl", "start", "-D", s.dataDir, "-w", "-s",
			"-t", strconv.Itoa(startTimeoutSeconds), "-o", "-p "+strconv.Itoa(s.port))
		cmd.Stdout, cmd.Stderr = s.sink.w, s.sink.w
		err := cmd.Run()
		if err == nil {
			return nil
		}
		err = fmt.Errorf("pg_ctl start on port %d: %w", s.port, withCtx(ctx, err))
		if ctx.Err() != nil || !pickPort || attempt == portAttempts {
			return err
		}
		if !portInUse(s.port) && !strings.Contains(s.sink.since(mark), "already in use") {
			return err
		}
		// Someone took the port between freePort and the server's bind.
	}
}

// createDatabase waits until the server accepts connections and creates the
// database.
func (s *Server) createDatabase(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	var conn *pgx.Conn
	for {
		var err error
		conn, err = pgx.Connect(ctx, s.AdminURL())
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("server not accepting connections on port %d: %w", s.port, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	if s.database == superuser {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{s.database}.Sanitize()); err != nil {
		return fmt.Errorf("create database %q: %w", s.database, err)
	}
	return nil
}

// abort cleans up after a failed Start and returns cause with the tail of
// the server output.
func (s *Server) abort(cause error) error {
	errs := []error{cause}
	if s.dataDir != "" {
		if err := stopCluster(s.run, s.dataDir); err != nil {
			errs = append(errs, fmt.Errorf("cleanup: %w", err))
		}
	}
	var tail string
	if s.sink != nil {
		s.sink.closeWriter()
		s.sink.wait(logDrainTimeout)
		tail = s.sink.tail()
	}
	if err := s.removeFiles(); err != nil {
		errs = append(errs, fmt.Errorf("cleanup: %w", err))
	}
	msg := "pgserver: start PostgreSQL: " + errors.Join(errs...).Error()
	if tail != "" {
		where := "server output"
		if s.sink.path != "" && !s.ownsDir {
			where += ", in full in " + s.sink.path
		}
		msg += "\n--- end of " + where + " ---\n" + tail
	}
	return &startError{msg: msg, err: cause}
}

type startError struct {
	msg string
	err error
}

func (e *startError) Error() string { return e.msg }
func (e *startError) Unwrap() error { return e.err }

// removeFiles removes what Start created: all of Dir if Start created it,
// otherwise everything but Dir itself and the log file.
func (s *Server) removeFiles() error {
	if s.dir == "" {
		return nil
	}
	var errs []error
	if s.home != "" {
		errs = append(errs, os.RemoveAll(s.home))
	}
	if s.ownsDir {
		return errors.Join(append(errs, os.RemoveAll(s.dir))...)
	}
	if s.dataDir != "" && s.home == "" {
		errs = append(errs, os.RemoveAll(s.dataDir))
	}
	if s.sockDir != "" && s.home == "" {
		errs = append(errs, os.RemoveAll(s.sockDir))
	}
	if s.marker {
		if err := os.Remove(filepath.Join(s.dir, markerName)); !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// URL is the connection URL of the database: postgres://postgres@127.0.0.1:PORT/DATABASE?sslmode=disable.
func (s *Server) URL() string { return s.urlFor(s.database) }

// AdminURL is like URL for the "postgres" database.
func (s *Server) AdminURL() string { return s.urlFor(superuser) }

func (s *Server) urlFor(database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(superuser),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Port is the TCP port the server listens on at 127.0.0.1.
func (s *Server) Port() int { return s.port }

// Database is the name of the database Start created.
func (s *Server) Database() string { return s.database }

// Dir is the base directory (see the package documentation).
func (s *Server) Dir() string { return s.dir }

// DataDir is the PostgreSQL data directory.
func (s *Server) DataDir() string { return s.dataDir }

// Pid is the process ID of the postmaster, 0 when it is not running.
func (s *Server) Pid() int { return readPid(filepath.Join(s.dataDir, "postmaster.pid")) }

// Stop stops the server (pg_ctl stop -m fast, then -m immediate, then
// SIGKILL) and removes what Start created. It is idempotent: later calls
// return the first call's result.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return s.stopErr
	}
	s.stopped = true
	err := stopCluster(s.run, s.dataDir)
	if s.sink != nil {
		s.sink.wait(logDrainTimeout)
	}
	if rmErr := s.removeFiles(); rmErr != nil {
		err = errors.Join(err, rmErr)
	}
	if err != nil {
		s.stopErr = fmt.Errorf("pgserver: stop: %w", err)
	}
	return s.stopErr
}

// Halt stops the server process and keeps its data, as an outage would;
// Resume starts it again on the same port. mode is a pg_ctl shutdown mode:
// "fast" (clients are disconnected, a clean shutdown) or "immediate" (no
// shutdown checkpoint: like a crash, recovery at the next start).
func (s *Server) Halt(mode string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return errors.New("pgserver: halt: the server was stopped")
	}
	if mode != "fast" && mode != "immediate" {
		return fmt.Errorf("pgserver: halt: unknown mode %q", mode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := s.run.command(ctx, "pg_ctl", "stop", "-D", s.dataDir, "-m", mode, "-w", "-s", "-t", "30").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgserver: halt: pg_ctl stop -m %s: %w: %s", mode, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Resume starts a halted server again on its port.
func (s *Server) Resume(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return errors.New("pgserver: resume: the server was stopped")
	}
	// The server's output goes to postgres.log in the base directory (the
	// writer Start used is closed by now).
	f, err := os.OpenFile(filepath.Join(s.dir, logFileName), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("pgserver: resume: %w", err)
	}
	defer f.Close()
	cmd := s.run.command(ctx, "pg_ctl", "start", "-D", s.dataDir, "-w", "-s",
		"-t", strconv.Itoa(startTimeoutSeconds), "-o", "-p "+strconv.Itoa(s.port))
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pgserver: resume: pg_ctl start on port %d: %w (see %s)", s.port, withCtx(ctx, err), f.Name())
	}
	return nil
}

// StopDir stops a server that Start left running in base directory dir
// (Options.Dir = dir), typically from another process, and removes what
// Start created there, keeping dir and its postgres.log. A dir with no
// server is not an error; a dir with a data directory not created by
// pgserver is.
func StopDir(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("pgserver: %w", err)
	}
	s := &Server{dir: abs, dataDir: filepath.Join(abs, dataDirName), sockDir: filepath.Join(abs, sockDirName), marker: true}
	marker, err := os.ReadFile(filepath.Join(abs, markerName))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("pgserver: %w", err)
		}
		if _, err := os.Lstat(s.dataDir); errors.Is(err, fs.ErrNotExist) {
			return nil // nothing there
		}
		return fmt.Errorf("pgserver: %s was not created by pgserver (no %s): refusing to touch it", s.dataDir, markerName)
	}
	for _, line := range strings.Split(string(marker), "\n") {
		if home, ok := strings.CutPrefix(line, homePrefix); ok {
			if _, err := os.Stat(home); errors.Is(err, fs.ErrNotExist) {
				continue // gone already (a cleaned /tmp): only the marker is left
			}
			// Only a directory pgserver created: it holds a marker of its own.
			if _, err := os.Stat(filepath.Join(home, markerName)); err != nil {
				return fmt.Errorf("pgserver: %s names %s, which was not created by pgserver: refusing to touch it", filepath.Join(abs, markerName), home)
			}
			s.home, s.dataDir, s.sockDir = home, filepath.Join(home, dataDirName), filepath.Join(home, sockDirName)
		}
	}
	if s.run, err = newRunner(); err != nil {
		return err
	}
	if err := stopCluster(s.run, s.dataDir); err != nil {
		return fmt.Errorf("pgserver: stop %s: %w", s.dataDir, err)
	}
	if err := s.removeFiles(); err != nil {
		return fmt.Errorf("pgserver: %w", err)
	}
	return nil
}

// stopCluster stops the server on dataDir if its postmaster.pid exists.
func stopCluster(r *runner, dataDir string) error {
	pidFile := filepath.Join(dataDir, "postmaster.pid")
	if _, err := os.Stat(pidFile); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	pid := readPid(pidFile)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := r.command(ctx, "pg_ctl", "stop", "-D", dataDir, "-m", "fast", "-w", "-s", "-t", "30").CombinedOutput()
	if err == nil {
		return nil
	}
	errs := []error{fmt.Errorf("pg_ctl stop -m fast: %w: %s", err, strings.TrimSpace(string(out)))}
	out, err = r.command(ctx, "pg_ctl", "stop", "-D", dataDir, "-m", "immediate", "-w", "-s", "-t", "15").CombinedOutput()
	if err == nil {
		return nil
	}
	errs = append(errs, fmt.Errorf("pg_ctl stop -m immediate: %w: %s", err, strings.TrimSpace(string(out))))

	// pg_ctl fails on a stale postmaster.pid (server already gone) as well
	// as on a wedged server.
	if pid <= 0 || !processAlive(pid) || !isPostgres(pid) {
		return nil
	}
	if err := killProcess(pid); err != nil {
		return errors.Join(append(errs, fmt.Errorf("kill %d: %w", pid, err))...)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if !processAlive(pid) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.Join(append(errs, fmt.Errorf("postmaster %d still running after SIGKILL", pid))...)
}

// readPid returns the postmaster pid, the first line of postmaster.pid, or 0.
func readPid(pidFile string) int {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		return 0
	}
	return pid
}

// isPostgres guards against killing an unrelated process that reused a
// stale pid. Without /proc (not Linux) it assumes yes.
func isPostgres(pid int) bool {
	if _, err := os.Stat("/proc/self"); err != nil {
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return err == nil && strings.Contains(string(b), "postgres")
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// portInUse reports whether something listens on 127.0.0.1:port.
func portInUse(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return true
	}
	l.Close()
	return false
}

// withCtx prefers the context's error over the "signal: killed" of a
// command it cancelled.
func withCtx(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%w (%v)", ctxErr, err)
	}
	return err
}

// formatSettings turns "key=value" entries into postgresql.conf lines.
func formatSettings(settings []string) (string, error) {
	var b strings.Builder
	for _, kv := range settings {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || !validSettingName(k) {
			return "", fmt.Errorf("pgserver: ExtraConfig entry %q: want key=value", kv)
		}
		fmt.Fprintf(&b, "%s = %s\n", k, quoteSetting(v))
	}
	return b.String(), nil
}

// validSettingName reports whether k looks like a GUC name ("work_mem",
// "auto_explain.log_min_duration").
func validSettingName(k string) bool {
	for i, c := range k {
		switch {
		case c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case i > 0 && (c == '.' || '0' <= c && c <= '9'):
		default:
			return false
		}
	}
	return k != ""
}

// quoteSetting quotes a value for postgresql.conf, where any value may be
// single-quoted and backslash is an escape character.
func quoteSetting(v string) string {
	v = strings.ReplaceAll(v, `\`, `\\`)
	v = strings.ReplaceAll(v, `'`, `''`)
	v = strings.ReplaceAll(v, "\n", `\n`)
	return "'" + v + "'"
}
