-- +goose Up
-- Topic identity: a source topic deleted and created again under the same
-- name is a new topic. Jobs and checkpoints keep the Kafka topic ID the
-- metadata job reported ('' until it reports one: rows from before this
-- migration adopt the first ID reported). When the ID changes, the topic's
-- checkpoints and offset mappings are retired and its jobs start over at
-- the earliest offset (offset_mappings needs no column: a re-created
-- topic's points are deleted with its checkpoints).
ALTER TABLE jobs ADD COLUMN topic_id text NOT NULL DEFAULT '';
ALTER TABLE checkpoints ADD COLUMN topic_id text NOT NULL DEFAULT '';

-- The lease secret, new with every grant: renewals, checkpoints, releases
-- and topology reports must present it. NULL (never granted since this
-- migration) matches no request, so leases granted before it are lost once
-- and granted again with a token.
ALTER TABLE jobs ADD COLUMN lease_token text;

-- The history shows state changes ('state') and notices ('notice'): what
-- jobs or discovery did or saw (a source topic re-created, partitions
-- gone, a target topic re-created). A worker resends a notice until a
-- heartbeat carrying it is answered; the index makes a resent one a no-op.
ALTER TABLE replicator_events ADD COLUMN kind text NOT NULL DEFAULT 'state';
CREATE UNIQUE INDEX replicator_events_notice ON replicator_events (replicator_id, code, at, md5(message)) WHERE kind = 'notice';

-- +goose Down
DROP INDEX replicator_events_notice;
ALTER TABLE replicator_events DROP COLUMN kind;
ALTER TABLE jobs DROP COLUMN lease_token;
ALTER TABLE checkpoints DROP COLUMN topic_id;
ALTER TABLE jobs DROP COLUMN topic_id;
