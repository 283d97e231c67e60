-- Recurring series (the recur role, roles/recur/): each completed occurrence of a
-- recurring task is followed by the next one, exactly once.
--
-- A series is named by its first task's id. The first task keeps series_id NULL and
-- occurrence_index 0 until something (the recur consumer, a skip) needs more; every later
-- occurrence carries series_id, its index (1, 2, ...) and series_start, the series'
-- DTSTART (the first task's due time, or its creation time when it had none). The UNIQUE
-- constraint makes a second insert of the same occurrence (a redelivered or repeated
-- completion, a racing replica) a no-op.
ALTER TABLE tasks
    ADD COLUMN series_id         uuid,
    ADD COLUMN occurrence_index  integer NOT NULL DEFAULT 0 CHECK (occurrence_index >= 0),
    ADD COLUMN series_start      timestamptz,
    ADD COLUMN recurrence_anchor text NOT NULL DEFAULT 'schedule'
        CHECK (recurrence_anchor IN ('schedule', 'completion')),
    ADD CONSTRAINT tasks_series_occurrence UNIQUE (series_id, occurrence_index);

-- A series ended by DELETE /api/tasks/{id}?series=true: no occurrence follows it, even
-- from a completion event still on its way.
CREATE TABLE recurrence_series_ended (
    series_id  uuid        PRIMARY KEY,
    user_id    text        NOT NULL,
    ended_at   timestamptz NOT NULL DEFAULT now()
);

-- What events carry about the series, so the consumer computes the next due time from
-- the event alone: the stored rule (recurrence_pattern may be a word), all_day, and
-- series {id, index, start, anchor} with id and start already defaulted for a first task.
CREATE FUNCTION todod_task_series_json(t tasks) RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN jsonb_build_object(
        'recurrence', t.recurrence, 'all_day', t.all_day,
        'series', jsonb_build_object(
            'id', coalesce(t.series_id, t.id), 'index', t.occurrence_index,
            'start', todod_ts(coalesce(t.series_start, t.due_at, t.created_at)),
            'anchor', t.recurrence_anchor));

-- As in 0003, with the series members added to data.task_data. The three-argument form
-- (0002, 0005, and any later migration's) still builds the rest of the event.
CREATE OR REPLACE FUNCTION todod_task_event(t tasks, kind text, traceparent text, request_id text)
    RETURNS jsonb LANGUAGE sql VOLATILE
    RETURN (SELECT jsonb_set(ev || CASE WHEN request_id IS NULL THEN '{}'::jsonb
                                        ELSE jsonb_build_object('requestid', request_id) END,
                             '{data,task_data}',
                             coalesce(ev->'data'->'task_data', '{}'::jsonb)
                                 || todod_task_series_json(t))
            FROM (SELECT todod_task_event(t, kind, traceparent) AS ev) built);

-- The recur consumer's one statement per completed event: claims the inbox row and, when
-- next_due is not NULL (the series goes on), the series is not ended and that occurrence
-- does not exist yet, inserts it with its 'created' event. td is the completed event's
-- task_data (what the occurrence carries over). Returns 'duplicate' (the group had the
-- event), 'exhausted' (next_due NULL), 'ended', 'exists', or the new task's id.
CREATE FUNCTION todod_recur_next(grp text, event_id uuid, td jsonb, next_due timestamptz,
                                 traceparent text, request_id text) RETURNS text
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    sid uuid;
    idx integer;
    t   tasks;
BEGIN
    IF jsonb_typeof(td) IS DISTINCT FROM 'object' OR td->>'user_id' IS NULL
       OR td->'series'->>'id' IS NULL THEN
        RAISE EXCEPTION 'not a recurring task: task_data needs user_id and series'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    sid := (td->'series'->>'id')::uuid;
    idx := coalesce((td->'series'->>'index')::integer, 0) + 1;
    IF NOT todod_inbox_claim(grp, event_id) THEN
        RETURN 'duplicate';
    END IF;
    IF next_due IS NULL THEN
        RETURN 'exhausted';
    END IF;
    IF EXISTS (SELECT 1 FROM recurrence_series_ended e WHERE e.series_id = sid) THEN
        RETURN 'ended';
    END IF;
    INSERT INTO tasks (id, user_id, title, description, priority, tags, due_at, all_day,
                       time_zone, recurrence, reminders, series_id, occurrence_index,
                       series_start, recurrence_anchor)
    VALUES (gen_random_uuid(), td->>'user_id', td->>'title', coalesce(td->>'description', ''),
            coalesce(array_position(ARRAY['none', 'low', 'medium', 'high', 'urgent'],
                                    td->>'priority')::smallint - 1, 0),
            ARRAY(SELECT jsonb_array_elements_text(coalesce(td->'tags', '[]'))),
            next_due, coalesce((td->>'all_day')::boolean, false),
            coalesce(td->>'time_zone', 'UTC'), td->>'recurrence',
            coalesce(td->'reminders', '[]'), sid, idx,
            (td->'series'->>'start')::timestamptz,
            coalesce(td->'series'->>'anchor', 'schedule'))
    ON CONFLICT ON CONSTRAINT tasks_series_occurrence DO NOTHING
    RETURNING * INTO t;
    IF NOT FOUND THEN
        RETURN 'exists';
    END IF;
    PERFORM todod_emit(t, 'created', traceparent, request_id);
    RETURN t.id::text;
END $$;
