-- The event backbone's bookkeeping and the audit role's append-only, hash-chained log.

-- A row the bus refused for good (too large, say) is marked published with the reason,
-- so it cannot block the rows after it.
ALTER TABLE outbox ADD COLUMN publish_error text;
-- Every row is written once and marked once: vacuum often, so the index of unpublished
-- rows does not fill with dead entries the relay's sweep must walk.
ALTER TABLE outbox SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000,
                        autovacuum_vacuum_insert_scale_factor = 0,
                        autovacuum_vacuum_insert_threshold = 5000);

-- Events carry the request that caused them (CloudEvents extension "requestid"), so the
-- audit log can name it next to the trace id.
CREATE FUNCTION todod_task_event(t tasks, kind text, traceparent text, request_id text)
    RETURNS jsonb LANGUAGE sql VOLATILE
    RETURN todod_task_event(t, kind, traceparent)
           || CASE WHEN request_id IS NULL THEN '{}'::jsonb
                   ELSE jsonb_build_object('requestid', request_id) END;

CREATE FUNCTION todod_emit(t tasks, kind text, traceparent text, request_id text) RETURNS uuid
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    ev jsonb := todod_task_event(t, kind, traceparent, request_id);
BEGIN
    INSERT INTO outbox (event_id, topic, key, event, headers)
    VALUES ((ev->>'id')::uuid, 'task-events', t.user_id::text, ev,
            jsonb_build_object('traceparent', traceparent));
    RETURN (ev->>'id')::uuid;
END $$;

-- The three-argument form (0002) becomes the same function without a request id.
CREATE OR REPLACE FUNCTION todod_emit(t tasks, kind text, traceparent text) RETURNS uuid
    LANGUAGE sql VOLATILE
    RETURN todod_emit(t, kind, traceparent, NULL::text);

-- Consumers call this in the transaction of their effect: true the first time a group
-- sees an event, false on a redelivery (then the effect must be skipped).
CREATE FUNCTION todod_inbox_claim(grp text, id uuid) RETURNS boolean
    LANGUAGE sql VOLATILE AS $$
    WITH i AS (INSERT INTO inbox (consumer_group, event_id) VALUES (grp, id)
               ON CONFLICT DO NOTHING RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM i)
$$;

CREATE TABLE audit_log (
    id          bigserial   PRIMARY KEY,
    user_id     text        NOT NULL,              -- the actor: whose task changed
    user_seq    bigint      NOT NULL,              -- position in that user's chain, from 1
    event_id    uuid        NOT NULL UNIQUE,
    event_type  text        NOT NULL,              -- CloudEvents type, todo.task.*
    task_id     uuid,
    occurred_at timestamptz NOT NULL,              -- the event's time
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    before      jsonb,                             -- the task before the change (NULL: created)
    after       jsonb,                             -- and after it (NULL: deleted)
    request_id  text,
    trace_id    text,
    prev_hash   bytea,                             -- the user's previous row's hash
    hash        bytea       NOT NULL,              -- sha256(prev_hash || todod_audit_text(row))
    UNIQUE (user_id, user_seq)
);
CREATE INDEX audit_log_task ON audit_log (user_id, task_id, user_seq);
CREATE INDEX audit_log_time ON audit_log (user_id, occurred_at, user_seq);

-- What the hash covers: every field but the hashes and recorded_at, as the text of one
-- JSON array (jsonb's text form is canonical: sorted keys, no insignificant space), which
-- keeps NULL apart from '' and from JSON null, and needs no separator.
CREATE FUNCTION todod_audit_text(user_id text, user_seq bigint, event_id uuid,
                                 event_type text, task_id uuid, occurred_at timestamptz,
                                 before jsonb, after jsonb, request_id text, trace_id text)
    RETURNS text LANGUAGE sql STABLE
    RETURN jsonb_build_array(user_id, user_seq, event_id, event_type, task_id,
                             to_char(occurred_at AT TIME ZONE 'UTC',
                                     'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                             before, after, request_id, trace_id)::text;

CREATE FUNCTION todod_audit_row_hash(a audit_log) RETURNS bytea
    LANGUAGE sql STABLE
    RETURN sha256(coalesce(a.prev_hash, ''::bytea) || convert_to(
        todod_audit_text(a.user_id, a.user_seq, a.event_id, a.event_type, a.task_id,
                         a.occurred_at, a.before, a.after, a.request_id, a.trace_id), 'UTF8'));

-- Append-only for real: no UPDATE, DELETE or TRUNCATE, whoever asks.
CREATE FUNCTION todod_audit_refuse() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION todod_audit_refuse();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION todod_audit_refuse();

-- Records one task event for consumer group grp, exactly once. Returns false when the
-- group had it already. Bad events raise SQLSTATE class 22: the consumer dead-letters them.
CREATE FUNCTION todod_audit_append(grp text, ev jsonb) RETURNS boolean
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    d      jsonb := ev->'data';
    uid    text  := d->>'user_id';
    kind   text  := ev->>'type';
    tid    uuid;
    eid    uuid;
    tp     text  := ev->>'traceparent';
    prev_seq  bigint;
    prev_hash bytea;
    bef    jsonb;
    aft    jsonb;
    r      audit_log;
BEGIN
    IF jsonb_typeof(ev) IS DISTINCT FROM 'object' OR jsonb_typeof(d) IS DISTINCT FROM 'object'
       OR uid IS NULL OR uid = '' OR kind IS NULL OR kind NOT LIKE 'todo.task.%'
       OR ev->>'id' IS NULL OR ev->>'time' IS NULL THEN
        RAISE EXCEPTION 'not a task event: needs id, type todo.task.*, time, data.user_id'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    eid := (ev->>'id')::uuid;
    tid := (d->>'task_id')::uuid;
    IF NOT todod_inbox_claim(grp, eid) THEN
        RETURN false;
    END IF;
    -- one writer per user chain at a time; the lock ends with the transaction
    PERFORM pg_advisory_xact_lock(hashtextextended('todod-audit:' || uid, 0));
    -- only these two columns: the whole row would detoast before and after (measured 9x)
    SELECT user_seq, hash INTO prev_seq, prev_hash FROM audit_log WHERE user_id = uid
        ORDER BY user_seq DESC LIMIT 1;
    SELECT after INTO bef FROM audit_log WHERE user_id = uid AND task_id = tid
        ORDER BY user_seq DESC LIMIT 1;
    -- before: what the previous record of this task left; a deleted task's event carries
    -- its last state. (A task older than the audit log has no known before.)
    aft := CASE WHEN kind = 'todo.task.deleted' THEN NULL ELSE d->'task_data' END;
    IF kind = 'todo.task.deleted' THEN
        bef := coalesce(bef, d->'task_data');
    END IF;
    r.user_id := uid;
    r.user_seq := coalesce(prev_seq, 0) + 1;
    r.event_id := eid;
    r.event_type := kind;
    r.task_id := tid;
    r.occurred_at := (ev->>'time')::timestamptz;
    r.before := bef;
    r.after := aft;
    r.request_id := ev->>'requestid';
    r.trace_id := CASE WHEN tp ~ '^[0-9a-f]{2}-[0-9a-f]{32}-' THEN substr(tp, 4, 32) END;
    r.prev_hash := prev_hash;
    r.hash := todod_audit_row_hash(r);
    INSERT INTO audit_log (user_id, user_seq, event_id, event_type, task_id, occurred_at,
                           before, after, request_id, trace_id, prev_hash, hash)
    VALUES (r.user_id, r.user_seq, r.event_id, r.event_type, r.task_id, r.occurred_at,
            r.before, r.after, r.request_id, r.trace_id, r.prev_hash, r.hash);
    RETURN true;
END $$;

-- (todod_audit_append_batch, below, calls this once per event of a group commit.)

-- Re-walks a user's chain; names the first row that breaks it, or says it is whole.
CREATE FUNCTION todod_audit_verify(uid text) RETURNS jsonb
    LANGUAGE sql STABLE AS $$
    WITH chain AS (
        SELECT a.*, todod_audit_row_hash(a) AS computed,
               lag(a.hash) OVER w AS expected_prev, row_number() OVER w AS n
        FROM audit_log a WHERE a.user_id = uid
        WINDOW w AS (ORDER BY a.user_seq)),
    broken AS (
        SELECT id, user_seq, event_id,
               CASE WHEN user_seq <> n THEN 'a record before this one is missing'
                    WHEN prev_hash IS DISTINCT FROM expected_prev
                        THEN 'prev_hash does not match the previous record''s hash'
                    ELSE 'the record''s contents do not match its hash' END AS reason
        FROM chain
        WHERE user_seq <> n OR prev_hash IS DISTINCT FROM expected_prev OR hash <> computed
        ORDER BY user_seq LIMIT 1)
    SELECT jsonb_build_object(
        'valid', NOT EXISTS (SELECT 1 FROM broken),
        'records', (SELECT count(*) FROM chain),
        'head', (SELECT encode(hash, 'hex') FROM chain ORDER BY user_seq DESC LIMIT 1),
        'first_broken', (SELECT jsonb_build_object('id', id, 'sequence', user_seq,
                                                   'event_id', event_id, 'reason', reason)
                         FROM broken))
$$;

-- The audit process's own database user may read and append, nothing else
-- (connect as a login role that is a member of todod_audit).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'todod_audit') THEN
        CREATE ROLE todod_audit NOLOGIN;
    END IF;
    REVOKE ALL ON audit_log FROM todod_audit;
    GRANT SELECT, INSERT ON audit_log TO todod_audit;
    GRANT USAGE ON SEQUENCE audit_log_id_seq TO todod_audit;
    GRANT SELECT, INSERT ON inbox TO todod_audit;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'todod_audit role not created (no CREATEROLE): grant rights by hand';
END $$;

-- Group commit for the audit consumer: many events in one transaction, in order, one
-- result each: null when recorded (or already recorded), or why the event is bad
-- (SQLSTATE class 22, which no retry will fix). The fast form (safe = false) lets a bad
-- event fail the whole batch; the consumer then sends the batch again with safe = true,
-- where each event runs in its own subtransaction (three times slower, measured).
CREATE FUNCTION todod_audit_append_batch(grp text, evs jsonb, safe boolean) RETURNS jsonb
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    results jsonb := '[]'::jsonb;
    ev      jsonb;
BEGIN
    FOR ev IN SELECT e FROM jsonb_array_elements(evs) WITH ORDINALITY AS x(e, n) ORDER BY n LOOP
        IF NOT safe THEN
            PERFORM todod_audit_append(grp, ev);
            results := results || 'null'::jsonb;
            CONTINUE;
        END IF;
        BEGIN
            PERFORM todod_audit_append(grp, ev);
            results := results || 'null'::jsonb;
        EXCEPTION WHEN data_exception THEN
            results := results || to_jsonb(SQLERRM);
        END;
    END LOOP;
    RETURN results;
END $$;
