-- Which consumer group gave up on a dead letter: with several roles consuming one topic
-- (audit, recur, notify), the same bad event can be dead-lettered once by each.
ALTER TABLE dead_letters ADD COLUMN consumer_group text NOT NULL DEFAULT '';
CREATE INDEX dead_letters_group ON dead_letters (consumer_group, created_at);
