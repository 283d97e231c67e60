-- Reminder channels beyond in_app (the notify role, roles/notify/deliver.c): a user's
-- webhook URL and signing secret, durable deliveries for the webhook and email channels
-- (one row per delivery with its state and next attempt, one row per attempt made), and
-- the reminder events reminder_scheduled and reminder_sent beside reminder_triggered.
--
-- Reminder states gain 'delivering': fired, its webhook or email delivery not settled yet;
-- it ends 'sent' (delivered) or 'failed' (error says why).
ALTER TABLE users ADD COLUMN webhook_url text, ADD COLUMN webhook_secret text;

CREATE OR REPLACE FUNCTION todod_user_json(u users) RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN jsonb_build_object('id', u.id, 'email', u.email, 'name', u.name,
                              'time_zone', u.time_zone, 'created_at', todod_ts(u.created_at),
                              'webhook_url', u.webhook_url,
                              'webhook_secret_set', u.webhook_secret IS NOT NULL);

ALTER TABLE reminders DROP CONSTRAINT reminders_state_check;
ALTER TABLE reminders ADD CONSTRAINT reminders_state_check
    CHECK (state IN ('scheduled', 'delivering', 'sent', 'cancelled', 'missed', 'failed'));

-- One delivery per fired webhook or email reminder. State pending (next_at: when to try),
-- sending (claimed by a notify process until lease_until; a process that died leaves it
-- to be claimed again after that), delivered, failed (given up; last_error says why).
CREATE TABLE reminder_deliveries (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    reminder_id uuid        NOT NULL UNIQUE REFERENCES reminders (id),
    user_id     text        NOT NULL,
    channel     text        NOT NULL CHECK (channel IN ('webhook', 'email')),
    target      text        NOT NULL,   -- the URL or the address, as they were at fire
    event       jsonb       NOT NULL,   -- what is sent: the reminder_triggered event
    state       text        NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'sending', 'delivered', 'failed')),
    attempts    integer     NOT NULL DEFAULT 0,
    next_at     timestamptz NOT NULL,
    lease_until timestamptz,
    last_code   integer,
    last_error  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reminder_deliveries_due ON reminder_deliveries
    ((CASE state WHEN 'pending' THEN next_at ELSE lease_until END))
    WHERE state IN ('pending', 'sending');

CREATE TABLE reminder_delivery_attempts (
    delivery_id uuid        NOT NULL REFERENCES reminder_deliveries (id),
    attempt     integer     NOT NULL,
    outcome     text        NOT NULL CHECK (outcome IN ('delivered', 'retry', 'failed')),
    code        integer,            -- HTTP status or SMTP reply; NULL when none came
    error       text,
    finished_at timestamptz NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);

-- The user behind a reminder's user_id (text: tokens of external IdPs carry other ids).
CREATE FUNCTION todod_reminder_user(user_id text) RETURNS users
    LANGUAGE sql STABLE
    RETURN (SELECT u FROM users u
             WHERE user_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
               AND u.id = user_id::uuid);

-- Writes a reminder event of r to the outbox (topic reminders, key the user); its id.
CREATE FUNCTION todod_reminder_emit(r reminders, kind text, at timestamptz,
                                    extra jsonb DEFAULT '{}') RETURNS uuid
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    ev jsonb := todod_reminder_event(r, kind, at);
BEGIN
    ev := jsonb_set(ev, '{data}', (ev->'data') || extra);
    INSERT INTO outbox (event_id, topic, key, event, headers)
    VALUES ((ev->>'id')::uuid, 'reminders', r.user_id, ev, '{}'::jsonb);
    RETURN (ev->>'id')::uuid;
END $$;

-- As in 0008, and: webhook and email reminders are scheduled (whether they can be sent is
-- known when they fire), sms and push are recorded failed with "channel not configured",
-- and each row scheduled emits reminder_scheduled.
CREATE OR REPLACE FUNCTION todod_notify_schedule(grp text, event_id uuid, ev jsonb) RETURNS text
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    kind text := regexp_replace(coalesce(ev->>'type', ''), '^todo\.task\.', '');
    d    jsonb := ev->'data';
    td   jsonb := ev->'data'->'task_data';
    tid  uuid;
    ver  integer;
    due  timestamptz;
    nxt  timestamptz;
    r    reminders;
BEGIN
    IF jsonb_typeof(d) IS DISTINCT FROM 'object' OR d->>'task_id' IS NULL
       OR d->>'user_id' IS NULL THEN
        RAISE EXCEPTION 'not a task event: data needs task_id and user_id'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT todod_inbox_claim(grp, event_id) THEN
        RETURN 'duplicate';
    END IF;
    tid := (d->>'task_id')::uuid;
    ver := coalesce((td->>'version')::integer, 0);
    IF kind NOT IN ('created', 'updated', 'completed', 'deleted') THEN
        RETURN '';
    END IF;
    IF EXISTS (SELECT 1 FROM reminders o WHERE o.task_id = tid AND o.task_version > ver) THEN
        RETURN '';   -- a newer event of the task was handled already
    END IF;
    UPDATE reminders SET state = 'cancelled', updated_at = now()
     WHERE task_id = tid AND state = 'scheduled';
    IF kind IN ('completed', 'deleted') OR td->>'status' IS DISTINCT FROM 'pending' THEN
        RETURN '';
    END IF;
    due := todod_notify_instant(td->>'due_date');
    FOR r IN
        INSERT INTO reminders (task_id, user_id, title, due_at, remind_at, offset_minutes,
                               channel, state, error, task_version)
        SELECT tid, d->>'user_id', coalesce(td->>'title', ''), due, x.at, x.mins, x.ch,
               CASE WHEN x.ch IN ('in_app', 'webhook', 'email') THEN 'scheduled' ELSE 'failed' END,
               CASE WHEN x.ch IN ('in_app', 'webhook', 'email') THEN NULL
                    ELSE 'channel not configured' END, ver
          FROM (SELECT coalesce(e->>'channel', 'in_app') AS ch,
                       CASE WHEN e ? 'at' THEN todod_notify_instant(e->>'at')
                            ELSE due - todod_notify_interval(e->>'offset') END AS at,
                       CASE WHEN e ? 'offset'
                            THEN (extract(epoch FROM todod_notify_interval(e->>'offset')) / 60)::integer
                       END AS mins
                  FROM jsonb_array_elements(CASE WHEN jsonb_typeof(td->'reminders') = 'array'
                                                 THEN td->'reminders' ELSE '[]' END) e
                 WHERE jsonb_typeof(e) = 'object') x
         WHERE x.at IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM reminders o
                            WHERE o.task_id = tid AND o.remind_at = x.at AND o.channel = x.ch
                              AND o.state IN ('delivering', 'sent', 'missed', 'failed'))
        RETURNING *
    LOOP
        IF r.state = 'scheduled' THEN
            PERFORM todod_reminder_emit(r, 'reminder_scheduled', now());
        END IF;
    END LOOP;
    SELECT min(remind_at) INTO nxt FROM reminders WHERE task_id = tid AND state = 'scheduled';
    RETURN coalesce((extract(epoch FROM nxt) * 1000)::bigint::text, '');
END $$;

-- The timer's statement (0008's, with channels): claims up to lim scheduled rows due at
-- now_ FOR UPDATE SKIP LOCKED, records those older than the horizon as missed, and fires
-- the others (late when more than late_after behind), each with its reminder_triggered
-- event: in_app stores the notification, state sent, and emits reminder_sent; webhook and
-- email (when named in channels, the ones this process can send, and the user has a URL
-- and a secret, or an address) become a pending delivery, state delivering; anything else
-- fails with "channel not configured: ...". Returns 'fired|earliest scheduled instant (ms)'.
CREATE FUNCTION todod_notify_fire(now_ timestamptz, horizon interval, late_after interval,
                                  lim integer, channels text[]) RETURNS text
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    r   reminders;
    u   users;
    ev  uuid;
    tgt text;
    why text;
    n   integer := 0;
    nxt timestamptz;
BEGIN
    FOR r IN SELECT * FROM reminders
              WHERE state = 'scheduled' AND remind_at <= now_
              ORDER BY remind_at LIMIT lim FOR UPDATE SKIP LOCKED LOOP
        IF r.remind_at < now_ - horizon THEN
            UPDATE reminders SET state = 'missed', fired_at = now_, updated_at = now(),
                   error = 'older than the horizon when notify came to it'
             WHERE id = r.id;
            CONTINUE;
        END IF;
        r.late := r.remind_at < now_ - late_after;
        ev := todod_reminder_emit(r, 'reminder_triggered', now_);
        n := n + 1;
        IF r.channel = 'in_app' THEN
            UPDATE reminders SET state = 'sent', late = r.late, fired_at = now_,
                   updated_at = now(), event_id = ev
             WHERE id = r.id;
            INSERT INTO notifications (user_id, reminder_id, task_id, title, due_at, remind_at, late)
            VALUES (r.user_id, r.id, r.task_id, r.title, r.due_at, r.remind_at, r.late);
            PERFORM todod_reminder_emit(r, 'reminder_sent', now_);
            CONTINUE;
        END IF;
        u := todod_reminder_user(r.user_id);
        tgt := NULL;
        why := NULL;
        IF NOT (r.channel = ANY (channels)) THEN
            why := CASE r.channel WHEN 'email' THEN 'channel not configured: email needs --smtp-url'
                                  WHEN 'webhook' THEN 'channel not configured: webhooks are off'
                                  ELSE 'channel not configured' END;
        ELSIF r.channel = 'webhook' THEN
            tgt := u.webhook_url;
            IF tgt IS NULL THEN
                why := 'channel not configured: the user has no webhook_url';
            ELSIF u.webhook_secret IS NULL THEN
                why := 'channel not configured: the user has no webhook secret';
            END IF;
        ELSIF r.channel = 'email' THEN
            tgt := u.email;
            IF tgt IS NULL THEN
                why := 'channel not configured: no email address is known for the user';
            END IF;
        END IF;
        IF why IS NOT NULL THEN
            UPDATE reminders SET state = 'failed', late = r.late, fired_at = now_,
                   updated_at = now(), event_id = ev, error = why
             WHERE id = r.id;
            CONTINUE;
        END IF;
        UPDATE reminders SET state = 'delivering', late = r.late, fired_at = now_,
               updated_at = now(), event_id = ev
         WHERE id = r.id;
        INSERT INTO reminder_deliveries (reminder_id, user_id, channel, target, event, next_at)
        SELECT r.id, r.user_id, r.channel, tgt, o.event, now_ FROM outbox o WHERE o.event_id = ev;
    END LOOP;
    SELECT min(remind_at) INTO nxt FROM reminders WHERE state = 'scheduled';
    RETURN n || '|' || coalesce((extract(epoch FROM nxt) * 1000)::bigint::text, '');
END $$;

-- 0008's signature: in_app and webhook (webhooks need no process setting).
CREATE OR REPLACE FUNCTION todod_notify_fire(now_ timestamptz, horizon interval,
                                             late_after interval, lim integer) RETURNS text
    LANGUAGE sql VOLATILE
    RETURN todod_notify_fire(now_, horizon, late_after, lim, ARRAY['in_app', 'webhook']);

-- Claims up to lim deliveries due at now_ (pending and due, or sending with a lapsed
-- lease) for lease: state sending, attempts + 1. Answers what to send: the delivery, its
-- channel, target, the user's webhook secret now, the event as text, the attempt.
CREATE FUNCTION todod_delivery_claim(now_ timestamptz, lease interval, lim integer)
    RETURNS TABLE (id uuid, channel text, target text, secret text, body text, attempt integer)
    LANGUAGE sql VOLATILE
BEGIN ATOMIC
    WITH c AS (SELECT d.id FROM reminder_deliveries d
                WHERE d.state IN ('pending', 'sending')
                  AND (CASE d.state WHEN 'pending' THEN d.next_at ELSE d.lease_until END) <= now_
                ORDER BY (CASE d.state WHEN 'pending' THEN d.next_at ELSE d.lease_until END)
                LIMIT lim FOR UPDATE SKIP LOCKED)
    UPDATE reminder_deliveries d
       SET state = 'sending', attempts = d.attempts + 1, lease_until = now_ + lease,
           updated_at = now()
      FROM c WHERE d.id = c.id
    RETURNING d.id, d.channel, d.target,
              (todod_reminder_user(d.user_id)).webhook_secret, d.event::text, d.attempts;
END;

-- The earliest instant a delivery is due (Unix ms), or NULL.
CREATE FUNCTION todod_delivery_next() RETURNS bigint
    LANGUAGE sql STABLE
    RETURN (SELECT (extract(epoch FROM min(CASE state WHEN 'pending' THEN next_at
                                                      ELSE lease_until END)) * 1000)::bigint
              FROM reminder_deliveries WHERE state IN ('pending', 'sending'));

-- Records attempt of delivery did: its row in reminder_delivery_attempts, and
-- delivered (the reminder is sent, reminder_sent emitted), retry (pending again at now_ +
-- retry_in) or failed (the reminder is failed with the error). An answer for an attempt
-- that is no longer the current one (its lease lapsed and another claimed it) is only
-- logged. Returns the delivery's state after it, or 'stale'.
CREATE FUNCTION todod_delivery_result(did uuid, attempt_ integer, now_ timestamptz,
                                      outcome text, code_ integer, err text,
                                      retry_in interval) RETURNS text
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    d reminder_deliveries;
    r reminders;
BEGIN
    SELECT * INTO d FROM reminder_deliveries WHERE id = did FOR UPDATE;
    IF NOT FOUND OR d.state <> 'sending' OR d.attempts <> attempt_ THEN
        RETURN 'stale';
    END IF;
    INSERT INTO reminder_delivery_attempts (delivery_id, attempt, outcome, code, error, finished_at)
    VALUES (did, attempt_, outcome, code_, err, now_);
    SELECT * INTO r FROM reminders WHERE id = d.reminder_id FOR UPDATE;
    IF outcome = 'delivered' THEN
        UPDATE reminder_deliveries SET state = 'delivered', last_code = code_, last_error = NULL,
               lease_until = NULL, updated_at = now() WHERE id = did;
        UPDATE reminders SET state = 'sent', error = NULL, updated_at = now() WHERE id = r.id;
        PERFORM todod_reminder_emit(r, 'reminder_sent', now_, jsonb_build_object('attempt', attempt_));
        RETURN 'delivered';
    ELSIF outcome = 'retry' THEN
        UPDATE reminder_deliveries SET state = 'pending', next_at = now_ + retry_in,
               last_code = code_, last_error = err, lease_until = NULL, updated_at = now()
         WHERE id = did;
        UPDATE reminders SET error = format('attempt %s: %s', attempt_, err), updated_at = now()
         WHERE id = r.id;
        RETURN 'pending';
    END IF;
    UPDATE reminder_deliveries SET state = 'failed', last_code = code_, last_error = err,
           lease_until = NULL, updated_at = now() WHERE id = did;
    UPDATE reminders SET state = 'failed', error = format('%s: %s', d.channel, err),
           updated_at = now() WHERE id = r.id;
    RETURN 'failed';
END $$;
