-- +goose Up
-- The target position matching each checkpoint: every source record before
-- next_offset was copied before target_next_offset.
ALTER TABLE checkpoints ADD COLUMN target_next_offset bigint;

-- Recent mapping points per partition, for consumer-group translation of
-- groups that are behind the replicator. The scheduler prunes old ones.
CREATE TABLE offset_mappings (
    replicator_id uuid NOT NULL REFERENCES replicators (id) ON DELETE CASCADE,
    topic         text NOT NULL,
    partition     integer NOT NULL,
    source_offset bigint NOT NULL,
    target_offset bigint NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (replicator_id, topic, partition, source_offset)
);

-- +goose Down
DROP TABLE offset_mappings;
ALTER TABLE checkpoints DROP COLUMN target_next_offset;
