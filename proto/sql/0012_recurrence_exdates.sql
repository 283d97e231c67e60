-- Dates taken out of a recurring series (RFC 5545 EXDATE): tasks.recurrence_exdates holds
-- local dates ('2027-01-15': every instance that day) and local date-times
-- ('2027-01-15T09:00:00': that instance) in the task's time_zone, as core/task.c checked
-- and wrote them (at most 100). The recur role, skip and the occurrences preview pass
-- over them (core/series.c); an excluded instance still uses up COUNT. Each next
-- occurrence carries them over.
ALTER TABLE tasks ADD COLUMN recurrence_exdates text[] NOT NULL DEFAULT '{}';

-- As in 0009, with recurrence_exdates beside the rule (roles/api/task_json.c writes the
-- same JSON from result columns).
CREATE OR REPLACE FUNCTION todod_task_json(t tasks) RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN jsonb_build_object(
        'id', t.id, 'user_id', t.user_id, 'title', t.title, 'description', t.description,
        'status', t.status, 'completed', t.status = 'completed',
        'priority', todod_priority_name(t.priority), 'tags', to_jsonb(t.tags),
        'due_at', todod_ts(t.due_at), 'due_date', todod_ts(t.due_at),
        'all_day', t.all_day, 'time_zone', t.time_zone,
        'recurrence', t.recurrence, 'recurrence_pattern', todod_recurrence_pattern(t.recurrence),
        'recurrence_anchor', t.recurrence_anchor,
        'recurrence_exdates', to_jsonb(t.recurrence_exdates),
        'reminders', t.reminders,
        'created_at', todod_ts(t.created_at), 'updated_at', todod_ts(t.updated_at),
        'completed_at', todod_ts(t.completed_at), 'version', t.version);

-- As in 0007, with recurrence_exdates: task events carry them in data.task_data, so the
-- recur consumer computes the next due time from the event alone.
CREATE OR REPLACE FUNCTION todod_task_series_json(t tasks) RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN jsonb_build_object(
        'recurrence', t.recurrence, 'all_day', t.all_day,
        'recurrence_exdates', to_jsonb(t.recurrence_exdates),
        'series', jsonb_build_object(
            'id', coalesce(t.series_id, t.id), 'index', t.occurrence_index,
            'start', todod_ts(coalesce(t.series_start, t.due_at, t.created_at)),
            'anchor', t.recurrence_anchor));

-- As in 0007, the next occurrence also carrying the excluded dates over.
CREATE OR REPLACE FUNCTION todod_recur_next(grp text, event_id uuid, td jsonb, next_due timestamptz,
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
                       series_start, recurrence_anchor, recurrence_exdates)
    VALUES (gen_random_uuid(), td->>'user_id', td->>'title', coalesce(td->>'description', ''),
            coalesce(array_position(ARRAY['none', 'low', 'medium', 'high', 'urgent'],
                                    td->>'priority')::smallint - 1, 0),
            ARRAY(SELECT jsonb_array_elements_text(coalesce(td->'tags', '[]'))),
            next_due, coalesce((td->>'all_day')::boolean, false),
            coalesce(td->>'time_zone', 'UTC'), td->>'recurrence',
            coalesce(td->'reminders', '[]'), sid, idx,
            (td->'series'->>'start')::timestamptz,
            coalesce(td->'series'->>'anchor', 'schedule'),
            ARRAY(SELECT jsonb_array_elements_text(
                CASE WHEN jsonb_typeof(td->'recurrence_exdates') = 'array'
                     THEN td->'recurrence_exdates' ELSE '[]' END)))
    ON CONFLICT ON CONSTRAINT tasks_series_occurrence DO NOTHING
    RETURNING * INTO t;
    IF NOT FOUND THEN
        RETURN 'exists';
    END IF;
    PERFORM todod_emit(t, 'created', traceparent, request_id);
    RETURN t.id::text;
END $$;
