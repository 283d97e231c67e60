/* The api role's internals, shared by its files only (roles never include each other). */
#ifndef TD_ROLE_API_H
#define TD_ROLE_API_H
#include <jansson.h>
#include "core/auth.h"
#include "core/db.h"
#include "core/door.h"
#include "core/http.h"
#include "core/ratelimit.h"
#include "core/svc.h"
#include "core/task.h"

#define API_SUB_MAX TD_DOOR_SUB_MAX

/* The api role's settings (chat_llm.c holds the rows). */
struct api_conf {
    char   *llm_url, *llm_model, *llm_key;
    int     llm_timeout_ms, llm_max_rounds;
    size_t  llm_max_args;
};
extern const struct td_settings_group api_settings;

struct td_curl;
struct api {
    struct td_svc       *svc;
    const struct api_conf *conf;
    struct td_curl      *curl;           /* the LLM backend's client, when configured */
    struct td_ratelimit *login_per_account;
    struct td_ratelimit *login_per_addr;
    unsigned char       *list_prepared;  /* list statements registered so far (list.c) */
    struct td_gcommit   *batcher;        /* group commit of creates (create.c) */
    json_t             **tool_schemas;   /* each tool's input schema, parsed (tools.c) */
    struct api_mcp      *mcp;            /* MCP sessions (mcp_session.c) */
    int                  inflight;   /* handlers waiting on the database */
    int                  fini_pending;   /* fini ran with calls in flight: the last frees */
    int                  schema_ok, schema_checking;
    td_done_cb           drained;
    void                *drained_arg;
};

struct api_call;
/* Where an answer goes when the call has no HTTP request (the tool layer): status as
 * HTTP would have it, the JSON text of the body (a task, a list, a problem document) or
 * NULL (204). The text is valid during the call only. */
typedef void (*api_sink_fn)(struct api_call *call, int status, const char *json, size_t len);

/* One request's context, allocated by api_begin (or api_begin_internal) and freed by
 * api_end. The operations below answer through it: to req when there is one, else to
 * sink. */
struct api_call {
    struct api         *api;
    struct td_http_req *req;            /* NULL for a call of the tool layer */
    api_sink_fn         sink;
    void               *sink_arg;
    json_t             *body;           /* the task document a write works on; owned */
    char                user_id[API_SUB_MAX];
    char                user_tz[64];
    char                traceparent[56];
    char                request_id[129];   /* X-Request-ID, for the events it causes */
    char                task_id[37];
    int                 if_match;       /* -1 when absent */
    int                 writes;         /* a method that may commit outbox rows */
    int                 flags;
    void               *extra;          /* handler-owned, freed by api_end */
    void              (*free_extra)(void *);
    int                 mode;           /* task validation mode (core/task.h) */
    void              (*with_zone)(struct api_call *call, const char *zone);
};

/* A call of a TD_DOOR_BEARER route: the door has authenticated and limited it. NULL
 * (answered) when out of memory. */
struct api_call *api_begin(struct api *api, struct td_http_req *req);
/* A call without a user (signup, login): limited by client address with limit. */
struct api_call *api_begin_anonymous(struct api *api, struct td_http_req *req,
                                     struct td_ratelimit *limit);
/* A call made by code in this process (the tool layer) for user: no HTTP request, the
 * answer goes to sink. traceparent and request_id may be NULL (a new trace, none).
 * NULL when out of memory. */
struct api_call *api_begin_internal(struct api *api, const char *user, const char *traceparent,
                                    const char *request_id, api_sink_fn sink, void *sink_arg);
void api_end(struct api_call *call);

/* Answers, to the request or the sink. api_problem writes an RFC 9457 document;
 * api_header is dropped without a request; api_respond takes the buffer's bytes (NULL or
 * empty: no body). */
void api_problem(struct api_call *call, int status, const char *slug, const char *title,
                 const char *detail, const char *extra_json);
void api_header(struct api_call *call, const char *name, const char *value);
void api_respond(struct api_call *call, int status, struct td_buf *json);

/* Answers a database failure (td_door_db_problem). */
void api_db_error(struct api_call *call, int status, struct td_db_res *res);
/* Parses a JSON object body (415 on a wrong content type, 400 on malformed JSON, 413
 * is the server's). Answers and returns NULL on failure. */
json_t *api_json_body(struct api_call *call);
/* Answers 200/201 with a JSON text produced by PostgreSQL, adding ETag when version>0. */
void api_send_json(struct api_call *call, int status, const char *json, int version);

/* ---------- operations: one per action, the REST handlers and the tool layer both call
 * them (no HTTP in between). Each answers through the call and ends it. ---------- */
/* call->body: the new task (validated here); key/hash: Idempotency-Key and the request
 * hash, or NULL. */
void api_op_create(struct api_call *call, const char *key, const char *hash);
/* call->task_id set by the caller. */
void api_op_get(struct api_call *call);
/* call->body: the members to change (mode TD_TASK_PATCH or TD_TASK_REPLACE);
 * call->if_match: the version the caller saw, or -1. */
void api_op_update(struct api_call *call, int mode);
/* Deletes one task (call->if_match as above); answers 204, or 200 with
 * {"task_id","title"} when the call has no request. */
void api_op_delete(struct api_call *call);
/* "completed" or "pending"; a task already there is answered unchanged. */
void api_op_set_status(struct api_call *call, const char *status);
void api_op_skip(struct api_call *call);
/* A list for the tool layer: status NULL/"all"/"pending"/"completed", search text, tags
 * (all of them), priority name; limit 1..200 (0: 50). Answers a JSON array of tasks. */
struct api_list_args {
    const char        *status;
    const char        *search;
    const char *const *tags;
    int                ntags;
    const char        *priority;
    int                limit;
};
void api_op_list(struct api_call *call, const struct api_list_args *a);

/* Shared by the task handlers (tasks.c, create.c). */
void  api_send_task(struct api_call *call, int status, struct td_db_res *res, int row, int col);
void  api_not_found(struct api_call *call);
/* api_begin for a /tasks/{id} route: a malformed id answers 404 (and NULL). */
struct api_call *api_begin_on_task(struct api *api, struct td_http_req *req);
/* Runs a statement for the call; on a send failure answers and ends the call. */
void  api_exec(struct api_call *call, const char *stmt, int n, const char *const *params,
               td_db_cb cb);
/* Validates call->body for mode (a core/task.h enum value); answers 4xx and returns NULL
 * on failure, else the normalised JSON text (malloc'd). */
char *api_validated_body(struct api_call *call, int mode, const char *zone);
/* A date-only due date ("2026-12-01") means midnight in the task's zone, a local date-time
 * ("2026-12-01T09:00") that time there. When call->body has one and names no time_zone,
 * this looks the zone up (the user's on create and PUT, the task's on PATCH) before
 * calling cont; otherwise cont runs at once with zone NULL. */
void  api_resolve_zone(struct api_call *call, int mode,
                       void (*cont)(struct api_call *call, const char *zone));

/* The web app (web.c): the embedded file called name, or NULL; a name's Content-Type. */
struct td_embedded_file;
const struct td_embedded_file *api_web_find(const char *name);
const char *api_web_content_type(const char *name);

/* Each file's tables (the role's rows are these, in api.c). */
extern const struct td_route_def api_auth_routes[], api_create_routes[], api_task_routes[],
    api_list_routes[], api_recurrence_routes[], api_mcp_routes[], api_webhook_routes[],
    api_web_routes[];
extern const struct td_stmt_def api_auth_stmts[], api_create_stmts[], api_task_stmts[],
    api_list_stmts[], api_zone_stmts[], api_recurrence_stmts[], api_webhook_stmts[];
/* recurrence.c: DELETE /api/tasks/{id}?series=true (tasks.c hands the call over). */
void api_series_end(struct api_call *call);
/* What cannot be a table: the group-commit queue, the list statements built per filter. */
int  api_create_init(struct api *api);
void api_create_fini(struct api *api);
int  api_prepare_list(struct api *api);
/* MCP sessions and the Origin allow-list (mcp_session.c); fini copes with a failed init. */
int  api_mcp_init(struct api *api);
void api_mcp_fini(struct api *api);

#endif
