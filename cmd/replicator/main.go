// Command replicator is the one binary of the service: the control plane
// (serve), the workers (worker), the schema migrations (migrate), a local
// all-in-one (dev), two small Kafka helpers (produce, consume), and a
// certificate maker for serve's TLS (certs).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if err != errUsage {
			fmt.Fprintln(os.Stderr, "replicator:", err)
		}
		os.Exit(2)
	}
}

const usage = `replicator: an MSK-Replicator-compatible Kafka replication service

Usage: replicator <command> [flags]

Commands:
  serve     run the control plane (AWS-compatible API and scheduler)
  worker    run a replication worker
  migrate   apply the database schema to DATABASE_URL
  dev       run everything locally on embedded defaults
  produce   write demo records to a topic
  consume   read records from a topic
  certs     make a private CA and a server certificate for serve's TLS

Run 'replicator <command> -h' for the settings of a command.
`

// run is the whole program; main only wires the process to it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	cmds := map[string]func(context.Context, []string, func(string) string, io.Writer, io.Writer) error{
		"serve":   runServe,
		"worker":  runWorker,
		"migrate": runMigrate,
		"dev":     runDev,
		"produce": runProduce,
		"consume": runConsume,
		"certs":   runCerts,
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
			fmt.Fprint(stdout, usage)
			return nil
		}
		fmt.Fprintf(stderr, "replicator: unknown command %q\n\n%s", args[0], usage)
		return errUsage
	}
	return cmd(ctx, args[1:], getenv, stdout, stderr)
}
