/* GET /api/tasks: filters, full-text search, sorting and keyset (cursor) pagination;
 * GET /api/tags. One prepared statement per sort and direction, every filter a
 * parameter (NULL = not filtering), the cursor a row comparison the index can use. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/datetime.h"
#include "core/jsonw.h"
#include "core/task.h"
#include "roles/api/api.h"
#include "roles/api/task_json.h"

#define LIST_DEFAULT_LIMIT 50
#define LIST_MAX_LIMIT     200
#define VALUE_MAX          256   /* one filter value; tags are at most 50 characters */

struct sort_key {
    const char *name;
    const char *expr;     /* SQL over t, as the index has it */
    const char *type;     /* SQL type of the cursor value */
    const char *lowest;   /* first-page bound for ascending order */
    const char *highest;  /* first-page bound for descending order */
    int         desc_by_default;
};

static const struct sort_key sorts[] = {
    {"created_at", "t.created_at", "timestamptz", "-infinity", "infinity", 1},
    {"updated_at", "t.updated_at", "timestamptz", "-infinity", "infinity", 1},
    {"due_at", "coalesce(t.due_at, 'infinity')", "timestamptz", "-infinity", "infinity", 0},
    {"priority", "t.priority", "smallint", "-1", "32767", 1},
    {"title", "(lower(t.title) COLLATE \"C\")", "text", "", "\xf4\x8f\xbf\xbf", 0},
    {"relevance", NULL, "real", "-Infinity", "Infinity", 1},   /* see sort_expr */
};
#define NSORTS (sizeof sorts / sizeof sorts[0])

/* Other names front-ends written for the hackathon brief send; cursors carry the
 * canonical name, so a cursor works with either spelling. */
static const struct { const char *alias, *name; } sort_aliases[] = {
    {"due_date", "due_at"},
    {"alphabetical", "title"},
};

/* Filters in parameter order; %d is the filter's parameter number. Only the filters a
 * request uses go into its statement, so each combination gets a plan of its own (one
 * statement with every filter optional got a generic plan that sorted all rows). */
enum { F_STATUS, F_PRIORITY, F_TAG_ALL, F_TAG_ANY, F_DUE_BEFORE, F_DUE_AFTER, F_OVERDUE,
       F_HAS_DUE, F_SEARCH, F_COUNT };
static const struct { const char *sql; int has_param; } filters[F_COUNT] = {
    {"t.status = ANY($%d::text[])", 1},
    {"t.priority = ANY($%d::smallint[])", 1},
    {"t.tags @> $%d::text[]", 1},
    {"t.tags && $%d::text[]", 1},
    {"t.due_at < $%d::timestamptz", 1},
    {"t.due_at >= $%d::timestamptz", 1},
    {"t.due_at < now() AND t.status = 'pending'", 0},
    {"(t.due_at IS NOT NULL) = $%d::boolean", 1},
    {"t.search @@ to_tsquery('simple', $%d)", 1},
};

static void statement_name(char *out, size_t len, size_t sort, int desc, unsigned mask)
{
    snprintf(out, len, "tl_%s_%s_%x", sorts[sort].name, desc ? "desc" : "asc", mask);
}

/* Writes the sort expression; relevance refers to the search parameter. */
static void sort_expr(struct td_buf *sql, size_t sort, int search_param)
{
    if (strcmp(sorts[sort].name, "relevance") == 0)
        td_buf_printf(sql, "ts_rank(t.search, to_tsquery('simple', $%d))", search_param);
    else
        td_buf_puts(sql, sorts[sort].expr);
}

/* Registers the statement for (sort, desc, mask) the first time it is needed. */
static int ensure_statement(struct api *api, size_t sort, int desc, unsigned mask, char *name,
                            size_t namelen)
{
    statement_name(name, namelen, sort, desc, mask);
    unsigned char *done = &api->list_prepared[(sort * 2 + (unsigned)desc) * (1u << F_COUNT) + mask];
    if (*done)
        return 0;
    struct td_buf sql = {0}, key = {0};
    int n = 2, search_param = 0;
    for (int f = 0; f < F_COUNT; f++)
        if ((mask & (1u << f)) && filters[f].has_param) {
            if (f == F_SEARCH)
                search_param = n;
            n++;
        }
    sort_expr(&key, sort, search_param);
    td_buf_printf(&sql, "SELECT " TASK_COLS("t") ", (%s)::text, t.id::text FROM tasks t "
                  "WHERE t.user_id = $1", key.data);
    n = 2;
    for (int f = 0; f < F_COUNT; f++) {
        if (!(mask & (1u << f)))
            continue;
        td_buf_puts(&sql, " AND ");
        td_buf_printf(&sql, filters[f].sql, n);
        n += filters[f].has_param;
    }
    td_buf_printf(&sql, " AND (%s, t.id) %s ($%d::%s, $%d::uuid) ORDER BY %s %s, t.id %s LIMIT $%d",
                  key.data, desc ? "<" : ">", n, sorts[sort].type, n + 1, key.data,
                  desc ? "DESC" : "ASC", desc ? "DESC" : "ASC", n + 2);
    int rc = td_db_prepare(api->svc->db, name, sql.data, n + 2);
    td_buf_free(&sql);
    td_buf_free(&key);
    if (!rc)
        *done = 1;
    return rc;
}

int api_prepare_list(struct api *api)
{
    api->list_prepared = calloc(NSORTS * 2 * (1u << F_COUNT), 1);
    if (!api->list_prepared)
        return -ENOMEM;
    char name[64];
    /* The unfiltered first pages are the common case: ready before the first request. */
    for (size_t i = 0; i + 1 < NSORTS; i++)
        for (int desc = 0; desc < 2; desc++) {
            int rc = ensure_statement(api, i, desc, 0, name, sizeof name);
            if (rc)
                return rc;
        }
    return 0;
}

const struct td_stmt_def api_list_stmts[] = {
    {"task_tags",
     "SELECT coalesce(json_agg(json_build_object('tag', tag, 'count', n) "
     "ORDER BY n DESC, tag), '[]')::text FROM (SELECT tag, count(*) AS n "
     "FROM tasks, unnest(tags) AS tag WHERE user_id = $1 GROUP BY tag) x", 1},
    {0},
};

/* ---------- cursors: base64url("v1\x1f" sort "\x1f" dir "\x1f" key "\x1f" id) ---------- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void b64url_encode(const char *in, size_t n, struct td_buf *out)
{
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)in[i] << 16;
        if (i + 1 < n) v |= (unsigned char)in[i + 1] << 8;
        if (i + 2 < n) v |= (unsigned char)in[i + 2];
        char q[4] = {b64[v >> 18], b64[(v >> 12) & 63], b64[(v >> 6) & 63], b64[v & 63]};
        td_buf_append(out, q, i + 2 < n ? 4 : i + 1 < n ? 3 : 2);
    }
}

static int b64url_decode(const char *in, struct td_buf *out)
{
    unsigned v = 0;
    int bits = 0;
    for (; *in; in++) {
        const char *p = strchr(b64, *in);
        if (!p || !*in)
            return -EINVAL;
        v = (v << 6) | (unsigned)(p - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            char c = (char)((v >> bits) & 0xff);
            td_buf_append(out, &c, 1);
        }
    }
    return 0;
}

struct list_query {
    size_t sort;
    int    desc;
    int    limit;
    int    legacy;              /* /api/{user_id}/tasks: a bare array */
    char  *filter[F_COUNT];     /* owned values; non-NULL = filter in use */
    char  *cursor_key, *cursor_id;
    int    from_cursor;         /* cursor_key came from the client's cursor */
    char   limit_text[16];
};

static void free_query(void *p)
{
    struct list_query *q = p;
    if (!q)
        return;
    for (int i = 0; i < F_COUNT; i++)
        free(q->filter[i]);
    free(q->cursor_key);
    free(q->cursor_id);
    free(q);
}

/* Collects every value of a (possibly repeated, comma-separated) query parameter. */
static int collect(struct td_http_req *req, const char *name, char out[][VALUE_MAX], int max)
{
    int n = 0;
    const char *v;
    for (int i = 0; (v = td_http_query_param(req, name, i)) != NULL; i++) {
        const char *p = v;
        while (*p) {
            size_t len = strcspn(p, ",");
            if (len >= VALUE_MAX || (len && n == max))
                return -E2BIG;   /* never cut a value: a cut tag would match nothing */
            if (len) {
                snprintf(out[n], VALUE_MAX, "%.*s", (int)len, p);
                n++;
            }
            p += len + (p[len] == ',');
        }
    }
    return n;
}

/* A PostgreSQL array literal of quoted elements. */
static char *array_literal(char vals[][VALUE_MAX], int n)
{
    struct td_buf b = {0};
    td_buf_puts(&b, "{");
    for (int i = 0; i < n; i++) {
        td_buf_puts(&b, i ? ",\"" : "\"");
        for (const char *p = vals[i]; *p; p++) {
            if (*p == '"' || *p == '\\')
                td_buf_append(&b, "\\", 1);
            td_buf_append(&b, p, 1);
        }
        td_buf_puts(&b, "\"");
    }
    td_buf_puts(&b, "}");
    return td_buf_steal(&b, NULL);
}

/* "buy mil" → "buy:* & mil:*": only letters, digits and UTF-8 bytes survive, so the
 * text cannot carry tsquery operators. */
static char *prefix_tsquery(const char *q)
{
    struct td_buf b = {0};
    const char *p = q;
    while (*p) {
        while (*p && !(isalnum((unsigned char)*p) || (unsigned char)*p >= 0x80))
            p++;
        const char *start = p;
        while (*p && (isalnum((unsigned char)*p) || (unsigned char)*p >= 0x80))
            p++;
        if (p > start) {
            if (b.len)
                td_buf_puts(&b, " & ");
            td_buf_append(&b, start, (size_t)(p - start));
            td_buf_puts(&b, ":*");
        }
    }
    return b.len ? td_buf_steal(&b, NULL) : (td_buf_free(&b), NULL);
}

static int bad(struct td_http_req *req, const char *param, const char *detail)
{
    char extra[256];
    snprintf(extra, sizeof extra, "\"errors\":[{\"field\":\"%s\",\"message\":\"%s\"}]", param, detail);
    td_http_problem(req, 400, "bad-query-parameter", "Bad Request", detail, extra);
    return -EINVAL;
}

static int parse_bool(const char *v, int *out)
{
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
        *out = 1;
    else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
        *out = 0;
    else
        return -EINVAL;
    return 0;
}

static int parse_filters(struct td_http_req *req, struct list_query *q)
{
    char vals[20][VALUE_MAX];
    int n = collect(req, "status", vals, 2);
    if (n < 0)
        return bad(req, "status", "status takes pending, completed or all");
    int all = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(vals[i], "all") == 0)
            all = 1;
        else if (strcmp(vals[i], "pending") != 0 && strcmp(vals[i], "completed") != 0)
            return bad(req, "status", "status takes pending, completed or all");
    }
    if (n && !all)
        q->filter[F_STATUS] = array_literal(vals, n);
    if ((n = collect(req, "priority", vals, 5)) < 0)
        return bad(req, "priority", "at most five priorities");
    if (n) {
        char nums[5][VALUE_MAX];
        for (int i = 0; i < n; i++) {
            int p;
            if (td_task_priority_parse(vals[i], &p))
                return bad(req, "priority", "priority takes none, low, medium, high, urgent or p1-p4");
            snprintf(nums[i], VALUE_MAX, "%d", p);
        }
        q->filter[F_PRIORITY] = array_literal(nums, n);
    }
    static const char *const tag_params[] = {"tag", "any_tag"};
    for (int k = 0; k < 2; k++) {
        if ((n = collect(req, tag_params[k], vals, 20)) < 0)
            return bad(req, tag_params[k], "at most 20 tags of at most 50 characters");
        for (int i = 0; i < n; i++)
            for (char *c = vals[i]; *c; c++)
                *c = (char)tolower((unsigned char)*c);
        if (n)
            q->filter[F_TAG_ALL + k] = array_literal(vals, n);
    }
    static const char *const time_params[] = {"due_before", "due_after"};
    for (int k = 0; k < 2; k++) {
        const char *v = td_http_query_param(req, time_params[k], 0);
        long long t;
        int date_only;
        if (!v)
            continue;
        if (td_datetime_parse_rfc3339(v, &t, &date_only))
            return bad(req, time_params[k], "expected an RFC 3339 date-time");
        /* Normalised to UTC text so the session's TimeZone never shifts a bound. */
        char iso[32];
        time_t tt = (time_t)t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
        q->filter[F_DUE_BEFORE + k] = strdup(iso);
    }
    int b = 0;
    const char *v = td_http_query_param(req, "overdue", 0);
    if (v && parse_bool(v, &b))
        return bad(req, "overdue", "overdue takes true or false");
    if (b)
        q->filter[F_OVERDUE] = strdup("true");
    if ((v = td_http_query_param(req, "has_due", 0))) {
        if (parse_bool(v, &b))
            return bad(req, "has_due", "has_due takes true or false");
        q->filter[F_HAS_DUE] = strdup(b ? "true" : "false");
    }
    /* search is the hackathon front-ends' name for q. Both at once must agree: a client
     * that fills both from one search box works, two different texts are a bug to
     * report rather than a guess about which one was meant. An empty one (a cleared
     * search box) searches nothing and so never disagrees. */
    const char *search = td_http_query_param(req, "search", 0);
    v = td_http_query_param(req, "q", 0);
    if (v && *v && search && *search && strcmp(v, search) != 0)
        return bad(req, "search", "q and search are one parameter: send one, or the same text in both");
    if (!v || (!*v && search))
        v = search;
    if (v && strlen(v) > 200)
        return bad(req, v == search ? "search" : "q", "search text is limited to 200 bytes");
    if (v)
        q->filter[F_SEARCH] = prefix_tsquery(v);
    return 0;
}

static int parse_order(struct td_http_req *req, struct list_query *q)
{
    const char *sort = td_http_query_param(req, "sort", 0);
    if (!sort)
        sort = q->filter[F_SEARCH] ? "relevance" : "created_at";
    for (size_t i = 0; i < sizeof sort_aliases / sizeof sort_aliases[0]; i++)
        if (strcmp(sort, sort_aliases[i].alias) == 0)
            sort = sort_aliases[i].name;
    for (q->sort = 0; q->sort < NSORTS && strcmp(sorts[q->sort].name, sort) != 0; q->sort++)
        ;
    if (q->sort == NSORTS)
        return bad(req, "sort", "sort takes created_at, updated_at, due_at (due_date), priority, "
                                "title (alphabetical) or relevance");
    if (strcmp(sort, "relevance") == 0 && !q->filter[F_SEARCH])
        return bad(req, "sort", "sort=relevance needs a search text in q or search");
    const char *order = td_http_query_param(req, "order", 0);
    if (order && strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0)
        return bad(req, "order", "order takes asc or desc");
    q->desc = order ? strcmp(order, "desc") == 0 : sorts[q->sort].desc_by_default;
    const char *limit = td_http_query_param(req, "limit", 0);
    q->limit = LIST_DEFAULT_LIMIT;
    if (limit) {
        char *end;
        long n = strtol(limit, &end, 10);
        if (*end || n < 1 || n > LIST_MAX_LIMIT)
            return bad(req, "limit", "limit takes 1 to 200");
        q->limit = (int)n;
    }
    snprintf(q->limit_text, sizeof q->limit_text, "%d", q->limit + 1);
    return 0;
}

/* The bounds before the first row of the order. */
static int first_page(struct list_query *q)
{
    const struct sort_key *s = &sorts[q->sort];
    q->cursor_key = strdup(q->desc ? s->highest : s->lowest);
    q->cursor_id = strdup(q->desc ? "ffffffff-ffff-ffff-ffff-ffffffffffff"
                                   : "00000000-0000-0000-0000-000000000000");
    return q->cursor_key && q->cursor_id ? 0 : -ENOMEM;
}

static int parse_cursor(struct td_http_req *req, struct list_query *q)
{
    const char *cursor = td_http_query_param(req, "cursor", 0);
    if (!cursor || !*cursor)
        return first_page(q);
    const struct sort_key *s = &sorts[q->sort];
    struct td_buf raw = {0};
    char *f[5] = {0};
    int ok = strlen(cursor) < 1024 && b64url_decode(cursor, &raw) == 0 && raw.data;
    if (ok) {
        /* sort, dir and version from the left, the id from the right: the key between
         * them is a title and may hold any character, the separator included. */
        char *p = raw.data;
        for (int i = 0; i < 3 && ok; i++) {
            f[i] = p;
            p = strchr(p, '\x1f');
            if (p)
                *p++ = '\0';
            else
                ok = 0;
        }
        char *last = ok ? strrchr(p, '\x1f') : NULL;
        if (last) {
            *last = '\0';
            f[3] = p;
            f[4] = last + 1;
        } else {
            ok = 0;
        }
    }
    ok = ok && strcmp(f[0], "v1") == 0 && td_task_is_uuid(f[4]);
    if (ok && (strcmp(f[1], s->name) != 0 || strcmp(f[2], q->desc ? "desc" : "asc") != 0)) {
        td_buf_free(&raw);
        return bad(req, "cursor", "the cursor belongs to another sort order; keep sort and order");
    }
    if (ok) {
        q->cursor_key = strdup(f[3]);
        q->cursor_id = strdup(f[4]);
        q->from_cursor = 1;
    }
    td_buf_free(&raw);
    return ok ? 0 : bad(req, "cursor", "the cursor is not one this server issued");
}

static void on_listed(int status, struct td_db_res *res, void *arg)
{
    struct api_call *call = arg;
    struct list_query *q = call->extra;
    if (status) {
        /* The cursor's key is the one value PostgreSQL parses (a time, a number): a
         * forged one fails there with a data exception. */
        const char *state = status == -EIO && res ? td_db_res_sqlstate(res) : "";
        if (q->from_cursor && call->req && strncmp(state, "22", 2) == 0)
            bad(call->req, "cursor", "the cursor is not one this server issued");
        else
            api_db_error(call, status, res);
        api_end(call);
        return;
    }
    int rows = td_db_res_rows(res), shown = rows > q->limit ? q->limit : rows;
    struct td_buf body = {0}, cursor = {0};
    if (rows > q->limit) {
        struct td_buf raw = {0};
        td_buf_printf(&raw, "v1\x1f%s\x1f%s\x1f%s\x1f%s", sorts[q->sort].name,
                      q->desc ? "desc" : "asc", td_db_res_value(res, shown - 1, TASK_NCOLS),
                      td_db_res_value(res, shown - 1, TASK_NCOLS + 1));
        b64url_encode(raw.data, raw.len, &cursor);
        td_buf_free(&raw);
    }
    td_buf_puts(&body, q->legacy ? "[" : "{\"items\":[");
    for (int i = 0; i < shown; i++) {
        if (i)
            td_buf_append(&body, ",", 1);
        api_task_json(&body, res, i, 0);
    }
    td_buf_puts(&body, "]");
    if (!q->legacy) {
        td_buf_puts(&body, ",\"next_cursor\":");
        if (cursor.len)
            td_jsonw_str(&body, cursor.data, cursor.len);
        else
            td_buf_puts(&body, "null");
        td_buf_puts(&body, "}");
    } else if (cursor.len) {
        api_header(call, "X-Next-Cursor", cursor.data);
    }
    td_buf_free(&cursor);
    api_respond(call, 200, &body);
    api_end(call);
}

static void list_run(struct api_call *call, struct list_query *q);

static void handle_list(struct td_http_req *req, void *arg)
{
    struct api_call *call = api_begin(arg, req);
    if (!call)
        return;
    struct list_query *q = calloc(1, sizeof *q);
    call->extra = q;
    call->free_extra = free_query;
    if (!q || parse_filters(req, q) || parse_order(req, q) || parse_cursor(req, q)) {
        if (!q)
            td_http_problem(req, 503, "overloaded", "Service Unavailable", "out of memory", NULL);
        api_end(call);
        return;
    }
    q->legacy = td_http_param(req, "user_id") != NULL;
    list_run(call, q);
}

/* Runs q for the call (q is call->extra). */
static void list_run(struct api_call *call, struct list_query *q)
{
    const char *params[F_COUNT + 4] = {call->user_id};
    int n = 1;
    unsigned mask = 0;
    for (int f = 0; f < F_COUNT; f++)
        if (q->filter[f]) {
            mask |= 1u << f;
            if (filters[f].has_param)
                params[n++] = q->filter[f];
        }
    params[n++] = q->cursor_key;
    params[n++] = q->cursor_id;
    params[n++] = q->limit_text;
    char name[64];
    int rc = ensure_statement(call->api, q->sort, q->desc, mask, name, sizeof name);
    if (!rc)
        rc = td_db_exec(call->api->svc->db, name, n, params, on_listed, call);
    if (rc) {
        api_db_error(call, rc, NULL);
        api_end(call);
    }
}

static int tool_filters(struct list_query *q, const struct api_list_args *a)
{
    char vals[20][VALUE_MAX];
    if (a->status && strcmp(a->status, "all") != 0) {
        if (strcmp(a->status, "pending") != 0 && strcmp(a->status, "completed") != 0)
            return -EINVAL;
        snprintf(vals[0], VALUE_MAX, "%s", a->status);
        q->filter[F_STATUS] = array_literal(vals, 1);
    }
    if (a->priority) {
        int p;
        if (td_task_priority_parse(a->priority, &p))
            return -EINVAL;
        snprintf(vals[0], VALUE_MAX, "%d", p);
        q->filter[F_PRIORITY] = array_literal(vals, 1);
    }
    if (a->ntags > 20)
        return -EINVAL;
    for (int i = 0; i < a->ntags; i++) {
        if (strlen(a->tags[i]) >= VALUE_MAX)
            return -EINVAL;
        snprintf(vals[i], VALUE_MAX, "%s", a->tags[i]);
        for (char *c = vals[i]; *c; c++)
            *c = (char)tolower((unsigned char)*c);
    }
    if (a->ntags)
        q->filter[F_TAG_ALL] = array_literal(vals, a->ntags);
    if (a->search && strlen(a->search) > 200)
        return -EINVAL;
    if (a->search)
        q->filter[F_SEARCH] = prefix_tsquery(a->search);
    if (a->limit < 0 || a->limit > LIST_MAX_LIMIT)
        return -EINVAL;
    return 0;
}

void api_op_list(struct api_call *call, const struct api_list_args *a)
{
    struct list_query *q = calloc(1, sizeof *q);
    call->extra = q;
    call->free_extra = free_query;
    if (!q) {
        api_problem(call, 503, "overloaded", "Service Unavailable", "out of memory", NULL);
        api_end(call);
        return;
    }
    if (tool_filters(q, a)) {
        api_problem(call, 400, "bad-query-parameter", "Bad Request",
                    "status takes all, pending or completed; priority none, low, medium, "
                    "high or urgent; at most 20 tags; search at most 200 bytes; limit 1 to 200",
                    NULL);
        api_end(call);
        return;
    }
    for (q->sort = 0; strcmp(sorts[q->sort].name, q->filter[F_SEARCH] ? "relevance" : "created_at");
         q->sort++)
        ;
    q->desc = sorts[q->sort].desc_by_default;
    q->limit = a->limit ? a->limit : LIST_DEFAULT_LIMIT;
    q->legacy = 1;
    snprintf(q->limit_text, sizeof q->limit_text, "%d", q->limit + 1);
    if (first_page(q)) {
        api_problem(call, 503, "overloaded", "Service Unavailable", "out of memory", NULL);
        api_end(call);
        return;
    }
    list_run(call, q);
}

static void on_tags(int status, struct td_db_res *res, void *arg)
{
    struct api_call *call = arg;
    if (status)
        api_db_error(call, status, res);
    else
        api_send_json(call, 200, td_db_res_value(res, 0, 0), 0);
    api_end(call);
}

static void handle_tags(struct td_http_req *req, void *arg)
{
    struct api_call *call = api_begin(arg, req);
    if (!call)
        return;
    const char *params[] = {call->user_id};
    api_exec(call, "task_tags", 1, params, on_tags);
}

const struct td_route_def api_list_routes[] = {
    {"GET", "/api/tasks", handle_list, TD_DOOR_BEARER},
    {"GET", "/api/{user_id}/tasks", handle_list, TD_DOOR_BEARER},
    {"GET", "/api/tags", handle_tags, TD_DOOR_BEARER},
    {0},
};
