// Package postgres is the only package that talks to PostgreSQL (through
// pgx). It stores replicators, their tags and state history, and, for the
// scheduler, jobs, leases and workers. Driver errors are translated into
// domain errors in one place (translate).
package postgres
