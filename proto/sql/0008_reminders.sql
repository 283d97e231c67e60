-- Reminders (the notify role, roles/notify/): a task's due time and reminders become rows
-- here when its created/updated event is consumed; a libuv timer in the role fires each row
-- at its instant (todod_notify_fire), marks it sent, writes the todo.reminder.due event to
-- the outbox (topic reminders, key user id) and an in_app notification, in one transaction.
--
-- States: scheduled → sent (fired; late when it fired after a stop), missed (its instant
-- was older than the horizon when the role came to it), cancelled (the task was updated,
-- completed or deleted), failed (its channel has no sender here: error says why).
CREATE TABLE reminders (
    id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    task_id        uuid        NOT NULL,
    user_id        text        NOT NULL,
    title          text        NOT NULL,
    due_at         timestamptz,
    remind_at      timestamptz NOT NULL,
    offset_minutes integer,                      -- NULL for an absolute ("at") reminder
    channel        text        NOT NULL,
    state          text        NOT NULL DEFAULT 'scheduled'
                   CHECK (state IN ('scheduled', 'sent', 'cancelled', 'missed', 'failed')),
    late           boolean     NOT NULL DEFAULT false,
    error          text,
    task_version   integer     NOT NULL DEFAULT 0,   -- the event's task version that wrote it
    event_id       uuid,                             -- the todo.reminder.due event, once sent
    created_at     timestamptz NOT NULL DEFAULT now(),
    fired_at       timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
-- The timer's two questions: the earliest scheduled instant, and the rows due now.
CREATE INDEX reminders_scheduled ON reminders (remind_at) WHERE state = 'scheduled';
CREATE INDEX reminders_task ON reminders (task_id, state);

-- The in_app channel: what GET /api/notifications lists.
CREATE TABLE notifications (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     text        NOT NULL,
    reminder_id uuid        NOT NULL REFERENCES reminders (id),
    task_id     uuid        NOT NULL,
    title       text        NOT NULL,
    due_at      timestamptz,
    remind_at   timestamptz NOT NULL,
    late        boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    read_at     timestamptz,
    UNIQUE (reminder_id)
);
CREATE INDEX notifications_user ON notifications (user_id, created_at DESC, id);

-- An ISO 8601 duration as an interval; NULL when it is not one (core/task.c validates what
-- the API writes, so NULL only meets rows written around it).
CREATE FUNCTION todod_notify_interval(d text) RETURNS interval
    LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF d IS NULL OR d !~ '^P' THEN
        RETURN NULL;
    END IF;
    RETURN d::interval;
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$;

CREATE FUNCTION todod_notify_instant(d text) RETURNS timestamptz
    LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN d::timestamptz;
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$;

-- The consumer's one statement per task event: claims the inbox row and, in the same
-- transaction, replaces the task's scheduled rows (created/updated of a pending task) or
-- cancels them (completed, deleted, or an update to completed). An event older than the
-- rows already written for its task (task_version) changes nothing. A reminder that was
-- already sent, missed or failed at the same instant and channel is not scheduled again
-- (an update of the title after the reminder fired). Returns 'duplicate' when the group
-- had the event, else the earliest scheduled instant of the task (Unix ms) or ''.
CREATE FUNCTION todod_notify_schedule(grp text, event_id uuid, ev jsonb) RETURNS text
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    kind text := regexp_replace(coalesce(ev->>'type', ''), '^todo\.task\.', '');
    d    jsonb := ev->'data';
    td   jsonb := ev->'data'->'task_data';
    tid  uuid;
    ver  integer;
    due  timestamptz;
    nxt  timestamptz;
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
    IF EXISTS (SELECT 1 FROM reminders r WHERE r.task_id = tid AND r.task_version > ver) THEN
        RETURN '';   -- a newer event of the task was handled already
    END IF;
    UPDATE reminders SET state = 'cancelled', updated_at = now()
     WHERE task_id = tid AND state = 'scheduled';
    IF kind IN ('completed', 'deleted') OR td->>'status' IS DISTINCT FROM 'pending' THEN
        RETURN '';
    END IF;
    due := todod_notify_instant(td->>'due_date');
    INSERT INTO reminders (task_id, user_id, title, due_at, remind_at, offset_minutes, channel,
                           state, error, task_version)
    SELECT tid, d->>'user_id', coalesce(td->>'title', ''), due, x.at,
           x.mins, x.ch,
           CASE WHEN x.ch = 'in_app' THEN 'scheduled' ELSE 'failed' END,
           CASE WHEN x.ch = 'in_app' THEN NULL ELSE 'channel not configured' END, ver
      FROM (SELECT coalesce(r->>'channel', 'in_app') AS ch,
                   CASE WHEN r ? 'at' THEN todod_notify_instant(r->>'at')
                        ELSE due - todod_notify_interval(r->>'offset') END AS at,
                   CASE WHEN r ? 'offset'
                        THEN (extract(epoch FROM todod_notify_interval(r->>'offset')) / 60)::integer
                   END AS mins
              FROM jsonb_array_elements(CASE WHEN jsonb_typeof(td->'reminders') = 'array'
                                             THEN td->'reminders' ELSE '[]' END) r
             WHERE jsonb_typeof(r) = 'object') x
     WHERE x.at IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM reminders o
                        WHERE o.task_id = tid AND o.remind_at = x.at AND o.channel = x.ch
                          AND o.state IN ('sent', 'missed', 'failed'));
    SELECT min(remind_at) INTO nxt FROM reminders WHERE task_id = tid AND state = 'scheduled';
    RETURN coalesce((extract(epoch FROM nxt) * 1000)::bigint::text, '');
END $$;

-- The todo.reminder.due event of a reminder (proto/events/reminder-event.schema.json).
CREATE FUNCTION todod_reminder_event(r reminders, kind text, fired timestamptz) RETURNS jsonb
    LANGUAGE sql VOLATILE
    RETURN jsonb_build_object(
        'specversion', '1.0', 'id', gen_random_uuid(), 'source', '/todod/notify',
        'type', 'todo.reminder.' || CASE kind WHEN 'reminder_triggered' THEN 'due'
                                             WHEN 'reminder_scheduled' THEN 'scheduled'
                                             ELSE 'sent' END,
        'subject', r.task_id::text, 'time', todod_ts(fired),
        'datacontenttype', 'application/json',
        'data', jsonb_strip_nulls(jsonb_build_object(
            'event_type', kind, 'task_id', r.task_id, 'user_id', r.user_id, 'title', r.title,
            'remind_at', todod_ts(r.remind_at), 'notification_type', r.channel,
            'channel', r.channel, 'timestamp', todod_ts(fired), 'reminder_id', r.id::text,
            'offset_minutes', r.offset_minutes))
            || jsonb_build_object('due_at', todod_ts(r.due_at)));

-- The timer's statement: claims up to lim scheduled rows due at now_ (FOR UPDATE SKIP
-- LOCKED: a row another replica holds is left to it), records those older than the
-- horizon as missed, fires the others (late when more than late_after behind): state
-- sent, the todo.reminder.due event in the outbox, the in_app notification. Returns the
-- number fired and the earliest scheduled instant left (Unix ms, empty when none), 'n|instant'.
CREATE FUNCTION todod_notify_fire(now_ timestamptz, horizon interval, late_after interval,
                                  lim integer) RETURNS text
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    r   reminders;
    ev  jsonb;
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
        ev := todod_reminder_event(r, 'reminder_triggered', now_);
        UPDATE reminders SET state = 'sent', late = r.late, fired_at = now_,
               updated_at = now(), event_id = (ev->>'id')::uuid
         WHERE id = r.id;
        INSERT INTO outbox (event_id, topic, key, event, headers)
        VALUES ((ev->>'id')::uuid, 'reminders', r.user_id, ev, '{}'::jsonb);
        INSERT INTO notifications (user_id, reminder_id, task_id, title, due_at, remind_at, late)
        VALUES (r.user_id, r.id, r.task_id, r.title, r.due_at, r.remind_at, r.late);
        n := n + 1;
    END LOOP;
    SELECT min(remind_at) INTO nxt FROM reminders WHERE state = 'scheduled';
    RETURN n || '|' || coalesce((extract(epoch FROM nxt) * 1000)::bigint::text, '');
END $$;
