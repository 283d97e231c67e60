/* The sync role's hooks, settings, its users' connections and the two broadcast
 * consumers (task-updates, reminders). See sync.h. */
#include "roles/sync/sync.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/bus.h"
#include "core/db.h"
#include "core/failpoint.h"

#define CONF(field) offsetof(struct sync_conf, field)
static int check_conf(void *block, int argc, char **argv, char *err, size_t errlen)
{
    struct sync_conf *c = block;
    (void)argc;
    (void)argv;
    if (c->idle_timeout_ms <= c->ping_interval_ms) {
        snprintf(err, errlen, "--ws-idle-timeout must be longer than --ws-ping-interval");
        return -EINVAL;
    }
    return 0;
}
static const struct td_setting sync_rows[] = {
    {"ws-origins", "TODOD_WS_ORIGINS", "ORIGINS", TD_SET_STRING, CONF(ws_origins), 0, 0, NULL, NULL,
     "sync: origins allowed to open /ws, comma-separated (\"*\": any); default the server's "
     "own (scheme://Host of the request)", NULL, NULL},
    {"ws-max-message", "TODOD_WS_MAX_MESSAGE", "SIZE", TD_SET_SIZE, CONF(max_message), 125,
     16777216, "64KiB", NULL, "sync: longest client frame or message; longer closes with 1009",
     "expected a size from 125 bytes to 16MiB", NULL},
    {"ws-ping-interval", "TODOD_WS_PING_INTERVAL", "DURATION", TD_SET_DURATION,
     CONF(ping_interval_ms), 50, 3600000, "30s", NULL, "sync: how often each client is pinged",
     "expected a duration from 50ms to 60m", NULL},
    {"ws-idle-timeout", "TODOD_WS_IDLE_TIMEOUT", "DURATION", TD_SET_DURATION,
     CONF(idle_timeout_ms), 100, 7200000, "75s", NULL,
     "sync: a client heard nothing from (pongs included) this long is closed with 1001",
     "expected a duration from 100ms to 120m", NULL},
    {"ws-queue-max", "TODOD_WS_QUEUE_MAX", "SIZE", TD_SET_SIZE, CONF(queue_max), 4096,
     268435456, "1MiB", NULL,
     "sync: bytes waiting for one client that does not read; past it the client is closed with 1008",
     "expected a size from 4KiB to 256MiB", NULL},
    {"ws-max-connections", "TODOD_WS_MAX_CONNECTIONS", "N", TD_SET_INT, CONF(max_connections), 1,
     1000000, "100000", NULL,
     "sync: WebSockets open at once on this process; past it an upgrade is answered 503",
     "expected a number from 1 to 1000000", NULL},
    {0},
};
const struct td_settings_group sync_settings = {
    .name = "sync", .rows = sync_rows, .block_size = sizeof(struct sync_conf), .check = check_conf,
};

/* ---------- users and their connections ---------- */

struct sync_pending {
    struct td_ws_msg    *m;
    long long            seq;
    struct sync_pending *next;
};

static unsigned hash_id(const char *id)
{
    unsigned h = 2166136261u;
    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 16777619u;
    return h % SYNC_BUCKETS;
}

struct sync_user *sync_user_find(struct sync *s, const char *id)
{
    for (struct sync_user *u = s->buckets[hash_id(id)]; u; u = u->next)
        if (strcmp(u->id, id) == 0)
            return u;
    return NULL;
}

int sync_attach(struct sync *s, struct sync_client *c, const char *user_id)
{
    struct sync_user *u = sync_user_find(s, user_id);
    if (!u) {
        if (!(u = calloc(1, sizeof *u)) || !(u->id = strdup(user_id))) {
            free(u);
            return -ENOMEM;
        }
        unsigned b = hash_id(user_id);
        u->next = s->buckets[b];
        s->buckets[b] = u;
    }
    c->user = u;
    c->prev = NULL;
    c->next = u->clients;
    if (u->clients)
        u->clients->prev = c;
    u->clients = c;
    return 0;
}

static void user_drop_if_empty(struct sync *s, struct sync_user *u)
{
    if (u->clients)
        return;
    struct sync_user **pp = &s->buckets[hash_id(u->id)];
    while (*pp != u)
        pp = &(*pp)->next;
    *pp = u->next;
    free(u->id);
    free(u);
}

static void pending_drop(struct sync_client *c)
{
    while (c->pending) {
        struct sync_pending *p = c->pending;
        c->pending = p->next;
        td_ws_msg_unref(p->m);
        free(p);
    }
    c->pending_tail = NULL;
}

/* Takes c off its user's list (the connection is gone). */
static void client_detach(struct sync_client *c)
{
    struct sync_user *u = c->user;
    c->ws = NULL;
    if (!u)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        u->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->user = NULL;
    c->ws = NULL;
    pending_drop(c);
    user_drop_if_empty(c->s, u);
}

void sync_client_unref(struct sync_client *c)
{
    if (--c->refs > 0)
        return;
    pending_drop(c);
    free(c);
}

void sync_client_update(struct sync_client *c, struct td_ws_msg *m, long long seq)
{
    if (!c->ws)
        return;
    if (!c->ready) {   /* the resume answer decides what is new */
        struct sync_pending *p = malloc(sizeof *p);
        if (!p) {
            td_ws_close(c->ws, TD_WS_INTERNAL, "out of memory");
            return;
        }
        *p = (struct sync_pending){td_ws_msg_ref(m), seq, NULL};
        if (c->pending_tail)
            c->pending_tail->next = p;
        else
            c->pending = p;
        c->pending_tail = p;
        return;
    }
    if (seq && seq <= c->sent_seq)
        return;   /* sent already (a redelivery, or during the resume) */
    if (seq)
        c->sent_seq = seq;
    c->s->fanned++;
    td_ws_send(c->ws, m);
}

/* After the hello and what was missed: the live updates that waited. */
void sync_client_ready(struct sync_client *c)
{
    c->ready = 1;
    struct sync_pending *p = c->pending;
    c->pending = c->pending_tail = NULL;
    while (p) {
        struct sync_pending *next = p->next;
        sync_client_update(c, p->m, p->seq);
        td_ws_msg_unref(p->m);
        free(p);
        p = next;
    }
}

/* The connection is gone (core/ws.h td_ws_closed_fn). */
void sync_client_closed(struct td_ws_conn *ws, int code, void *arg)
{
    struct sync_client *c = arg;
    (void)ws;
    (void)code;
    client_detach(c);
    sync_client_unref(c);
}

/* Every connection of the user on this process gets m (seq: an update's number, 0 for a
 * notification). */
static void fan_out(struct sync *s, const char *uid, struct td_ws_msg *m, long long seq)
{
    struct sync_user *u = sync_user_find(s, uid);
    struct sync_client *c = u ? u->clients : NULL;
    while (c) {
        /* Sending may end c (and, were it the last, its user): take the next one first. */
        struct sync_client *next = c->next;
        sync_client_update(c, m, seq);
        c = next;
    }
}

char *sync_task_frame(json_t *data, long long *seq)
{
    json_t *n = json_object_get(data, "seq");
    json_t *et = json_object_get(data, "event_type");
    json_t *id = json_object_get(data, "task_id");
    if (!json_is_integer(n) || !json_is_string(et) || !json_is_string(id))
        return NULL;
    *seq = (long long)json_integer_value(n);
    json_t *f = json_pack("{s:s,s:O,s:O,s:O}", "type", "task", "seq", n, "event_type", et,
                          "task_id", id);
    json_t *task = json_object_get(data, "task");
    if (f && json_is_object(task))
        json_object_set(f, "task", task);
    char *text = f ? json_dumps(f, JSON_COMPACT) : NULL;
    json_decref(f);
    return text;
}

/* ---------- the consumers ---------- */

static void on_update(const struct td_bus_msg *msg, struct td_bus_delivery *d, void *arg)
{
    struct sync *s = arg;
    /* The key is the user: most updates are for users with no connection here. */
    if (!msg->key || !sync_user_find(s, msg->key)) {
        td_bus_done(d, 0, NULL);
        return;
    }
    json_t *root = json_loadb(msg->value, msg->len, 0, NULL);
    json_t *data = json_object_get(root, "data");
    const char *uid = json_string_value(json_object_get(data, "user_id"));
    if (!uid)
        uid = msg->key;
    long long seq = 0;
    /* Nothing to do unless this process has a connection of that user. */
    if (uid && sync_user_find(s, uid)) {
        char *text = sync_task_frame(data, &seq);
        struct td_ws_msg *m = text ? td_ws_msg_new(text, strlen(text)) : NULL;
        if (m)
            fan_out(s, uid, m, seq);
        else
            td_log_warn(s->svc->log, "sync: task-updates offset %lld is not an update",
                        (long long)msg->offset);
        td_ws_msg_unref(m);
        free(text);
    }
    json_decref(root);
    td_bus_done(d, 0, NULL);   /* a broadcast: nothing to retry, nothing to dead-letter */
}

struct notif_call {
    struct sync *s;
    char         uid[];
};

static void on_notification(int status, struct td_db_res *res, void *arg)
{
    struct notif_call *n = arg;
    const char *item = status == 0 && td_db_res_rows(res) > 0 ? td_db_res_value(res, 0, 0) : NULL;
    if (item && !n->s->stopping) {
        size_t len = strlen(item) + 40;
        char *text = malloc(len);
        if (text) {
            int k = snprintf(text, len, "{\"type\":\"notification\",\"notification\":%s}", item);
            struct td_ws_msg *m = td_ws_msg_new(text, (size_t)k);
            if (m)
                fan_out(n->s, n->uid, m, 0);
            td_ws_msg_unref(m);
            free(text);
        }
    }
    free(n);
}

static void on_reminder(const struct td_bus_msg *msg, struct td_bus_delivery *d, void *arg)
{
    struct sync *s = arg;
    json_t *root = json_loadb(msg->value, msg->len, 0, NULL);
    json_t *data = json_object_get(root, "data");
    const char *uid = json_string_value(json_object_get(data, "user_id"));
    const char *kind = json_string_value(json_object_get(data, "event_type"));
    const char *channel = json_string_value(json_object_get(data, "notification_type"));
    const char *rid = json_string_value(json_object_get(data, "reminder_id"));
    if (uid && rid && kind && channel && !strcmp(kind, "reminder_triggered") &&
        !strcmp(channel, "in_app") && sync_user_find(s, uid)) {
        /* The item as GET /api/notifications lists it: from its row. */
        size_t ul = strlen(uid);
        struct notif_call *n = malloc(sizeof *n + ul + 1);
        if (n) {
            n->s = s;
            memcpy(n->uid, uid, ul + 1);
            const char *p[] = {rid, uid};
            if (td_db_exec(s->svc->db, "sync_notification", 2, p, on_notification, n) != 0)
                free(n);
        }
    }
    json_decref(root);
    td_bus_done(d, 0, NULL);
}

/* ---------- hooks ---------- */

/* Each process is a consumer group of its own: every replica gets every update. */
static char sync_group[128] = "todod-sync";

static const struct td_stmt_def sync_stmts_rows[] = {
    {"sync_notification",
     "SELECT jsonb_build_object('id', id, 'reminder_id', reminder_id, 'task_id', task_id, "
     "'title', title, 'channel', 'in_app', 'due_at', todod_ts(due_at), "
     "'remind_at', todod_ts(remind_at), 'late', late, 'created_at', todod_ts(created_at), "
     "'read', read_at IS NOT NULL, 'read_at', todod_ts(read_at))::text "
     "FROM notifications WHERE reminder_id = $1::uuid AND user_id = $2", 2},
    {0},
};
static const struct td_stmt_def *const sync_stmts[] = {sync_stmts_rows, sync_route_stmts, NULL};
static const struct td_route_def *const sync_routes[] = {sync_route_rows, NULL};
static const struct td_sub_def sync_subs[] = {
    {"task-updates", sync_group, on_update, 1},
    {"reminders", sync_group, on_reminder, 1},
    {0},
};

static int sync_init(struct td_svc *svc, void *state)
{
    struct sync *s = state;
    s->svc = svc;
    s->conf = td_config_group(svc->cfg, &sync_settings);
    if (!s->conf)
        return -EINVAL;
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    snprintf(sync_group, sizeof sync_group, "todod-sync-%s-%ld", host, (long)getpid());
    struct td_ws_opts o = {
        .max_message = s->conf->max_message,
        .ping_interval_ms = s->conf->ping_interval_ms,
        .idle_timeout_ms = s->conf->idle_timeout_ms,
        .queue_max = s->conf->queue_max,
        .max_connections = s->conf->max_connections,
        .log = svc->log,
        .metrics = svc->metrics,
    };
    int rc = td_ws_new(svc->loop, &o, &s->ws);
    if (rc)
        return rc;
    return td_failpoint("sync.init");
}

static void on_ws_shut(void *arg)
{
    struct sync *s = arg;
    td_done_cb done = s->drain_done;
    s->drain_done = NULL;
    if (done)
        done(s->drain_arg);
}

/* SIGTERM: every client is closed with 1001 (going away) and may reconnect elsewhere. */
static void sync_drain(void *state, td_done_cb done, void *arg)
{
    struct sync *s = state;
    s->drain_done = done;
    s->drain_arg = arg;
    if (s->ws)
        td_ws_shutdown(s->ws, on_ws_shut, s);
    else
        on_ws_shut(s);
}

static void sync_fini(void *state)
{
    struct sync *s = state;
    s->stopping = 1;
    s->drain_done = NULL;
    if (s->ws) {
        /* Without a drain (the deadline passed): say going away, then cut. */
        td_ws_shutdown(s->ws, NULL, NULL);
        td_ws_free(s->ws);
        s->ws = NULL;
    }
    for (int b = 0; b < SYNC_BUCKETS; b++) {
        while (s->buckets[b]) {
            struct sync_user *u = s->buckets[b];
            while (u->clients) {
                struct sync_client *c = u->clients;
                client_detach(c);   /* may free u when it was the last */
                sync_client_unref(c);
                if (s->buckets[b] != u)
                    break;
            }
        }
    }
}

static int sync_health(void *state, struct td_health *out)
{
    (void)state;
    out->ok = 1;
    return 0;
}

const struct td_role td_role_sync = {
    .name = "sync",
    .needs = TD_NEED_DB | TD_NEED_BUS | TD_NEED_HTTP,
    .state_size = sizeof(struct sync),
    .routes = sync_routes,
    .subs = sync_subs,
    .stmts = sync_stmts,
    .settings = &sync_settings,
    .init = sync_init,
    .drain = sync_drain,
    .fini = sync_fini,
    .health = sync_health,
};
