/* core/task.c: the task model. Turns client JSON into the normalised document the api role
 * stores, and says precisely what is wrong when it cannot.
 *
 * Validation never stops at the first problem: every field is checked and every error is
 * recorded, so a client fixes a form in one round trip. Text lengths are counted in code
 * points (what PostgreSQL's char_length counts, and what the CHECK constraints enforce).
 * The pieces live in their own modules: text in core/utf8.c, times in core/datetime.c,
 * zones in core/tz.c, recurrence rules in core/rrule.c. */
#include "core/task.h"

#include "core/datetime.h"
#include "core/rrule.h"
#include "core/tz.h"
#include "core/utf8.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TITLE_MAX 500
#define DESCRIPTION_MAX 10000
#define TAGS_MAX 20
#define TAG_MAX 50
#define REMINDERS_MAX 10
#define REMINDER_OFFSET_MAX (365L * 86400)

static const char *const priority_names[] = {"none", "low", "medium", "high", "urgent"};

/* ---------- errors ---------- */

static void err_add(struct td_task_errors *errs, const char *field, const char *fmt, ...)
{
    /* The list has room for 32; a body with more problems than that gets the first 32. */
    int max = (int)(sizeof errs->items / sizeof errs->items[0]);
    if (errs->count >= max)
        return;
    struct td_task_error *e = &errs->items[errs->count++];
    /* Field names echo client keys: a key cut mid-character would make the error
     * document itself invalid UTF-8. */
    td_utf8_copy(e->field, sizeof e->field, field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}

int td_task_errors_json(const struct td_task_errors *errs, char **out)
{
    if (!errs || !out)
        return -EINVAL;
    *out = NULL;
    json_t *arr = json_array();
    for (int i = 0; arr && i < errs->count; i++) {
        json_t *e = json_pack("{s:s, s:s}", "field", errs->items[i].field, "message",
                              errs->items[i].message);
        if (!e || json_array_append_new(arr, e)) {
            json_decref(arr);
            arr = NULL;
        }
    }
    if (!arr)
        return -ENOMEM;
    /* Written into our own malloc'd buffer so the caller frees it with free() whatever
     * allocator jansson was given. */
    static const char prefix[] = "\"errors\":";
    size_t n = json_dumpb(arr, NULL, 0, JSON_COMPACT);
    char *s = n ? malloc(sizeof prefix + n) : NULL;
    if (s) {
        memcpy(s, prefix, sizeof prefix - 1);
        json_dumpb(arr, s + sizeof prefix - 1, n, JSON_COMPACT);
        s[sizeof prefix - 1 + n] = '\0';
    }
    json_decref(arr);
    if (!s)
        return -ENOMEM;
    *out = s;
    return 0;
}

/* ---------- priority ---------- */

const char *td_task_priority_name(int p)
{
    return p >= 0 && p <= 4 ? priority_names[p] : NULL;
}

int td_task_priority_parse(const char *s, int *out)
{
    if (!s || !out)
        return -EINVAL;
    for (int p = 0; p <= 4; p++) {
        if (!strcasecmp(s, priority_names[p])) {
            *out = p;
            return 0;
        }
    }
    /* Todoist-style aliases: p1 is the most urgent. */
    if ((s[0] == 'p' || s[0] == 'P') && s[1] >= '1' && s[1] <= '4' && s[2] == '\0') {
        *out = 5 - (s[1] - '0');
        return 0;
    }
    return -EINVAL;
}

/* ---------- field validators ---------- */

/* The instant of a wall-clock time in zone; wall holds its fields read as UTC (what
 * td_datetime_parse_input gives for a date or a local date-time). */
static int zone_place(const char *zone, long long wall, long long *out)
{
    struct td_datetime_civil local;
    int rc = td_datetime_split(wall, &local);
    return rc ? rc : td_tz_local_to_utc(zone, &local, out);
}

struct ctx {
    enum td_task_mode      mode;    /* without TD_TASK_LENIENT */
    bool                   lenient; /* unknown members are ignored, not refused */
    json_t                *out;
    struct td_task_errors *errs;
    const char            *zone; /* for date-only and local due dates */
    bool                   zone_bad;
    bool                   oom;
};

static void put(struct ctx *c, const char *key, json_t *v)
{
    if (!v || json_object_set_new(c->out, key, v))
        c->oom = true;
}

static json_t *text_json(const char *s, const struct td_utf8_span *t)
{
    return json_stringn(s + t->start, t->end - t->start);
}

/* A string of min..max code points, optionally trimmed. */
static void check_text(struct ctx *c, const char *field, json_t *v, bool trim, size_t min,
                       size_t max)
{
    struct td_utf8_span t;
    if (!json_is_string(v))
        return err_add(c->errs, field, "must be a string");
    const char *s = json_string_value(v);
    if (td_utf8_scan(s, json_string_length(v), trim, &t))
        return err_add(c->errs, field, "must be valid UTF-8 without NUL characters");
    if (t.chars < min || t.chars > max)
        return err_add(c->errs, field, "must be %zu to %zu characters", min, max);
    put(c, field, text_json(s, &t));
}

/* status, or its alias completed (a boolean, from the hackathon contract). */
static void check_status(struct ctx *c, json_t *v, bool alias)
{
    if (alias) {
        if (!json_is_boolean(v))
            return err_add(c->errs, "completed", "must be a boolean");
        return put(c, "status", json_string(json_is_true(v) ? "completed" : "pending"));
    }
    const char *s = json_string_value(v);
    if (!json_is_string(v))
        return err_add(c->errs, "status", "must be a string");
    if (strcmp(s, "pending") && strcmp(s, "completed"))
        return err_add(c->errs, "status", "must be pending or completed");
    put(c, "status", json_string(s));
}

/* status and completed sent together (as GET answers them) and saying the same. */
static bool status_same(struct ctx *c, json_t *status, json_t *completed)
{
    (void)c;
    return json_is_string(status) && json_is_boolean(completed) &&
           json_is_true(completed) == !strcmp(json_string_value(status), "completed");
}

static void check_priority(struct ctx *c, json_t *v)
{
    int p;
    if (json_is_integer(v)) {
        if (json_integer_value(v) < 0 || json_integer_value(v) > 4)
            return err_add(c->errs, "priority", "must be 0 to 4");
        return put(c, "priority", json_integer(json_integer_value(v)));
    }
    if (!json_is_string(v))
        return err_add(c->errs, "priority", "must be a string or an integer");
    if (td_task_priority_parse(json_string_value(v), &p))
        return err_add(c->errs, "priority", "must be none, low, medium, high, urgent or p1 to p4");
    put(c, "priority", json_integer(p));
}

/* One tag: trimmed, lower-cased (ASCII; full Unicode case folding needs ICU), 1..50
 * characters. Returns a new string, or NULL after recording why. */
static json_t *tag_value(struct ctx *c, size_t i, json_t *v)
{
    char field[32];
    struct td_utf8_span t;
    snprintf(field, sizeof field, "tags[%zu]", i);
    if (!json_is_string(v))
        return err_add(c->errs, field, "must be a string"), NULL;
    const char *s = json_string_value(v);
    if (td_utf8_scan(s, json_string_length(v), 1, &t))
        return err_add(c->errs, field, "must be valid UTF-8 without NUL characters"), NULL;
    if (t.chars < 1 || t.chars > TAG_MAX)
        return err_add(c->errs, field, "must be 1 to %d characters", TAG_MAX), NULL;
    /* ',' is ASCII, so it cannot hide inside a multi-byte character. */
    if (t.has_control || memchr(s + t.start, ',', t.end - t.start))
        return err_add(c->errs, field, "must not contain commas or control characters"), NULL;
    char buf[TAG_MAX * 4 + 1];
    size_t n = t.end - t.start;
    for (size_t k = 0; k < n; k++) {
        char ch = s[t.start + k];
        buf[k] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
    }
    json_t *tag = json_stringn(buf, n);
    if (!tag)
        c->oom = true;
    return tag;
}

static bool array_has(json_t *arr, json_t *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
        if (json_equal(v, s))
            return true;
    return false;
}

static void check_tags(struct ctx *c, json_t *v)
{
    if (json_is_null(v))
        return put(c, "tags", json_array());
    if (!json_is_array(v))
        return err_add(c->errs, "tags", "must be an array of strings");
    /* Counted before de-duplication: the limit also bounds the work done here. */
    if (json_array_size(v) > TAGS_MAX)
        return err_add(c->errs, "tags", "must have at most %d tags", TAGS_MAX);
    json_t *tags = json_array();
    int before = c->errs->count;
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item) {
        json_t *tag = tag_value(c, i, item);
        if (tag && tags && !array_has(tags, tag) && json_array_append(tags, tag))
            c->oom = true;
        json_decref(tag);
    }
    if (c->errs->count == before)
        put(c, "tags", tags);
    else
        json_decref(tags);
}

/* A due date as clients send it, as unix seconds in *t: an RFC 3339 date-time (seconds
 * optional), a date alone (all day from midnight in the task's zone: *all_day), or a
 * local date-time without offset (an HTML datetime-local value, read in the task's zone;
 * RFC 5545 3.3.5 settles times a DST change skips or repeats). Returns 0, -EINVAL or
 * -ERANGE from parsing; -EDOM when time_zone is bad (already reported), -EOVERFLOW when
 * the zone moves the time out of range, -ENOENT when it cannot be placed otherwise. */
static int due_value(struct ctx *c, json_t *v, long long *t, bool *all_day)
{
    enum td_datetime_form form;
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
        return -EINVAL;
    int rc = td_datetime_parse_input(json_string_value(v), t, &form);
    if (rc)
        return rc;
    *all_day = form == TD_DATETIME_DATE;
    if (form == TD_DATETIME_INSTANT)
        return 0;
    if (c->zone_bad) /* time_zone already has an error; nothing sane to compute */
        return -EDOM;
    rc = zone_place(c->zone, *t, t);
    return rc == -ERANGE ? -EOVERFLOW : rc ? -ENOENT : 0;
}

/* due_at and due_date sent together (as GET answers them) and meaning the same instant. */
static bool due_same(struct ctx *c, json_t *a, json_t *b)
{
    long long ta, tb;
    bool da, db;
    return json_equal(a, b) || (!due_value(c, a, &ta, &da) && !due_value(c, b, &tb, &db) &&
                                ta == tb && da == db);
}

static void check_due(struct ctx *c, json_t *v, const char *field)
{
    long long t;
    bool all_day = false;
    char buf[32];
    if (json_is_null(v)) {
        put(c, "due_at", json_null());
        return put(c, "all_day", json_false());
    }
    if (!json_is_string(v))
        return err_add(c->errs, field, "must be a string");
    int rc = due_value(c, v, &t, &all_day);
    if (rc == -EDOM)
        return;
    if (rc == -ENOENT)
        return err_add(c->errs, field, "cannot be placed in time_zone");
    if (rc == -EOVERFLOW)
        return err_add(c->errs, field, "is out of range");
    if (rc == -ERANGE)
        return err_add(c->errs, field, "must be between years 0001 and 9999");
    if (rc)
        return err_add(c->errs, field,
                       "must be an RFC 3339 date-time, a local date-time like "
                       "2026-12-20T09:00 or a date");
    td_datetime_format_utc(t, buf, sizeof buf);
    put(c, "due_at", json_string(buf));
    /* A date-time leaves all_day out: the store keeps the flag of an unchanged due date
     * (a PUT of a GET body) and clears it for a new one. */
    if (all_day)
        put(c, "all_day", json_true());
}

static void check_time_zone(struct ctx *c, json_t *v)
{
    if (!json_is_string(v)) {
        c->zone_bad = true;
        return err_add(c->errs, "time_zone", json_is_null(v) ? "cannot be null" : "must be a string");
    }
    const char *z = json_string_value(v);
    if (strlen(z) != json_string_length(v) || !td_tz_valid(z)) {
        c->zone_bad = true;
        return err_add(c->errs, "time_zone", "must be an IANA time zone such as Europe/Paris");
    }
    c->zone = z;
    put(c, "time_zone", json_string(z));
}

/* The plain rules forms name in words (the seeds' recurrence_pattern). Anchored at the
 * due time, or at the creation when there is none. */
static const char *const recurrence_words[][2] = {
    {"daily", "FREQ=DAILY"},
    {"weekly", "FREQ=WEEKLY"},
    {"monthly", "FREQ=MONTHLY"},
    {"yearly", "FREQ=YEARLY"},
};

const char *td_task_recurrence_word(const char *rrule)
{
    for (size_t i = 0; rrule && i < sizeof recurrence_words / sizeof recurrence_words[0]; i++)
        if (!strcasecmp(rrule, recurrence_words[i][1]))
            return recurrence_words[i][0];
    return NULL;
}

/* The stored form of a recurrence: *rule is NULL for none (null, "" or "none"), the RRULE
 * of a word, or the RRULE text without its "RRULE:" prefix (pointing into v). Returns 0,
 * or -EINVAL with the reason in why. */
static int recurrence_value(json_t *v, const char **rule, char *why, size_t n)
{
    *rule = NULL;
    if (json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return snprintf(why, n, "must be a string"), -EINVAL;
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v))
        return snprintf(why, n, "must not contain NUL characters"), -EINVAL;
    if (!*s || !strcasecmp(s, "none"))
        return 0;
    for (size_t i = 0; i < sizeof recurrence_words / sizeof recurrence_words[0]; i++) {
        if (!strcasecmp(s, recurrence_words[i][0])) {
            *rule = recurrence_words[i][1];
            return 0;
        }
    }
    if (td_rrule_validate(s, why, n)) {
        if (!strchr(s, '=')) /* a word, not an attempt at a rule */
            snprintf(why, n, "must be none, daily, weekly, monthly, yearly or an RRULE "
                             "such as FREQ=WEEKLY;BYDAY=MO");
        return -EINVAL;
    }
    *rule = td_rrule_strip_prefix(s);
    return 0;
}

/* What the next occurrence counts from (core/series.h): "schedule" or "completion". */
static void check_anchor(struct ctx *c, json_t *v)
{
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    if (!s || strlen(s) != json_string_length(v) ||
        (strcmp(s, "schedule") != 0 && strcmp(s, "completion") != 0))
        return err_add(c->errs, "recurrence_anchor", "must be \"schedule\" or \"completion\"");
    put(c, "recurrence_anchor", json_string(s));
}

/* recurrence and recurrence_pattern sent together (as GET answers them), same rule. */
static bool recurrence_same(struct ctx *c, json_t *a, json_t *b)
{
    (void)c;
    const char *ra, *rb;
    char why[8];
    if (json_equal(a, b))
        return true;
    if (recurrence_value(a, &ra, why, sizeof why) || recurrence_value(b, &rb, why, sizeof why))
        return false;
    return ra == rb || (ra && rb && !strcmp(ra, rb));
}

static void check_recurrence(struct ctx *c, json_t *v, const char *field)
{
    char why[96];
    const char *rule;
    if (recurrence_value(v, &rule, why, sizeof why))
        return err_add(c->errs, field, "%s", why);
    /* Stored without the "RRULE:" prefix: the recur role feeds it straight to libical. */
    put(c, "recurrence", rule ? json_string(rule) : json_null());
}

/* One reminder object; returns a new normalised object or NULL after recording why. */
static json_t *reminder_value(struct ctx *c, size_t i, json_t *v, bool *has_offset)
{
    char field[32];
    snprintf(field, sizeof field, "reminders[%zu]", i);
    if (!json_is_object(v))
        return err_add(c->errs, field, "must be an object"), NULL;
    json_t *offset = NULL, *at = NULL, *channel = NULL, *m;
    const char *key;
    int before = c->errs->count;
    json_object_foreach(v, key, m) {
        char sub[96]; /* the key is cut to fit the 64-byte error field anyway */
        snprintf(sub, sizeof sub, "%s.%.48s", field, key);
        if (!strcmp(key, "offset"))
            offset = m;
        else if (!strcmp(key, "at"))
            at = m;
        else if (!strcmp(key, "channel"))
            channel = m;
        else
            err_add(c->errs, sub, "unknown field");
    }
    if (!offset == !at)
        err_add(c->errs, field, offset ? "must have offset or at, not both" : "needs offset or at");
    char sub[80], buf[32];
    long secs = 0;
    long long t = 0;
    int date_only = 0;
    snprintf(sub, sizeof sub, "%s.offset", field);
    if (offset && (!json_is_string(offset) ||
                   td_datetime_parse_duration(json_string_value(offset), &secs) ||
                   secs > REMINDER_OFFSET_MAX))
        err_add(c->errs, sub, "must be an ISO 8601 duration of at most 365 days, like PT15M");
    snprintf(sub, sizeof sub, "%s.at", field);
    if (at && (!json_is_string(at) ||
               td_datetime_parse_rfc3339(json_string_value(at), &t, &date_only) || date_only))
        err_add(c->errs, sub, "must be an RFC 3339 date-time");
    const char *ch = channel ? json_string_value(channel) : "in_app";
    snprintf(sub, sizeof sub, "%s.channel", field);
    if (!ch || (strcmp(ch, "in_app") && strcmp(ch, "email") && strcmp(ch, "webhook") &&
                strcmp(ch, "sms") && strcmp(ch, "push")))
        err_add(c->errs, sub, "must be in_app, email, webhook, sms or push");
    if (c->errs->count != before)
        return NULL;
    *has_offset |= offset != NULL;
    if (at)
        td_datetime_format_utc(t, buf, sizeof buf);
    json_t *r = offset ? json_pack("{s:O, s:s}", "offset", offset, "channel", ch)
                       : json_pack("{s:s, s:s}", "at", buf, "channel", ch);
    if (!r)
        c->oom = true;
    return r;
}

/* Returns true when a kept reminder is relative to the due date. */
static bool check_reminders(struct ctx *c, json_t *v)
{
    bool has_offset = false;
    if (json_is_null(v))
        return put(c, "reminders", json_array()), false;
    if (!json_is_array(v))
        return err_add(c->errs, "reminders", "must be an array"), false;
    if (json_array_size(v) > REMINDERS_MAX)
        return err_add(c->errs, "reminders", "must have at most %d reminders", REMINDERS_MAX),
               false;
    json_t *list = json_array();
    int before = c->errs->count;
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item) {
        json_t *r = reminder_value(c, i, item, &has_offset);
        if (r && list && json_array_append_new(list, r))
            c->oom = true;
        else if (r && !list)
            json_decref(r);
    }
    if (c->errs->count == before)
        put(c, "reminders", list);
    else
        json_decref(list);
    return has_offset;
}

/* ---------- members and aliases ---------- */

static const char *const known_fields[] = {
    "title", "description", "status", "completed", "priority", "tags", "due_at",
    "due_date", "time_zone", "recurrence", "recurrence_pattern", "recurrence_anchor",
    "reminders",
};

/* What the server keeps and answers but never takes from a client: ignored on every
 * path, so a task can be sent back as GET answered it. all_day follows the due date's
 * form (a date alone is all day). */
static const char *const read_only_fields[] = {
    "id", "user_id", "created_at", "updated_at", "completed_at", "version", "all_day",
};

static bool listed(const char *key, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(key, list[i]))
            return true;
    return false;
}

#define LISTED(key, list) listed(key, list, sizeof list / sizeof list[0])

static void check_unknown(struct ctx *c, json_t *in)
{
    const char *key;
    json_t *v;
    if (c->lenient)
        return;
    json_object_foreach(in, key, v) {
        if (!LISTED(key, known_fields) && !LISTED(key, read_only_fields))
            err_add(c->errs, key, "unknown field");
    }
}

/* The member under its canonical name or its alias. Both at once is accepted when same
 * says they agree (a GET answer sent back carries both), else an error on the alias.
 * *field says which name the client used, for error messages. */
static json_t *member(struct ctx *c, json_t *in, const char *name, const char *alias,
                      bool (*same)(struct ctx *, json_t *, json_t *), const char **field,
                      bool *conflict)
{
    json_t *v = json_object_get(in, name), *a = alias ? json_object_get(in, alias) : NULL;
    *field = name;
    *conflict = false;
    if (v && a && !same(c, v, a)) {
        err_add(c->errs, alias, "conflicts with %s", name);
        *conflict = true;
        return NULL;
    }
    if (a && !v)
        *field = alias;
    return v ? v : a;
}

/* Fills the defaults a create or replace takes for absent members. */
static void put_defaults(struct ctx *c, json_t *in, const char *user_tz)
{
    if (!json_object_get(in, "description"))
        put(c, "description", json_string(""));
    if (!json_object_get(in, "status") && !json_object_get(in, "completed"))
        put(c, "status", json_string("pending"));
    if (!json_object_get(in, "priority"))
        put(c, "priority", json_integer(0));
    if (!json_object_get(in, "tags"))
        put(c, "tags", json_array());
    if (!json_object_get(in, "due_at") && !json_object_get(in, "due_date")) {
        put(c, "due_at", json_null());
        put(c, "all_day", json_false());
    }
    /* Without user_tz the caller fills the zone in (the row default or the user's). */
    if (!json_object_get(in, "time_zone") && user_tz)
        put(c, "time_zone", json_string(user_tz));
    if (!json_object_get(in, "recurrence") && !json_object_get(in, "recurrence_pattern"))
        put(c, "recurrence", json_null());
    if (!json_object_get(in, "recurrence_anchor"))
        put(c, "recurrence_anchor", json_string("schedule"));
    if (!json_object_get(in, "reminders"))
        put(c, "reminders", json_array());
}

/* Offset reminders hang off due_at. On create/replace due_at must be given; on PATCH the
 * stored row may have one, so only an explicit null here conflicts. (A recurrence needs
 * no due date: without one it counts from the task's creation.) */
static void check_needs_due(struct ctx *c, json_t *due, bool due_conflict, bool offset_reminders)
{
    bool no_due = c->mode == TD_TASK_PATCH ? (due && json_is_null(due))
                                           : (!due_conflict && (!due || json_is_null(due)));
    if (no_due && offset_reminders)
        err_add(c->errs, "reminders", "offset reminders need due_at");
}

static void check_members(struct ctx *c, json_t *in)
{
    const char *f_due, *f_rec, *f_st;
    bool due_conflict, rec_conflict, st_conflict, offsets = false;
    json_t *v;
    if ((v = json_object_get(in, "time_zone")))
        check_time_zone(c, v);
    if ((v = json_object_get(in, "title")))
        check_text(c, "title", v, true, 1, TITLE_MAX);
    else if (c->mode != TD_TASK_PATCH)
        err_add(c->errs, "title", "is required");
    if ((v = json_object_get(in, "description")) && json_is_null(v))
        put(c, "description", json_string(""));
    else if (v)
        check_text(c, "description", v, false, 0, DESCRIPTION_MAX);
    if ((v = member(c, in, "status", "completed", status_same, &f_st, &st_conflict)))
        check_status(c, v, !strcmp(f_st, "completed"));
    if ((v = json_object_get(in, "priority")))
        check_priority(c, v);
    if ((v = json_object_get(in, "tags")))
        check_tags(c, v);
    json_t *due = member(c, in, "due_at", "due_date", due_same, &f_due, &due_conflict);
    if (due)
        check_due(c, due, f_due);
    json_t *recur = member(c, in, "recurrence", "recurrence_pattern", recurrence_same, &f_rec,
                           &rec_conflict);
    if (recur)
        check_recurrence(c, recur, f_rec);
    if ((v = json_object_get(in, "recurrence_anchor")))
        check_anchor(c, v);
    if ((v = json_object_get(in, "reminders")))
        offsets = check_reminders(c, v);
    check_needs_due(c, due, due_conflict, offsets);
}

int td_task_validate(json_t *input, enum td_task_mode mode, const char *user_tz, json_t **out,
                     struct td_task_errors *errs)
{
    if (!out || !errs)
        return -EINVAL;
    *out = NULL;
    errs->count = 0;
    if (!json_is_object(input)) {
        err_add(errs, "body", "must be a JSON object");
        return -EINVAL;
    }
    struct ctx c = {.mode = (enum td_task_mode)(mode & ~TD_TASK_LENIENT),
                    .lenient = (mode & TD_TASK_LENIENT) != 0, .errs = errs, .zone = user_tz};
    if (c.mode != TD_TASK_CREATE && c.mode != TD_TASK_REPLACE && c.mode != TD_TASK_PATCH)
        return -EINVAL;
    c.out = json_object();
    if (!c.out)
        return -ENOMEM;
    if (!c.zone)
        c.zone = "UTC";
    check_unknown(&c, input);
    check_members(&c, input);
    if (c.mode != TD_TASK_PATCH)
        put_defaults(&c, input, user_tz);
    if (c.oom || errs->count) {
        json_decref(c.out);
        return c.oom && !errs->count ? -ENOMEM : -EINVAL;
    }
    *out = c.out;
    return 0;
}

int td_task_is_uuid(const char *s)
{
    static const int dash[] = {8, 13, 18, 23};
    if (strlen(s) != 36)
        return 0;
    for (int i = 0, d = 0; i < 36; i++) {
        if (d < 4 && i == dash[d]) {
            if (s[i] != '-')
                return 0;
            d++;
        } else if (!isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}
