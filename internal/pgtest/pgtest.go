// Package pgtest gives tests a fresh, migrated PostgreSQL database. It uses
// the server at TEST_DATABASE_URL (make test starts one for the whole run),
// or starts a throwaway one for this test process. Each call clones a
// migrated template database, so packages and tests run in parallel.
package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/openreplicator/replicator/pkg/pgserver"
	"github.com/openreplicator/replicator/pkg/postgres"
)

const templateName = "replicator_test_template"

var (
	once     sync.Once
	adminURL string
	setupErr error
)

// setup finds or starts the server and builds the template once per process.
func setup() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		srv, err := pgserver.Start(ctx, pgserver.Options{})
		if err != nil {
			setupErr = fmt.Errorf("pgtest: TEST_DATABASE_URL is unset and a throwaway server could not start: %w", err)
			return
		}
		// The server lives as long as the test process; the OS reclaims it
		// through pgserver's own cleanup when the process ends.
		registerStop(srv)
		base = srv.AdminURL()
	}
	adminURL = withDatabase(base, "postgres")
	setupErr = buildTemplate(ctx)
}

// buildTemplate creates and migrates the template under an advisory lock,
// so concurrent test processes share one.
func buildTemplate(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("pgtest: connect: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(727272)`); err != nil {
		return err
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(727272)`)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, templateName).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		if _, err := conn.Exec(ctx, `CREATE DATABASE `+templateName); err != nil {
			return err
		}
	}
	// Migrating an up-to-date template is a no-op; a stale one (new
	// migration since the server started) is brought up to date.
	return postgres.Migrate(ctx, withDatabase(adminURL, templateName), nil)
}

func withDatabase(raw, db string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Path = "/" + db
	return u.String()
}

// URL returns the URL of a new database, cloned from the migrated template
// and dropped when the test ends.
func URL(t testing.TB) string {
	t.Helper()
	once.Do(setup)
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	ctx := context.Background()
	name := "t_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// CREATE DATABASE ... TEMPLATE fails while another session is connected
	// to the template; retry briefly.
	for i := 0; ; i++ {
		_, err = conn.Exec(ctx, `CREATE DATABASE `+name+` TEMPLATE `+templateName)
		if err == nil || i == 50 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), adminURL)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
	})
	return withDatabase(adminURL, name)
}

// Store returns a store over a new database.
func Store(t testing.TB) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}
