-- +goose Up
-- The spec version of the last topology the metadata job reported; the
-- replicator's partition jobs match its spec when this equals spec_version.
ALTER TABLE replicators ADD COLUMN topology_version bigint NOT NULL DEFAULT 0;

-- A job is a unit one worker owns: the metadata job of a replicator (topic,
-- config, ACL and group sync, and discovery) or one source partition.
CREATE TABLE jobs (
    id               bigserial PRIMARY KEY,
    replicator_id    uuid NOT NULL REFERENCES replicators (id) ON DELETE CASCADE,
    kind             text NOT NULL CHECK (kind IN ('metadata', 'partition')),
    topic            text NOT NULL DEFAULT '',
    partition        integer NOT NULL DEFAULT -1,
    owner            text,
    -- epoch increases with every grant; everything done under a lease is
    -- fenced by (owner, epoch).
    epoch            bigint NOT NULL DEFAULT 0,
    lease_expires_at timestamptz,
    granted_at       timestamptz,
    last_owner       text,
    revoke           boolean NOT NULL DEFAULT false,
    heartbeat_at     timestamptz,
    spec_version     bigint NOT NULL DEFAULT 0,
    status           jsonb NOT NULL DEFAULT '{}',
    progress         jsonb NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (replicator_id, kind, topic, partition)
);
CREATE INDEX jobs_owner ON jobs (owner) WHERE owner IS NOT NULL;
CREATE INDEX jobs_lease ON jobs (lease_expires_at) WHERE owner IS NOT NULL;
CREATE INDEX jobs_free ON jobs (replicator_id) WHERE owner IS NULL;

-- Where a partition resumes: the next source offset to copy (-2: the start
-- of the log). Written only under the partition job's lease.
CREATE TABLE checkpoints (
    replicator_id uuid NOT NULL REFERENCES replicators (id) ON DELETE CASCADE,
    topic         text NOT NULL,
    partition     integer NOT NULL,
    next_offset   bigint NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (replicator_id, topic, partition)
);

CREATE TABLE workers (
    id         text PRIMARY KEY,
    first_seen timestamptz NOT NULL DEFAULT now(),
    last_seen  timestamptz NOT NULL DEFAULT now(),
    info       jsonb NOT NULL DEFAULT '{}'
);

-- Leader lease for the scheduler's periodic work (one row per role).
CREATE TABLE leaders (
    role       text PRIMARY KEY,
    holder     text NOT NULL,
    term       bigint NOT NULL,
    expires_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE leaders;
DROP TABLE workers;
DROP TABLE checkpoints;
DROP TABLE jobs;
ALTER TABLE replicators DROP COLUMN topology_version;
