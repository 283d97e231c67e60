-- Live sync (the sync role): every task change also writes a task-updates event, in the
-- same transaction and numbered per user; the latest updates of each user stay here so
-- that any sync replica can resume a client (?since=N); WebSocket tickets are single-use
-- and shared by every replica.

-- The last sequence number given to each user's updates.
CREATE TABLE sync_seqs (
    user_id text   PRIMARY KEY,
    seq     bigint NOT NULL
);

-- The recent updates, data of the task-updates events (proto/events/task-update.schema.json).
CREATE TABLE task_updates (
    user_id    text        NOT NULL,
    seq        bigint      NOT NULL,
    data       jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (user_id, seq)
);

-- How many updates per user are kept for resume; older positions get a resync.
CREATE FUNCTION todod_sync_keep() RETURNS bigint LANGUAGE sql IMMUTABLE RETURN 500;

-- As in 0003, plus the task-updates event: the next number of the user, the update kept
-- for resume (trimmed to todod_sync_keep() every 64 numbers) and its outbox row.
CREATE OR REPLACE FUNCTION todod_emit(t tasks, kind text, traceparent text, request_id text)
    RETURNS uuid LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    ev  jsonb := todod_task_event(t, kind, traceparent, request_id);
    uid text := t.user_id::text;
    n   bigint;
    upd jsonb;
BEGIN
    INSERT INTO outbox (event_id, topic, key, event, headers)
    VALUES ((ev->>'id')::uuid, 'task-events', uid, ev,
            jsonb_build_object('traceparent', traceparent));
    INSERT INTO sync_seqs AS s (user_id, seq) VALUES (uid, 1)
        ON CONFLICT (user_id) DO UPDATE SET seq = s.seq + 1
        RETURNING s.seq INTO n;
    upd := jsonb_build_object(
        'event_type', 'task_' || kind, 'task_id', t.id, 'user_id', uid,
        'task', CASE WHEN kind = 'deleted' THEN NULL ELSE todod_task_json(t) END,
        'version', t.version, 'timestamp', ev->>'time', 'seq', n);
    INSERT INTO task_updates (user_id, seq, data) VALUES (uid, n, upd);
    IF n % 64 = 0 THEN
        DELETE FROM task_updates WHERE user_id = uid AND seq <= n - todod_sync_keep();
    END IF;
    INSERT INTO outbox (event_id, topic, key, event, headers)
    VALUES (gen_random_uuid(), 'task-updates', uid,
            jsonb_build_object(
                'specversion', '1.0', 'id', gen_random_uuid(), 'source', '/todod/api',
                'type', 'todo.task.' || kind, 'subject', t.id::text, 'time', ev->>'time',
                'datacontenttype', 'application/json', 'data', upd)
            || CASE WHEN traceparent IS NULL THEN '{}'::jsonb
                    ELSE jsonb_build_object('traceparent', traceparent) END
            || CASE WHEN request_id IS NULL THEN '{}'::jsonb
                    ELSE jsonb_build_object('requestid', request_id) END,
            jsonb_build_object('traceparent', traceparent));
    RETURN (ev->>'id')::uuid;
END $$;

-- What a client resuming after since missed, in one snapshot: {"seq": latest} with
-- "updates" (the data of each update after since, in order) or "resync": true when since
-- is ahead of the user or older than what is kept. since NULL: just the latest number.
CREATE FUNCTION todod_sync_resume(uid text, since bigint) RETURNS text
    LANGUAGE plpgsql STABLE AS $$
DECLARE
    latest bigint := coalesce((SELECT seq FROM sync_seqs WHERE user_id = uid), 0);
BEGIN
    IF since IS NULL OR since = latest THEN
        RETURN jsonb_build_object('seq', latest, 'updates', '[]'::jsonb)::text;
    END IF;
    IF since > latest OR since < 0 OR latest - since > todod_sync_keep()
       OR NOT EXISTS (SELECT 1 FROM task_updates WHERE user_id = uid AND seq = since + 1) THEN
        RETURN jsonb_build_object('seq', latest, 'resync', true)::text;
    END IF;
    RETURN jsonb_build_object('seq', latest, 'updates',
               (SELECT coalesce(jsonb_agg(data ORDER BY seq), '[]'::jsonb) FROM task_updates
                 WHERE user_id = uid AND seq > since AND seq <= latest))::text;
END $$;

-- WebSocket tickets (POST /api/ws-ticket): only their SHA-256 is stored; redeeming one
-- deletes it, so it works once on whichever replica gets it first.
CREATE TABLE ws_tickets (
    hash       bytea       PRIMARY KEY,
    user_id    text        NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX ws_tickets_expiry ON ws_tickets (expires_at);

CREATE FUNCTION todod_ws_ticket_issue(uid text, ticket text, ttl_s integer) RETURNS void
    LANGUAGE sql VOLATILE AS $$
    DELETE FROM ws_tickets WHERE expires_at < clock_timestamp() - interval '1 minute';
    INSERT INTO ws_tickets (hash, user_id, expires_at)
    VALUES (sha256(convert_to(ticket, 'UTF8')), uid,
            clock_timestamp() + make_interval(secs => ttl_s));
$$;

-- The ticket's user, or no row when it is unknown, used or expired.
CREATE FUNCTION todod_ws_ticket_redeem(ticket text) RETURNS SETOF text
    LANGUAGE sql VOLATILE AS $$
    DELETE FROM ws_tickets WHERE hash = sha256(convert_to(ticket, 'UTF8'))
    RETURNING CASE WHEN expires_at > clock_timestamp() THEN user_id END;
$$;
