// Command pgtmp starts and stops a throwaway PostgreSQL server that outlives
// it, so that `make test` can share one server across all test packages:
//
//	url=$(go run ./internal/tools/pgtmp start --dir DIR)   # prints the URL, writes DIR/url
//	TEST_DATABASE_URL=$url go test ./...
//	go run ./internal/tools/pgtmp stop --dir DIR
//
// start fails if DIR already holds a server's data directory; run stop first.
// stop is a no-op if no server was started in DIR, and keeps DIR/postgres.log.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/openreplicator/replicator/pkg/pgserver"
)

const usage = `usage:
  pgtmp start --dir DIR [--port N] [--database NAME] [-c key=value]...
      start a server in DIR, print its URL on stdout and write it to DIR/url
  pgtmp stop --dir DIR
      stop the server started in DIR and remove its data
`

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Print(usage)
			os.Exit(0)
		}
		var u usageError
		if errors.As(err, &u) {
			fmt.Fprintf(os.Stderr, "pgtmp: %v\n%s", err, usage)
			os.Exit(2)
		}
		fmt.Fprintf(os.Stderr, "pgtmp: %v\n", err)
		os.Exit(1)
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// settings collects repeated -c flags.
type settings []string

func (s *settings) String() string     { return strings.Join(*s, " ") }
func (s *settings) Set(v string) error { *s = append(*s, v); return nil }

func run(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError{"missing command"}
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("pgtmp "+cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // main reports errors, with the usage
	dir := fs.String("dir", "", "base directory of the server (required)")

	switch cmd {
	case "start":
		var extra settings
		port := fs.Int("port", 0, "TCP port on 127.0.0.1 (0 = any free port)")
		database := fs.String("database", "", `database to create (default "replicator")`)
		fs.Var(&extra, "c", "extra server setting key=value (repeatable)")
		if err := parse(fs, args, dir); err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		defer cancel()
		s, err := pgserver.Start(ctx, pgserver.Options{
			Dir: *dir, Port: *port, Database: *database, ExtraConfig: extra,
		})
		if err != nil {
			return err
		}
		// The server keeps running after we exit: pg_ctl daemonized it.
		if err := os.WriteFile(filepath.Join(s.Dir(), "url"), []byte(s.URL()+"\n"), 0o644); err != nil {
			return errors.Join(err, s.Stop())
		}
		_, err = fmt.Fprintln(stdout, s.URL())
		return err

	case "stop":
		if err := parse(fs, args, dir); err != nil {
			return err
		}
		if err := pgserver.StopDir(*dir); err != nil {
			return err
		}
		if err := os.Remove(filepath.Join(*dir, "url")); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil

	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil

	default:
		return usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
}

func parse(fs *flag.FlagSet, args []string, dir *string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	if *dir == "" {
		return usageError{"--dir is required"}
	}
	return nil
}
