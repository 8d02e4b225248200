package main

import (
	"context"
	"errors"
	"io"

	"github.com/openreplicator/replicator/pkg/postgres"
)

func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var url string
	var lc logConfig
	s := newSettings("migrate", "Applies every pending schema migration to DATABASE_URL and exits.", getenv, stderr)
	s.Secret(&url, "database-url", "DATABASE_URL", "PostgreSQL connection URL")
	s.logging(&lc)
	if err := s.Parse(args); err != nil {
		return err
	}
	if url == "" {
		return errors.New("DATABASE_URL is required")
	}
	return postgres.Migrate(ctx, url, stdout)
}
