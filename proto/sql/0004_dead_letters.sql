-- Dead letters of the local bus (`todod all`), where no broker keeps them: each event a
-- consumer gave up on, with why. On Kafka they stay on the <topic>.dlq topics instead.
CREATE TABLE dead_letters (
    id             bigserial   PRIMARY KEY,
    topic          text        NOT NULL,   -- the dead-letter topic, e.g. task-events.dlq
    key            text        NOT NULL,
    event          text        NOT NULL,   -- the bytes as they were (they may not be JSON)
    error          text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dead_letters_created ON dead_letters (created_at);
