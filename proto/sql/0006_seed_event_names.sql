-- data.event_type in the seeds' words: task_created, task_updated, task_completed,
-- task_deleted (0002..0005 wrote the bare created|updated|completed|deleted), so that a
-- consumer written against the seeds' schemas reads our events unchanged. The CloudEvents
-- type stays todo.task.<kind>; the audit log stores that type, not event_type, so its
-- records and their hashes do not change.

-- As in 0005, but for event_type.
CREATE OR REPLACE FUNCTION todod_task_event(t tasks, kind text, traceparent text) RETURNS jsonb
    LANGUAGE sql VOLATILE
    RETURN jsonb_build_object(
        'specversion', '1.0', 'id', gen_random_uuid(), 'source', '/todod/api',
        'type', 'todo.task.' || kind, 'subject', t.id::text, 'time', todod_ts(clock_timestamp()),
        'datacontenttype', 'application/json', 'traceparent', traceparent,
        'data', jsonb_build_object(
            'event_type', 'task_' || kind, 'task_id', t.id, 'user_id', t.user_id,
            'timestamp', todod_ts(clock_timestamp()),
            'task_data', jsonb_build_object(
                'id', t.id, 'title', t.title, 'description', t.description,
                'status', t.status, 'priority', todod_priority_name(t.priority),
                'due_date', todod_ts(t.due_at), 'created_at', todod_ts(t.created_at),
                'completed_at', todod_ts(t.completed_at), 'tags', to_jsonb(t.tags),
                'user_id', t.user_id,
                'recurrence_pattern', todod_recurrence_pattern(t.recurrence),
                'reminders', t.reminders, 'time_zone', t.time_zone, 'version', t.version)));
