/* The sync role's routes: GET /ws (origin, then a ticket or a bearer token, then the
 * upgrade and the resume) and POST /api/ws-ticket (behind the /api door). */
#include "roles/sync/sync.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <openssl/rand.h>

#include "core/base64.h"
#include "core/db.h"
#include "core/door.h"
#include "core/http.h"
#include "core/http_auth.h"


const struct td_stmt_def sync_route_stmts[] = {
    {"sync_ticket_issue", "SELECT todod_ws_ticket_issue($1, $2, $3::integer)", 3},
    {"sync_ticket_redeem", "SELECT todod_ws_ticket_redeem($1)", 1},
    {"sync_resume", "SELECT todod_sync_resume($1, $2::bigint)", 2},
    {0},
};

/* ---------- origins ---------- */

static int same_origin(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    while (alen && a[alen - 1] == '/')
        alen--;
    while (blen && b[blen - 1] == '/')
        blen--;
    return alen == blen && strncasecmp(a, b, alen) == 0;
}

int sync_origin_allowed(const char *list, const char *origin, const char *host)
{
    if (!origin)
        return 1;   /* not a browser: Origin guards against other sites' pages only */
    if (!list) {
        if (!host || !*host)
            return 0;
        const char *rest = !strncasecmp(origin, "http://", 7)    ? origin + 7
                           : !strncasecmp(origin, "https://", 8) ? origin + 8
                                                                 : NULL;
        return rest && same_origin(host, strlen(host), rest);
    }
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *end = e;
        while (end > p && end[-1] == ' ')
            end--;
        if ((end - p == 1 && *p == '*') || (end > p && same_origin(p, (size_t)(end - p), origin)))
            return 1;
        p = e;
    }
    return 0;
}

/* ---------- GET /ws ---------- */

struct ws_start {
    struct sync        *s;
    struct td_http_req *req;
    long long           since;   /* -1: none */
};

static void send_frame(struct sync_client *c, const char *fmt, long long n)
{
    char text[64];
    int k = snprintf(text, sizeof text, fmt, n);
    if (c->ws)
        td_ws_send_text(c->ws, text, (size_t)k);
}

/* The hello, what was missed (or resync), then the live updates that waited. */
static void on_resumed(int status, struct td_db_res *res, void *arg)
{
    struct sync_client *c = arg;
    if (!c->ws) {   /* the client left meanwhile */
        sync_client_unref(c);
        return;
    }
    const char *v = status == 0 ? td_db_res_value(res, 0, 0) : NULL;
    json_t *r = v ? json_loads(v, 0, NULL) : NULL;
    if (!r) {
        td_log_warn(c->s->svc->log, "sync: resume failed: %s",
                    res ? td_db_res_error(res) : "the database is not there");
        td_ws_close(c->ws, TD_WS_INTERNAL, "try again");
        sync_client_unref(c);
        return;
    }
    long long latest = json_integer_value(json_object_get(r, "seq"));
    json_t *updates = json_object_get(r, "updates");
    /* A backlog larger than half the queue would only get the client closed: resync. */
    size_t total = 0, i;
    json_t *u;
    char **frames = NULL;
    long long *seqs = NULL;
    size_t n = json_array_size(updates);
    int resync = json_is_true(json_object_get(r, "resync"));
    if (n && !resync) {
        frames = calloc(n, sizeof *frames);
        seqs = calloc(n, sizeof *seqs);
        if (!frames || !seqs)
            resync = 1;
        json_array_foreach(updates, i, u) {
            if (resync)
                break;
            frames[i] = sync_task_frame(u, &seqs[i]);
            if (!frames[i] || (total += strlen(frames[i])) > c->s->conf->queue_max / 2)
                resync = 1;
        }
    }
    send_frame(c, "{\"type\":\"hello\",\"seq\":%lld}", latest);
    if (resync)
        send_frame(c, "{\"type\":\"resync\",\"seq\":%lld}", latest);
    for (i = 0; !resync && i < n && c->ws; i++) {
        td_ws_send_text(c->ws, frames[i], strlen(frames[i]));
        c->s->fanned++;
    }
    for (i = 0; frames && i < n; i++)
        free(frames[i]);
    free(frames);
    free(seqs);
    json_decref(r);
    if (latest > c->sent_seq)
        c->sent_seq = latest;
    if (c->ws)
        sync_client_ready(c);
    sync_client_unref(c);
}

/* Authenticated as uid: take the connection and resume. */
static void start_client(struct sync *s, struct td_http_req *req, const char *uid, long long since)
{
    struct sync_client *c = calloc(1, sizeof *c);
    if (!c) {
        td_http_problem(req, 503, "overloaded", "Service Unavailable", "out of memory", NULL);
        return;
    }
    c->s = s;
    c->sent_seq = -1;
    c->refs = 2;   /* the connection, and this function: the connection may end inside accept */
    char sincebuf[24];
    if (since >= 0)
        snprintf(sincebuf, sizeof sincebuf, "%lld", since);
    char who[TD_DOOR_SUB_MAX];
    snprintf(who, sizeof who, "%s", uid);
    if (td_ws_accept(s->ws, req, sync_client_closed, c, &c->ws) != 0) {
        free(c);   /* on failure the callback never runs */
        return;
    }
    /* req is gone: who holds the user id now. */
    if (!c->ws) {
        /* gone already */
    } else if (sync_attach(s, c, who) != 0) {
        td_ws_close(c->ws, TD_WS_INTERNAL, "out of memory");
    } else {
        const char *p[] = {who, since >= 0 ? sincebuf : NULL};
        c->refs++;
        if (td_db_exec(s->svc->db, "sync_resume", 2, p, on_resumed, c) != 0) {
            c->refs--;
            td_ws_close(c->ws, TD_WS_INTERNAL, "try again");
        }
    }
    sync_client_unref(c);
}

static void unauthorized(struct td_http_req *req, const char *detail)
{
    td_http_add_header(req, "WWW-Authenticate", "Bearer");
    td_http_problem(req, 401, "unauthorized", "Unauthorized", detail, NULL);
}

static void on_redeemed(int status, struct td_db_res *res, void *arg)
{
    struct ws_start *w = arg;
    const char *uid = status == 0 && td_db_res_rows(res) > 0 ? td_db_res_value(res, 0, 0) : NULL;
    if (status)
        td_door_db_problem(w->req, status, res, w->s->svc->log);
    else if (!uid || !*uid)
        unauthorized(w->req, "the ticket is unknown, used or expired");
    else
        start_client(w->s, w->req, uid, w->since);
    free(w);
}

static void ws_route(struct td_http_req *req, void *state)
{
    struct sync *s = state;
    if (td_ws_check(req) != 0)
        return;
    if (!sync_origin_allowed(s->conf->ws_origins, td_http_header(req, "origin"),
                             td_http_header(req, "host"))) {
        td_http_problem(req, 403, "origin-not-allowed", "Forbidden",
                        "this Origin may not open a WebSocket here (--ws-origins)", NULL);
        return;
    }
    long long since = -1;
    const char *sv = td_http_query_param(req, "since", 0);
    if (sv) {
        char *end;
        errno = 0;
        since = strtoll(sv, &end, 10);
        if (!*sv || *end || errno || since < 0 || (*sv < '0' || *sv > '9')) {
            td_http_problem(req, 400, "invalid-query", "Bad Request",
                            "query parameter since: expected a non-negative integer", NULL);
            return;
        }
    }
    const char *ticket = td_http_query_param(req, "ticket", 0);
    if (ticket) {
        struct ws_start *w = malloc(sizeof *w);
        if (!w) {
            td_http_problem(req, 503, "overloaded", "Service Unavailable", "out of memory", NULL);
            return;
        }
        *w = (struct ws_start){s, req, since};
        const char *p[] = {ticket};
        int rc = td_db_exec(s->svc->db, "sync_ticket_redeem", 1, p, on_redeemed, w);
        if (rc) {
            free(w);
            td_door_db_problem(req, rc, NULL, s->svc->log);
        }
        return;
    }
    if (!td_http_header(req, "authorization") || !s->svc->door) {
        unauthorized(req, "a ticket (POST /api/ws-ticket) or a bearer token is required");
        return;
    }
    /* The bearer check every /api route gets at the door (401 with its reason). */
    char sub[TD_DOOR_SUB_MAX];
    enum td_auth_error why;
    if (td_http_bearer(req, td_door_auth(s->svc->door), sub, sizeof sub, &why) == 0)
        start_client(s, req, sub, since);
}

/* ---------- POST /api/ws-ticket ---------- */

struct ticket_call {
    struct sync        *s;
    struct td_http_req *req;
    char                ticket[48];
};

static void on_issued(int status, struct td_db_res *res, void *arg)
{
    struct ticket_call *t = arg;
    if (status) {
        td_door_db_problem(t->req, status, res, t->s->svc->log);
    } else {
        char body[128];
        int k = snprintf(body, sizeof body, "{\"ticket\":\"%s\",\"expires_in\":%d}", t->ticket,
                         SYNC_TICKET_TTL_S);
        td_http_respond(t->req, 201, "application/json", body, (size_t)k);
    }
    free(t);
}

static void ticket_route(struct td_http_req *req, void *state)
{
    struct sync *s = state;
    struct ticket_call *t = calloc(1, sizeof *t);
    unsigned char raw[24];
    if (!t || RAND_bytes(raw, sizeof raw) != 1) {
        free(t);
        td_http_problem(req, 503, "overloaded", "Service Unavailable", "no ticket now", NULL);
        return;
    }
    t->s = s;
    t->req = req;
    td_base64_encode(raw, sizeof raw, t->ticket, 1);
    char ttl[16];
    snprintf(ttl, sizeof ttl, "%d", SYNC_TICKET_TTL_S);
    const char *p[] = {td_door_subject(req), t->ticket, ttl};
    int rc = td_db_exec(s->svc->db, "sync_ticket_issue", 3, p, on_issued, t);
    if (rc) {
        free(t);
        td_door_db_problem(req, rc, NULL, s->svc->log);
    }
}

const struct td_route_def sync_route_rows[] = {
    {"GET", "/ws", ws_route, 0},
    {"POST", "/api/ws-ticket", ticket_route, TD_DOOR_BEARER},
    {0},
};
