// Package migrations embeds the numbered SQL migrations that `replicator
// migrate` applies. A migration is never edited once it has landed.
package migrations

import "embed"

// FS holds the *.sql files.
//
//go:embed *.sql
var FS embed.FS
