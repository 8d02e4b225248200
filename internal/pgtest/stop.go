package pgtest

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/openreplicator/replicator/pkg/pgserver"
)

// registerStop stops a process-owned server when the test binary is
// interrupted. On a normal exit, Main stops it.
func registerStop(srv *pgserver.Server) {
	owned = srv
	c := make(chan os.Signal, 1)
	signal.Notify(c, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-c
		_ = srv.Stop()
		os.Exit(1)
	}()
}

var owned *pgserver.Server

// Main runs a package's tests and then stops the server this process
// started, if any. Use it from TestMain: os.Exit(pgtest.Main(m)).
func Main(m interface{ Run() int }) int {
	code := m.Run()
	if owned != nil {
		_ = owned.Stop()
	}
	return code
}
