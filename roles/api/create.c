/* POST /api/tasks: creates, with Idempotency-Key replays, and group commit: creates that
 * arrive together go to PostgreSQL as one statement, one transaction, one fsync; each
 * is still answered only after that commit. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "core/gcommit.h"
#include "core/jsonw.h"
#include "core/task.h"
#include "core/trace.h"
#include "roles/api/api.h"
#include "roles/api/task_json.h"

#define BATCH_MAX        64   /* creates in one statement */
#define BATCHES_IN_FLIGHT 2   /* while these commit, new creates gather into the next */

/* The subject as a uuid for the users index, NULL when it is not one (BetterAuth ids);
 * CASE keeps the cast from running on other text. */
#define USER_UUID(u) "CASE WHEN " u " ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' " \
                     "THEN (" u ")::uuid END"

/* A new task's columns from id, user and the validated jsonb document d. */
#define TASK_INSERT(id, user, d) \
    "INSERT INTO tasks (id, user_id, title, description, status, priority, tags, due_at, " \
    "  all_day, time_zone, recurrence, recurrence_anchor, recurrence_exdates, reminders, completed_at) " \
    "SELECT " id ", " user ", " d "->>'title', coalesce(" d "->>'description', ''), " \
    "  coalesce(" d "->>'status', 'pending'), coalesce((" d "->>'priority')::smallint, 0), " \
    "  ARRAY(SELECT jsonb_array_elements_text(coalesce(" d "->'tags', '[]'))), " \
    "  (" d "->>'due_at')::timestamptz, coalesce((" d "->>'all_day')::boolean, false), " \
    "  coalesce(" d "->>'time_zone', (SELECT time_zone FROM users WHERE id = " USER_UUID(user) "), 'UTC'), " \
    "  " d "->>'recurrence', coalesce(" d "->>'recurrence_anchor', 'schedule'), " \
    "  ARRAY(SELECT jsonb_array_elements_text(coalesce(" d "->'recurrence_exdates', '[]'))), " \
    "  coalesce(" d "->'reminders', '[]'), " \
    "  CASE WHEN " d "->>'status' = 'completed' THEN now() END "
#define ONE_TASK TASK_INSERT("$1::uuid", "$2", "d") "FROM (SELECT $3::jsonb AS d) doc "

const struct td_stmt_def api_create_stmts[] = {
    {"task_create",
     "WITH t AS (" ONE_TASK "RETURNING *), e AS (SELECT todod_emit(t, 'created', $4, $5) FROM t) "
     "SELECT " TASK_COLS("t") " FROM t, e", 0},
    /* $1: [{"id","user_id","tp","rid","d"}...] in arrival order. */
    {"task_create_batch",
     "WITH b AS (SELECT x.doc->>'id' AS id, x.doc->>'user_id' AS uid, x.doc->>'tp' AS tp, x.doc->>'rid' AS rid, "
     "  x.doc->'d' AS d, x.n FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(doc, n)), "
     "t AS (" TASK_INSERT("b.id::uuid", "b.uid", "b.d") "FROM b ORDER BY b.n RETURNING *), "
     "e AS (SELECT todod_emit(t, 'created', b.tp, b.rid) FROM t JOIN b ON b.id::uuid = t.id) "
     "SELECT " TASK_COLS("t") " FROM t WHERE (SELECT count(*) FROM e) > 0", 0},
    {"task_create_idem",
     "WITH k AS (INSERT INTO idempotency_keys (user_id, key, request_hash, task_id) "
     "  VALUES ($2, $5, $6, $1::uuid) ON CONFLICT DO NOTHING RETURNING 1), "
     "t AS (" ONE_TASK "WHERE EXISTS (SELECT 1 FROM k) RETURNING *), "
     "e AS (SELECT todod_emit(t, 'created', $4, $7) FROM t) "
     "SELECT " TASK_COLS("t") " FROM t, e", 0},
    {"task_idem_lookup",
     "SELECT k.request_hash, " TASK_COLS("t") " FROM idempotency_keys k "
     "LEFT JOIN tasks t ON t.id = k.task_id WHERE k.user_id = $1 AND k.key = $2", 0},
    {0},
};

/* ---------- create ---------- */

struct create_state {
    char *doc;
    char  hash[65];
    char  key[256];
};

static void free_create(void *p)
{
    struct create_state *c = p;
    if (c)
        free(c->doc);
    free(c);
}

static void on_idem_lookup(int status, struct td_db_res *res, void *arg)
{
    struct api_call *call = arg;
    struct create_state *c = call->extra;
    if (status) {
        api_db_error(call, status, res);
    } else if (td_db_res_rows(res) == 0) {
        /* The key's row vanished between the two statements: only an expiry could do it. */
        api_problem(call, 409, "idempotency-conflict", "Conflict", "retry the request", NULL);
    } else if (strcmp(td_db_res_value(res, 0, 0), c->hash) != 0) {
        api_problem(call, 422, "idempotency-key-reused", "Unprocessable Content",
                    "this Idempotency-Key was used with a different request body", NULL);
    } else if (!td_db_res_value(res, 0, 1)) {
        api_problem(call, 410, "task-gone", "Gone",
                    "the task created with this Idempotency-Key has been deleted", NULL);
    } else {
        api_header(call, "Idempotent-Replayed", "true");
        api_send_task(call, 201, res, 0, 1);
    }
    api_end(call);
}

static void on_created(int status, struct td_db_res *res, void *arg)
{
    struct api_call *call = arg;
    struct create_state *c = call->extra;
    if (status) {
        api_db_error(call, status, res);
        api_end(call);
        return;
    }
    if (td_db_res_rows(res) == 0 && c->key[0]) {
        /* Someone sent this key before: answer what that request created. */
        const char *params[] = {call->user_id, c->key};
        api_exec(call, "task_idem_lookup", 2, params, on_idem_lookup);
        return;
    }
    char location[128];
    snprintf(location, sizeof location, "/api/tasks/%s", call->task_id);
    api_header(call, "Location", location);
    api_send_task(call, 201, res, 0, 0);
    api_end(call);
}

static void sha256_hex(const char *data, size_t len, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)data, len, md);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* ---------- group commit (core/gcommit.h) ---------- */

static void answer_created(struct api_call *call, struct td_db_res *res, int row)
{
    char location[128];
    snprintf(location, sizeof location, "/api/tasks/%s", call->task_id);
    api_header(call, "Location", location);
    api_send_task(call, 201, res, row, 0);
    api_end(call);
}

static void on_batch(int status, struct td_db_res *res, void *arg)
{
    struct td_gcommit_batch *batch = arg;
    int n;
    void *const *calls = td_gcommit_items(batch, &n);
    int rows = status ? 0 : td_db_res_rows(res);
    for (int i = 0; i < n; i++) {
        struct api_call *call = calls[i];
        int row = -1;
        for (int r = 0; r < rows && row < 0; r++)
            if (strcmp(td_db_res_value(res, r, 0), call->task_id) == 0)
                row = r;
        if (row >= 0) {
            answer_created(call, res, row);
        } else if (n > 1 && (status == -EIO || (status == 0 && rows < n))) {
            /* One bad row fails the whole statement: each goes again alone, so only it fails. */
            td_gcommit_retry(batch, i);
        } else {   /* alone, its answer is the statement's (status 0: its row is missing) */
            api_db_error(call, status ? status : -EIO, res);
            api_end(call);
        }
    }
    td_gcommit_done(batch, 0, NULL);
}

/* [{"id":..,"user_id":..,"tp":..,"rid":..,"d":<validated doc>}, ...] */
static char *batch_doc(void *const *calls, int n)
{
    struct td_buf j = {0};
    td_buf_puts(&j, "[");
    for (int i = 0; i < n; i++) {
        struct api_call *call = calls[i];
        struct create_state *c = call->extra;
        td_buf_puts(&j, i ? ",{\"id\":\"" : "{\"id\":\"");
        td_buf_puts(&j, call->task_id);
        td_buf_puts(&j, "\",\"user_id\":");
        td_jsonw_str(&j, call->user_id, (size_t)-1);
        td_buf_puts(&j, ",\"tp\":\"");
        td_buf_puts(&j, call->traceparent);
        td_buf_puts(&j, "\",\"rid\":");
        td_jsonw_str(&j, call->request_id, (size_t)-1);
        td_buf_puts(&j, ",\"d\":");
        td_buf_puts(&j, c->doc);
        td_buf_puts(&j, "}");
    }
    td_buf_puts(&j, "]");
    return td_buf_steal(&j, NULL);
}

static int send_batch(struct td_gcommit_batch *batch, void *arg)
{
    struct api *api = arg;
    int n;
    void *const *calls = td_gcommit_items(batch, &n);
    char *doc = batch_doc(calls, n);
    const char *params[] = {doc};
    int rc = doc ? td_db_exec(api->svc->db, "task_create_batch", 1, params, on_batch, batch)
                 : -ENOMEM;
    free(doc);
    return rc;
}

/* A create handed back unsent: closing past the drain deadline, or the statement could not
 * be sent. Answered, not forgotten. */
static void give_back(void *item, int status, const char *why, void *arg)
{
    (void)why, (void)arg;
    struct api_call *call = item;
    if (status == TD_GCOMMIT_CLOSED) {
        api_header(call, "Retry-After", "1");
        api_problem(call, 503, "shutting-down", "Service Unavailable",
                    "the server is stopping; the task was not created", NULL);
    } else {
        api_db_error(call, status, NULL);
    }
    api_end(call);
}

static void enqueue_create(struct api *api, struct api_call *call)
{
    if (!api->batcher || td_gcommit_add(api->batcher, call)) {
        struct create_state *c = call->extra;   /* queue full: go alone */
        const char *params[] = {call->task_id, call->user_id, c->doc, call->traceparent,
                                call->request_id};
        api_exec(call, "task_create", 5, params, on_created);
    }
}

int api_create_init(struct api *api)
{
    struct td_gcommit_opts o = {.name = "api create", .max_batch = BATCH_MAX,
                                .max_inflight = BATCHES_IN_FLIGHT, .max_queue = BATCH_MAX * 4,
                                .send = send_batch, .back = give_back, .arg = api,
                                .log = api->svc->log, .metrics = api->svc->metrics,
                                .size_metric = "td_api_create_batch_size"};
    return td_gcommit_new(api->svc->loop, &o, &api->batcher);
}

void api_create_fini(struct api *api)
{
    td_gcommit_close(api->batcher);   /* past the drain deadline: unsent creates get a 503 */
    api->batcher = NULL;
}

static void create_in_zone(struct api_call *call, const char *zone)
{
    struct create_state *c = call->extra;
    if (!(c->doc = api_validated_body(call, TD_TASK_CREATE, zone))) {
        api_end(call);
        return;
    }
    td_uuid_v4(call->task_id);
    if (!c->key[0]) {
        enqueue_create(call->api, call);
        return;
    }
    const char *params[] = {call->task_id, call->user_id, c->doc, call->traceparent, c->key,
                            c->hash, call->request_id};
    api_exec(call, "task_create_idem", 7, params, on_created);
}

void api_op_create(struct api_call *call, const char *key, const char *hash)
{
    struct create_state *c = calloc(1, sizeof *c);
    if (!c) {
        api_problem(call, 503, "overloaded", "Service Unavailable", "out of memory", NULL);
        api_end(call);
        return;
    }
    call->extra = c;
    call->free_extra = free_create;
    if (key && hash) {
        snprintf(c->key, sizeof c->key, "%s", key);
        snprintf(c->hash, sizeof c->hash, "%s", hash);
    }
    api_resolve_zone(call, TD_TASK_CREATE, create_in_zone);
}

static void handle_create(struct td_http_req *req, void *arg)
{
    struct api_call *call = api_begin(arg, req);
    if (!call)
        return;
    const char *key = td_http_header(req, "idempotency-key");
    if (key && (!*key || strlen(key) >= sizeof ((struct create_state *)0)->key)) {
        td_http_problem(req, 400, "bad-idempotency-key", "Bad Request",
                        "Idempotency-Key must be 1 to 255 characters", NULL);
        api_end(call);
        return;
    }
    if (!(call->body = api_json_body(call))) {
        api_end(call);
        return;
    }
    char hash[65];
    if (key) {
        size_t len;
        const char *body = td_http_body(req, &len);
        sha256_hex(body, len, hash);
    }
    api_op_create(call, key, key ? hash : NULL);
}

const struct td_route_def api_create_routes[] = {
    {"POST", "/api/tasks", handle_create, TD_DOOR_BEARER},
    {"POST", "/api/{user_id}/tasks", handle_create, TD_DOOR_BEARER},
    {0},
};
