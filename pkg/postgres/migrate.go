package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/openreplicator/replicator/migrations"
)

// Migrate applies every pending migration to the database at url. It is safe
// to run concurrently from several processes (goose takes a lock).
func Migrate(ctx context.Context, url string, logw io.Writer) error {
	cfg, err := parseConfig(url)
	if err != nil {
		return err
	}
	db := stdlib.OpenDB(*cfg.ConnConfig)
	defer db.Close()
	return migrateDB(ctx, db, logw)
}

func migrateDB(ctx context.Context, db *sql.DB, logw io.Writer) error {
	if logw == nil {
		logw = io.Discard
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS,
		goose.WithLogger(log.New(logw, "migrate: ", 0)),
		goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, r := range res {
		fmt.Fprintf(logw, "migrate: applied %s in %s\n", r.Source.Path, r.Duration)
	}
	return nil
}
