-- +goose Up
-- The target topic (its topic ID) a checkpoint's target offset and a
-- mapping point count in: a target topic deleted and created again starts
-- its offsets over, and points of the old one must not translate consumer
-- group offsets into the new one ('' = unknown, as before).
ALTER TABLE checkpoints ADD COLUMN target_topic_id text NOT NULL DEFAULT '';
ALTER TABLE offset_mappings ADD COLUMN target_topic_id text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE offset_mappings DROP COLUMN target_topic_id;
ALTER TABLE checkpoints DROP COLUMN target_topic_id;
