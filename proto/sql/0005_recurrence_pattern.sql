-- recurrence_pattern in the seeds' words: events (and todod_task_json, the shape of the
-- api's answers) name a plain daily/weekly/monthly/yearly rule by its word, as the api's
-- answers do (roles/api/task_json.c, td_task_recurrence_word); any other rule as itself.
-- Answers also carry due_date beside due_at (the seeds' name, same value).

-- "C" keeps upper() to ASCII, as the C side's strcasecmp.
CREATE FUNCTION todod_recurrence_pattern(r text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE upper(r COLLATE "C")
               WHEN 'FREQ=DAILY' THEN 'daily' WHEN 'FREQ=WEEKLY' THEN 'weekly'
               WHEN 'FREQ=MONTHLY' THEN 'monthly' WHEN 'FREQ=YEARLY' THEN 'yearly'
               ELSE r END;

CREATE OR REPLACE FUNCTION todod_task_json(t tasks) RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN jsonb_build_object(
        'id', t.id, 'user_id', t.user_id, 'title', t.title, 'description', t.description,
        'status', t.status, 'completed', t.status = 'completed',
        'priority', todod_priority_name(t.priority), 'tags', to_jsonb(t.tags),
        'due_at', todod_ts(t.due_at), 'due_date', todod_ts(t.due_at),
        'all_day', t.all_day, 'time_zone', t.time_zone,
        'recurrence', t.recurrence, 'recurrence_pattern', todod_recurrence_pattern(t.recurrence),
        'reminders', t.reminders,
        'created_at', todod_ts(t.created_at), 'updated_at', todod_ts(t.updated_at),
        'completed_at', todod_ts(t.completed_at), 'version', t.version);

-- As in 0002, but for recurrence_pattern.
CREATE OR REPLACE FUNCTION todod_task_event(t tasks, kind text, traceparent text) RETURNS jsonb
    LANGUAGE sql VOLATILE
    RETURN jsonb_build_object(
        'specversion', '1.0', 'id', gen_random_uuid(), 'source', '/todod/api',
        'type', 'todo.task.' || kind, 'subject', t.id::text, 'time', todod_ts(clock_timestamp()),
        'datacontenttype', 'application/json', 'traceparent', traceparent,
        'data', jsonb_build_object(
            'event_type', kind, 'task_id', t.id, 'user_id', t.user_id,
            'timestamp', todod_ts(clock_timestamp()),
            'task_data', jsonb_build_object(
                'id', t.id, 'title', t.title, 'description', t.description,
                'status', t.status, 'priority', todod_priority_name(t.priority),
                'due_date', todod_ts(t.due_at), 'created_at', todod_ts(t.created_at),
                'completed_at', todod_ts(t.completed_at), 'tags', to_jsonb(t.tags),
                'user_id', t.user_id,
                'recurrence_pattern', todod_recurrence_pattern(t.recurrence),
                'reminders', t.reminders, 'time_zone', t.time_zone, 'version', t.version)));
