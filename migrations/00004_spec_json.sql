-- +goose Up
-- The spec is read whole and never queried inside by SQL: plain json is
-- returned as stored, without rendering jsonb back to text on every read.
ALTER TABLE replicators ALTER COLUMN spec TYPE json USING spec::json;

-- +goose Down
ALTER TABLE replicators ALTER COLUMN spec TYPE jsonb USING spec::jsonb;
