-- Answers (and the task-updates events built from todod_task_json) carry the series
-- anchor beside the rule: recurrence_anchor, "schedule" or "completion" (0007's column),
-- so a task sent back as GET answered it keeps its anchor. As in 0005 otherwise; the api
-- writes the same JSON from result columns (roles/api/task_json.c).
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
        'reminders', t.reminders,
        'created_at', todod_ts(t.created_at), 'updated_at', todod_ts(t.updated_at),
        'completed_at', todod_ts(t.completed_at), 'version', t.version);
