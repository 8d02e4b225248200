-- +goose Up
CREATE TABLE replicators (
    id                         uuid PRIMARY KEY,
    account_id                 text NOT NULL,
    name                       text COLLATE "C" NOT NULL,
    arn                        text NOT NULL UNIQUE,
    description                text NOT NULL DEFAULT '',
    service_execution_role_arn text NOT NULL,
    spec                       jsonb NOT NULL,
    tags                       jsonb NOT NULL DEFAULT '{}',
    state                      text NOT NULL,
    state_code                 text NOT NULL DEFAULT '',
    state_message              text NOT NULL DEFAULT '',
    current_version            text NOT NULL,
    spec_version               bigint NOT NULL DEFAULT 1,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    state_changed_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, name)
);

-- ListReplicators pages by (account_id, name) through the unique index;
-- names compare bytewise (COLLATE "C") so the prefix filter and the order agree.
CREATE INDEX replicators_state ON replicators (state) WHERE state <> 'RUNNING';

-- History of state changes, shown by the status endpoint and the console.
CREATE TABLE replicator_events (
    id            bigserial PRIMARY KEY,
    replicator_id uuid NOT NULL REFERENCES replicators (id) ON DELETE CASCADE,
    at            timestamptz NOT NULL DEFAULT now(),
    state         text NOT NULL,
    code          text NOT NULL DEFAULT '',
    message       text NOT NULL DEFAULT ''
);
CREATE INDEX replicator_events_replicator ON replicator_events (replicator_id, id);

-- +goose Down
DROP TABLE replicator_events;
DROP TABLE replicators;
