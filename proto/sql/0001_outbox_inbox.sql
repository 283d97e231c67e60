-- The transactional outbox and inbox (DESIGN.md, "Data and events").
-- A state change and its event commit together: the row here is the contract that the
-- relay publishes in order. Consumers record each event id in inbox with their effect.
CREATE TABLE outbox (
    seq          bigserial PRIMARY KEY,          -- commit order within a key is seq order
    event_id     uuid        NOT NULL UNIQUE,
    topic        text        NOT NULL,
    key          text        NOT NULL,           -- user id: one user's events stay in order
    event        jsonb       NOT NULL,           -- CloudEvents 1.0 structured envelope
    headers      jsonb       NOT NULL DEFAULT '{}'::jsonb,  -- e.g. traceparent
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;

CREATE TABLE inbox (
    consumer_group text        NOT NULL,
    event_id       uuid        NOT NULL,
    processed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, event_id)
);
