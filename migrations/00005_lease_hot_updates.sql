-- +goose Up
-- Lease renewals change lease_expires_at every second for every job; with
-- no index on it and room in each page, they become in-place (HOT)
-- updates. The queries that looked for expired leases scan jobs instead
-- (thousands of rows, a few times a second).
DROP INDEX jobs_lease;
ALTER TABLE jobs SET (fillfactor = 50);

-- At most one offset mapping point per partition every few seconds;
-- old points are pruned by age (the checkpoint row is always the newest).
ALTER TABLE checkpoints ADD COLUMN mapping_at timestamptz NOT NULL DEFAULT '-infinity';
CREATE INDEX offset_mappings_recorded_at ON offset_mappings (recorded_at);

-- +goose Down
DROP INDEX offset_mappings_recorded_at;
ALTER TABLE checkpoints DROP COLUMN mapping_at;
ALTER TABLE jobs RESET (fillfactor);
CREATE INDEX jobs_lease ON jobs (lease_expires_at) WHERE owner IS NOT NULL;
